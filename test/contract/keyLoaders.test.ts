import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { formatSigningKeys, keyLoaderFor, parseSigningKeys } from "../../contract/keyLoaders";
import { makeKey } from "../support/edge";

const first = makeKey("2026-11");
const second = makeKey("2026-10");

describe("parseSigningKeys", () => {
  it("reads back what formatSigningKeys wrote, in order", () => {
    expect(parseSigningKeys(formatSigningKeys([first, second]))).toEqual([first, second]);
  });

  it("accepts the single-key document Secrets Manager generates", () => {
    const secret = "a".repeat(64);
    const [key] = parseSigningKeys(JSON.stringify({ kid: "k1", secret }));
    expect(key?.kid).toBe("k1");
    expect(key?.secret.byteLength).toBe(48);
  });

  it.each([
    ["not JSON", "{", /not JSON/],
    ["no keys", "{}", /no "keys"/],
    ["empty keys", '{"keys": []}', /no "keys"/],
    ["a key without a secret", '{"keys": [{"kid": "a"}]}', /string "kid" and "secret"/],
    ["null", "null", /no "keys"/],
  ])("refuses %s", (_what, document, message) => {
    expect(() => parseSigningKeys(document)).toThrow(message);
  });
});

describe("keyLoaderFor", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    delete process.env.TEST_SIGNING_KEYS;
  });

  it("reads a key file", async () => {
    dir = await mkdtemp(join(tmpdir(), "keys-"));
    const path = join(dir, "signing-keys.json");
    await writeFile(path, formatSigningKeys([first]), { mode: 0o600 });
    await expect(keyLoaderFor({ type: "file", path }).load()).resolves.toEqual([first]);
  });

  it("reads an environment variable, and says when it is missing", async () => {
    const loader = keyLoaderFor({ type: "env", variable: "TEST_SIGNING_KEYS" });
    await expect(loader.load()).rejects.toThrow(/TEST_SIGNING_KEYS is not set/);
    process.env.TEST_SIGNING_KEYS = formatSigningKeys([second]);
    await expect(loader.load()).resolves.toEqual([second]);
  });

  it("asks Secrets Manager for the configured secret in its region", async () => {
    // Prepare: no local server answers Secrets Manager, so the one call is replaced and checked
    const sent: [string, string][] = [];
    const source = {
      type: "secrets-manager",
      secretId: "arn:aws:secretsmanager:us-east-1:1:secret:k",
      region: "us-east-1",
    } as const;
    const loader = keyLoaderFor(source, async (secretId, region) => {
      sent.push([secretId, region]);
      return formatSigningKeys([first, second]);
    });

    // Act
    const keys = await loader.load();

    // Assess
    expect(sent).toEqual([[source.secretId, "us-east-1"]]);
    expect(keys).toEqual([first, second]);
  });

  it("refuses a secret without a string value", async () => {
    const source = { type: "secrets-manager", secretId: "k", region: "us-east-1" } as const;
    await expect(keyLoaderFor(source, async () => undefined).load()).rejects.toThrow(/no string value/);
  });
});
