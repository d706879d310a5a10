import { describe, expect, it } from "vitest";
import { secretRegion } from "../../contract/keyLoaders";
import { edgeConfigFromEnv, resolveEdgeConfig } from "../../edge/config";

const keys = { type: "env", variable: "SIGNING_KEYS" } as const;

describe("resolveEdgeConfig", () => {
  it("fills the contract's defaults", () => {
    expect(resolveEdgeConfig({ journalsApiUrl: "https://journals.example.com", signingKeys: keys })).toEqual({
      journalsApiUrl: "https://journals.example.com",
      journalsTimeoutMs: 2000,
      tokenTtlSeconds: 300,
      corsAllowedOrigins: [],
      imagesPrefix: "dev",
      variantWidths: [160, 320, 640, 1280, 1920],
      decisionCacheTtlSeconds: 60,
      decisionCacheMaxEntries: 5000,
      signingKeys: keys,
    });
  });

  it.each([
    [{ journalsApiUrl: "not a url" }, /JOURNALS_API_URL/],
    [{ journalsApiUrl: "ftp://journals.example.com" }, /http/],
    [{ journalsApiUrl: "https://journals.example.com?x=1" }, /query/],
    [{ tokenTtlSeconds: 3601 }, /TOKEN_TTL_SECONDS/],
    [{ tokenTtlSeconds: 0 }, /TOKEN_TTL_SECONDS/],
    [{ journalsTimeoutMs: 5000 }, /JOURNALS_TIMEOUT_MS/],
    [{ imagesPrefix: "/dev" }, /IMAGES_PREFIX/],
    [{ imagesPrefix: "dev/" }, /IMAGES_PREFIX/],
    [{ imagesPrefix: "../dev" }, /IMAGES_PREFIX/],
    [{ variantWidths: [0, 320] }, /VARIANT_WIDTHS/],
    [{ variantWidths: [320.5] }, /VARIANT_WIDTHS/],
    [{ imagesPrefix: "incoming" }, /IMAGES_PREFIX "incoming" must not be incoming or under it/],
    [{ imagesPrefix: "incoming/images" }, /must not be incoming or under it/],
    [{ corsAllowedOrigins: ["https://notes.example.com/"] }, /CORS_ALLOWED_ORIGINS/],
    [{ corsAllowedOrigins: ["*"] }, /CORS_ALLOWED_ORIGINS/],
  ])("refuses %o", (change, message) => {
    expect(() =>
      resolveEdgeConfig({ journalsApiUrl: "https://journals.example.com", signingKeys: keys, ...change }),
    ).toThrow(message);
  });
});

describe("edgeConfigFromEnv", () => {
  it("reads the contract's configuration names", () => {
    // Act
    const config = edgeConfigFromEnv({
      JOURNALS_API_URL: "http://127.0.0.1:9000/v1",
      JOURNALS_TIMEOUT_MS: "1500",
      TOKEN_TTL_SECONDS: "600",
      CORS_ALLOWED_ORIGINS: "https://a.example, http://localhost:3000",
      IMAGES_PREFIX: "prod/images",
      SIGNING_KEYS_FILE: "/tmp/keys.json",
    });

    // Assess
    expect(config).toMatchObject({
      journalsApiUrl: "http://127.0.0.1:9000/v1",
      journalsTimeoutMs: 1500,
      tokenTtlSeconds: 600,
      corsAllowedOrigins: ["https://a.example", "http://localhost:3000"],
      imagesPrefix: "prod/images",
      signingKeys: { type: "file", path: "/tmp/keys.json" },
    });
  });

  it("finds a Secrets Manager key source in the secret ARN's own region", () => {
    const arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:image-gateway/signing-keys-AbCdEf";
    const config = edgeConfigFromEnv({
      JOURNALS_API_URL: "https://j.example",
      SIGNING_KEYS_SECRET_ID: arn,
      AWS_REGION: "eu-west-1",
    });
    expect(config.signingKeys).toEqual({ type: "secrets-manager", secretId: arn, region: "us-east-1" });
  });

  it("refuses to start without a journals API", () => {
    expect(() => edgeConfigFromEnv({})).toThrow(/JOURNALS_API_URL/);
  });

  it("refuses a number that is not one", () => {
    expect(() =>
      edgeConfigFromEnv({ JOURNALS_API_URL: "https://j.example", TOKEN_TTL_SECONDS: "five" }),
    ).toThrow(/TOKEN_TTL_SECONDS/);
  });
});

describe("secretRegion", () => {
  it("uses the fallback for a plain secret name", () => {
    expect(secretRegion("image-gateway/signing-keys", "eu-central-1")).toBe("eu-central-1");
  });
});
