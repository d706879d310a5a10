import { decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { KeyRing, type SigningKey } from "../../contract/KeyRing";
import { signAccessToken, signGrant, verifyAccessToken, verifyGrant } from "../../contract/tokens";
import { ENTRY, makeKey, OTHER_ENTRY } from "../support/edge";

const NOW = 1_795_000_000;
const current = makeKey("2026-11");
const previous = makeKey("2026-10");
/** The path grants below are minted for: the entry's images. */
const IMAGES_PATH = `/api/journals/${ENTRY.journalId}/entries/${ENTRY.entryId}/images`;
const GET_ENTRY = { ...ENTRY, method: "GET", path: IMAGES_PATH } as const;
let ring: KeyRing;

beforeAll(async () => {
  ring = await KeyRing.create([current, previous]);
});

/** A JWT signed with `key`'s real secret, with exactly these claims and header (for malformed tokens). */
async function handSigned(
  claims: Record<string, unknown>,
  { key = current, header = {} }: { key?: SigningKey; header?: Record<string, unknown> } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", kid: key.kid, typ: "JWT", ...header })
    .sign(key.secret);
}

/** The claims of a valid viewer token at `NOW`, for one change at a time. */
function viewerClaims(change: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: "image-gateway",
    aud: "image-gateway:viewer",
    jid: ENTRY.journalId,
    eid: ENTRY.entryId,
    iat: NOW,
    exp: NOW + 300,
    ...change,
  };
}

describe("signAccessToken", () => {
  it("signs an HS256 viewer token for the entry with the first key, verifiable back", async () => {
    // Act
    const { token, expiresAt } = await signAccessToken(ring, ENTRY, 300, NOW + 0.75);

    // Assess
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", kid: "2026-11", typ: "JWT" });
    expect(decodeJwt(token)).toEqual(viewerClaims());
    expect(expiresAt).toBe(NOW + 300);
    await expect(verifyAccessToken(ring, token, NOW)).resolves.toEqual({ ...ENTRY, expiresAt: NOW + 300 });
  });

  it.each([
    [300, 300],
    [3600, 3600],
    [3601, 3600],
    [86_400, 3600],
    [299.9, 299],
    [0, 1],
    [-60, 1],
  ])("gives a token asked to live %s s a lifetime of %i s", async (ttl, lifetime) => {
    // Act
    const { token, expiresAt } = await signAccessToken(ring, ENTRY, ttl, NOW);

    // Assess
    expect(expiresAt - NOW).toBe(lifetime);
    expect(decodeJwt(token).exp).toBe(NOW + lifetime);
  });
});

describe("verifyAccessToken", () => {
  it.each([
    ["well before expiry", 299, "valid"],
    ["at the expiry second, within the 5 s tolerance", 300, "valid"],
    ["4 s after expiry", 304, "valid"],
    ["5 s after expiry", 305, "token_expired"],
    ["an hour after expiry", 3900, "token_expired"],
    ["5 s before it was issued (clock skew)", -5, "valid"],
    ["6 s before it was issued", -6, "invalid_token"],
  ])("judges a 300 s token %s", async (_when, offset, outcome) => {
    // Prepare
    const { token } = await signAccessToken(ring, ENTRY, 300, NOW);

    // Act
    const verified = verifyAccessToken(ring, token, NOW + offset);

    // Assess
    if (outcome === "valid") await expect(verified).resolves.toMatchObject(ENTRY);
    else await expect(verified).rejects.toMatchObject({ status: 401, code: outcome });
  });

  it("verifies a token of the previous key after rotation, and refuses it once that key is retired", async () => {
    // Prepare
    const before = await KeyRing.create([previous]);
    const { token } = await signAccessToken(before, ENTRY, 300, NOW);
    const retired = await KeyRing.create([current]);

    // Act
    const during = await verifyAccessToken(ring, token, NOW).catch((error: unknown) => error);
    const after = await verifyAccessToken(retired, token, NOW).catch((error: unknown) => error);

    // Assess
    expect(during).toMatchObject(ENTRY);
    expect(after).toMatchObject({ status: 401, code: "invalid_token" });
  });

  it("refuses a token whose kid names a key with another secret", async () => {
    const impostor = { kid: current.kid, secret: makeKey("x").secret };
    const { token } = await signAccessToken(await KeyRing.create([impostor]), ENTRY, 300, NOW);
    await expect(verifyAccessToken(ring, token, NOW)).rejects.toMatchObject({ code: "invalid_token" });
  });

  it("refuses a grant: a grant is not a viewer token", async () => {
    // Prepare
    const { token } = await signGrant(ring, GET_ENTRY, NOW);

    // Act
    const verified = verifyAccessToken(ring, token, NOW);

    // Assess
    await expect(verified).rejects.toMatchObject({ status: 401, code: "invalid_token" });
  });

  it.each([
    ["a lifetime of 3601 s", viewerClaims({ exp: NOW + 3601 })],
    ["a numeric jid", viewerClaims({ jid: 42 })],
    ["an eid outside the id grammar", viewerClaims({ eid: "entry/1" })],
    ["no eid", viewerClaims({ eid: undefined })],
    ["no iat", viewerClaims({ iat: undefined })],
    ["a string exp", viewerClaims({ exp: String(NOW + 300) })],
    ["an audience list holding the origin's too", viewerClaims({ aud: ["image-gateway:origin"] })],
    ["another issuer", viewerClaims({ iss: "notes-app" })],
  ])("refuses a token with %s, signed with our own key", async (_what, claims) => {
    await expect(verifyAccessToken(ring, await handSigned(claims), NOW)).rejects.toMatchObject({
      status: 401,
      code: "invalid_token",
    });
  });

  it("accepts the same hand-signed claims unchanged, so each refusal above is that change's", async () => {
    await expect(verifyAccessToken(ring, await handSigned(viewerClaims()), NOW)).resolves.toEqual({
      ...ENTRY,
      expiresAt: NOW + 300,
    });
  });

  it.each([
    ["an empty string", ""],
    ["garbage", "not-a-token"],
    ["three empty parts", ".."],
  ])("refuses %s", async (_what, token) => {
    await expect(verifyAccessToken(ring, token, NOW)).rejects.toMatchObject({ code: "invalid_token" });
  });
});

describe("signGrant and verifyGrant", () => {
  it("signs a grant for one method on one path that lives 60 s, and verifies it for exactly that", async () => {
    // Act
    const { token, expiresAt } = await signGrant(
      ring,
      { ...ENTRY, method: "DELETE", path: IMAGES_PATH },
      NOW,
    );

    // Assess
    expect(expiresAt).toBe(NOW + 60);
    expect(decodeJwt(token)).toMatchObject({
      aud: "image-gateway:origin",
      method: "DELETE",
      path: IMAGES_PATH,
      exp: NOW + 60,
    });
    const expected = { ...ENTRY, method: "DELETE", path: IMAGES_PATH };
    await expect(verifyGrant(ring, token, expected, NOW)).resolves.toEqual(expected);
  });

  it.each([
    ["another entry", { ...GET_ENTRY, ...OTHER_ENTRY }],
    ["another journal", { ...GET_ENTRY, journalId: "journal-2" }],
    ["another method", { ...GET_ENTRY, method: "DELETE" }],
    ["the same method in lower case", { ...GET_ENTRY, method: "get" }],
    [
      "another path of the same entry",
      { ...GET_ENTRY, path: `${IMAGES_PATH}/3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71` },
    ],
    ["the same path with a trailing slash", { ...GET_ENTRY, path: `${IMAGES_PATH}/` }],
  ])("refuses a grant presented for %s", async (_what, expected) => {
    // Prepare
    const { token } = await signGrant(ring, GET_ENTRY, NOW);

    // Act
    const verified = verifyGrant(ring, token, expected, NOW);

    // Assess
    await expect(verified).rejects.toMatchObject({ status: 401, code: "invalid_grant" });
  });

  it.each([
    ["within the 5 s tolerance after expiry", 64, true],
    ["5 s after expiry", 65, false],
  ])("judges a grant %s", async (_when, offset, valid) => {
    const { token } = await signGrant(ring, GET_ENTRY, NOW);
    const verified = verifyGrant(ring, token, GET_ENTRY, NOW + offset);
    if (valid) await expect(verified).resolves.toEqual(GET_ENTRY);
    else await expect(verified).rejects.toMatchObject({ status: 401, code: "invalid_grant" });
  });

  it("refuses a viewer token: an access token is not a grant", async () => {
    const { token } = await signAccessToken(ring, ENTRY, 60, NOW);
    await expect(verifyGrant(ring, token, GET_ENTRY, NOW)).rejects.toMatchObject({ code: "invalid_grant" });
  });

  it("refuses a grant-audience token that lives longer than 60 s", async () => {
    // Prepare: claims a grant has, signed with our own key, but for 61 s
    const claims = {
      ...viewerClaims({ aud: "image-gateway:origin", exp: NOW + 61 }),
      method: "GET",
      path: IMAGES_PATH,
    };

    // Act
    const verified = verifyGrant(ring, await handSigned(claims), GET_ENTRY, NOW);

    // Assess
    await expect(verified).rejects.toMatchObject({ status: 401, code: "invalid_grant" });
    const sixty = { ...claims, exp: NOW + 60 };
    await expect(verifyGrant(ring, await handSigned(sixty), GET_ENTRY, NOW)).resolves.toEqual(GET_ENTRY);
  });

  it.each([
    ["no grant", undefined],
    ["an empty grant", ""],
    ["garbage", "x.y.z"],
  ])("refuses %s with invalid_grant", async (_what, grant) => {
    await expect(verifyGrant(ring, grant, GET_ENTRY, NOW)).rejects.toMatchObject({
      status: 401,
      code: "invalid_grant",
    });
  });
});
