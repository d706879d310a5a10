import { describe, expect, it } from "vitest";
import { originConfigFromEnv, resolveOriginConfig } from "../../origin/config";

const BASE = { BUCKET_NAME: "image-gateway-images", SIGNING_KEYS: '{"keys":[]}' };

describe("originConfigFromEnv", () => {
  it("fills the contract's defaults", () => {
    // Act
    const config = originConfigFromEnv({ ...BASE });

    // Assess
    expect(config).toEqual({
      dataDir: ".data",
      imagesPrefix: "dev",
      maxDirectUploadBytes: 983616,
      maxImageBytes: 20971520,
      maxImagePixels: 100_000_000,
      stripImageMetadata: true,
      variantWidths: [160, 320, 640, 1280, 1920],
      images: { type: "s3" },
      metadata: { type: "sqlite", file: ".data/metadata.sqlite" },
      distributionId: undefined,
      bucketName: "image-gateway-images",
      s3Endpoint: undefined,
      region: "us-east-1",
      signingKeys: { type: "env", variable: "SIGNING_KEYS" },
    });
  });

  it("reads every setting the contract names", () => {
    // Act
    const config = originConfigFromEnv({
      BUCKET_NAME: "images.example",
      DATA_DIR: "/var/data",
      IMAGES_PREFIX: "prod/v2",
      MAX_DIRECT_UPLOAD_BYTES: "500000",
      MAX_IMAGE_BYTES: "10000000",
      VARIANT_WIDTHS: "200,800",
      DISTRIBUTION_ID: "E2QWRUHAPOMQZL",
      S3_ENDPOINT: "http://127.0.0.1:9000",
      AWS_REGION: "eu-west-1",
      SIGNING_KEYS_FILE: "/etc/keys.json",
    });

    // Assess
    expect(config).toMatchObject({
      dataDir: "/var/data",
      imagesPrefix: "prod/v2",
      maxDirectUploadBytes: 500000,
      maxImageBytes: 10000000,
      variantWidths: [200, 800],
      metadata: { type: "sqlite", file: "/var/data/metadata.sqlite" },
      distributionId: "E2QWRUHAPOMQZL",
      s3Endpoint: "http://127.0.0.1:9000",
      region: "eu-west-1",
      signingKeys: { type: "file", path: "/etc/keys.json" },
    });
  });

  it("chooses Bugout with a token from the environment", () => {
    // Act
    const config = originConfigFromEnv({
      ...BASE,
      METADATA_STORE: "bugout",
      BUGOUT_APPLICATION_ID: "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
      BUGOUT_ACCESS_TOKEN: "token-1",
    });

    // Assess
    expect(config.metadata).toEqual({
      type: "bugout",
      apiUrl: "https://auth.bugout.dev",
      applicationId: "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
      accessToken: { type: "value", value: "token-1" },
    });
  });

  it("reads the Bugout token and the signing keys from Secrets Manager, each in its secret's region", () => {
    // Act
    const config = originConfigFromEnv({
      BUCKET_NAME: "image-gateway-images",
      AWS_REGION: "eu-west-1",
      METADATA_STORE: "bugout",
      BUGOUT_API_URL: "https://brood.internal",
      BUGOUT_APPLICATION_ID: "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
      BUGOUT_ACCESS_TOKEN_SECRET_ID: "ImageGateway/bugout-token",
      SIGNING_KEYS_SECRET_ID:
        "arn:aws:secretsmanager:us-east-1:111111111111:secret:ImageGateway/signing-keys",
    });

    // Assess
    expect(config.metadata).toMatchObject({
      apiUrl: "https://brood.internal",
      accessToken: { type: "secrets-manager", secretId: "ImageGateway/bugout-token", region: "eu-west-1" },
    });
    expect(config.signingKeys).toEqual({
      type: "secrets-manager",
      secretId: "arn:aws:secretsmanager:us-east-1:111111111111:secret:ImageGateway/signing-keys",
      region: "us-east-1",
    });
  });

  it.each([
    ["no bucket", { SIGNING_KEYS: "x" }, "BUCKET_NAME is not set."],
    [
      "an unknown store",
      { ...BASE, METADATA_STORE: "dynamo" },
      'METADATA_STORE must be "sqlite" or "bugout"',
    ],
    [
      "Bugout without a token",
      { ...BASE, METADATA_STORE: "bugout", BUGOUT_APPLICATION_ID: "a" },
      "BUGOUT_ACCESS_TOKEN",
    ],
    [
      "Bugout without an application",
      { ...BASE, METADATA_STORE: "bugout", BUGOUT_ACCESS_TOKEN: "t" },
      "BUGOUT_APPLICATION_ID",
    ],
    [
      "a Bugout URL that is not one",
      {
        ...BASE,
        METADATA_STORE: "bugout",
        BUGOUT_ACCESS_TOKEN: "t",
        BUGOUT_APPLICATION_ID: "a",
        BUGOUT_API_URL: "brood",
      },
      "BUGOUT_API_URL",
    ],
    ["an FTP endpoint", { ...BASE, S3_ENDPOINT: "ftp://127.0.0.1" }, "S3_ENDPOINT must be http(s)."],
    ["a prefix with a leading slash", { ...BASE, IMAGES_PREFIX: "/dev" }, "IMAGES_PREFIX"],
    // Image reads would map onto unvalidated staged uploads, which the lifecycle rule also expires.
    ["the staging prefix", { ...BASE, IMAGES_PREFIX: "incoming" }, "must not be incoming or under it"],
    ["a prefix under the staging prefix", { ...BASE, IMAGES_PREFIX: "incoming/x" }, "must not be incoming"],
    [
      "a direct limit whose multipart body cannot pass the ALB's 1 MB",
      { ...BASE, MAX_DIRECT_UPLOAD_BYTES: String(1024 * 1024) },
      "MAX_DIRECT_UPLOAD_BYTES must be a whole number from 1 to 983616",
    ],
    [
      "a direct limit above the image limit",
      { ...BASE, MAX_DIRECT_UPLOAD_BYTES: "30000000" },
      "MAX_DIRECT_UPLOAD_BYTES",
    ],
    ["a limit that is not a number", { ...BASE, MAX_IMAGE_BYTES: "lots" }, "MAX_IMAGE_BYTES"],
    ["a width that is not one", { ...BASE, VARIANT_WIDTHS: "160,wide" }, "VARIANT_WIDTHS"],
    ["a bucket name S3 refuses", { ...BASE, BUCKET_NAME: "Images_Bucket" }, "BUCKET_NAME"],
    ["an image store it does not know", { ...BASE, IMAGE_STORE: "minio" }, "IMAGE_STORE"],
  ])("refuses %s, naming the setting", (_what, env, message) => {
    // Act
    const reading = () => originConfigFromEnv(env);

    // Assess
    expect(reading).toThrow(message);
  });
});

describe("resolveOriginConfig", () => {
  it("keeps the file store's objects under DATA_DIR with IMAGE_STORE=file", () => {
    // Act
    const config = originConfigFromEnv({ ...BASE, IMAGE_STORE: "file", DATA_DIR: "/srv/gateway" });

    // Assess
    expect(config.images).toEqual({ type: "file", directory: "/srv/gateway/objects" });
  });

  it("keeps a SQLite file given explicitly", () => {
    // Act
    const config = resolveOriginConfig({
      bucketName: "images",
      signingKeys: { type: "env", variable: "K" },
      metadata: { type: "sqlite", file: "/tmp/x.sqlite" },
    });

    // Assess
    expect(config.metadata).toEqual({ type: "sqlite", file: "/tmp/x.sqlite" });
  });
});
