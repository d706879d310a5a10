import { describe, expect, it } from "vitest";
import { KeyRing, type SigningKey } from "../../contract/KeyRing";
import { makeKey } from "../support/edge";

const first = makeKey("2026-11");
const second = makeKey("2026-10");
const MESSAGE = new TextEncoder().encode("header.payload");

/** An HMAC of `MESSAGE` with `key`, hex. */
async function hmac(key: CryptoKey): Promise<string> {
  return Buffer.from(await crypto.subtle.sign("HMAC", key, MESSAGE)).toString("hex");
}

describe("KeyRing.create", () => {
  it.each([
    ["no keys", [], /At least one/],
    ["a short secret", [{ kid: "k", secret: new Uint8Array(16) }], /shorter than 32/],
    ["a bad kid", [{ kid: "a b", secret: new Uint8Array(32) }], /not valid/],
    ["a repeated kid", [first, { ...second, kid: first.kid }], /twice/],
  ])("refuses %s", async (_what, keys, message) => {
    await expect(KeyRing.create(keys)).rejects.toThrow(message);
  });

  it("signs with the first key", async () => {
    expect((await KeyRing.create([first, second])).signingKid).toBe("2026-11");
  });
});

describe("KeyRing.create, further", () => {
  it.each([["a"], ["2026-11.v2_rotated"], ["k".repeat(64)]])("accepts the kid %s", async (kid) => {
    expect((await KeyRing.create([{ kid, secret: new Uint8Array(32) }])).signingKid).toBe(kid);
  });

  it.each([
    ["an empty kid", ""],
    ["a kid of 65 characters", "k".repeat(65)],
    ["a slash", "kid/1"],
    ["a non-ASCII kid", "clé"],
  ])("refuses %s", async (_what, kid) => {
    await expect(KeyRing.create([{ kid, secret: new Uint8Array(32) }])).rejects.toThrow(/not valid/);
  });

  it("accepts a secret of exactly 32 bytes and refuses one of 31", async () => {
    await expect(KeyRing.create([{ kid: "k", secret: new Uint8Array(32) }])).resolves.toBeInstanceOf(KeyRing);
    await expect(KeyRing.create([{ kid: "k", secret: new Uint8Array(31) }])).rejects.toThrow(
      /shorter than 32/,
    );
  });

  it("refuses the whole ring when a later key is bad, not only that key", async () => {
    const short: SigningKey = { kid: "old", secret: new Uint8Array(8) };
    await expect(KeyRing.create([first, short])).rejects.toThrow(/"old" is shorter/);
  });
});

describe("KeyRing keys", () => {
  it("verifies with every configured key and signs with the first", async () => {
    // Prepare
    const ring = await KeyRing.create([first, second]);
    const previous = await KeyRing.create([second]);

    // Act
    const signedNow = await hmac(ring.signingKey);
    const signedBefore = await hmac(previous.signingKey);

    // Assess: each kid's key is that kid's secret, and the first signs
    expect(signedNow).toBe(await hmac(ring.verificationKey(first.kid) as CryptoKey));
    expect(signedBefore).toBe(await hmac(ring.verificationKey(second.kid) as CryptoKey));
    expect(signedNow).not.toBe(signedBefore);
  });

  it.each([
    ["no kid", undefined],
    ["an unknown kid", "2026-09"],
    ["a kid differing in one character", "2026_11"],
  ])("has no key for %s", async (_what, kid) => {
    const ring = await KeyRing.create([first, second]);
    expect(ring.verificationKey(kid)).toBeUndefined();
  });

  it("keeps its keys unexportable, and unchanged when the configured bytes change later", async () => {
    // Prepare
    const secret = new Uint8Array(first.secret);
    const ring = await KeyRing.create([{ kid: "k", secret }]);
    const before = await hmac(ring.signingKey);

    // Act
    secret.fill(0);

    // Assess
    expect(ring.signingKey.extractable).toBe(false);
    expect(await hmac(ring.signingKey)).toBe(before);
    await expect(crypto.subtle.exportKey("raw", ring.signingKey)).rejects.toThrow();
  });
});
