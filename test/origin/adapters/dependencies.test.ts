import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { SECRET_REFRESH_MS } from "../../../contract/constants";
import { formatSigningKeys } from "../../../contract/keyLoaders";
import { CloudFrontInvalidator, noInvalidation } from "../../../origin/adapters/CloudFrontInvalidator";
import { createOriginDeps, s3ClientFor } from "../../../origin/adapters/dependencies";
import { resolveOriginConfig } from "../../../origin/config";
import { BugoutApiDouble } from "../../support/bugoutApi";
import { makeKey, TestClock } from "../../support/edge";
import { BUGOUT_APPLICATION_ID, freshEntry } from "../../support/origin";

const KEYS_SECRET = "arn:aws:secretsmanager:us-east-1:111111111111:secret:ImageGateway/signing-keys";
const TOKEN_SECRET = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:ImageGateway/bugout-AbCdEf";

describe("createOriginDeps", () => {
  let api: BugoutApiDouble;
  let url: string;

  beforeAll(async () => {
    api = new BugoutApiDouble("5f2b8c1d-7e3a-4b9c-8d1e-2a3b4c5d6e7f", BUGOUT_APPLICATION_ID);
    url = await api.start();
  });

  afterAll(async () => {
    await api?.stop();
  });

  const bugoutConfig = (distributionId?: string) =>
    resolveOriginConfig({
      bucketName: "image-gateway-images",
      region: "eu-west-1",
      distributionId,
      signingKeys: { type: "secrets-manager", secretId: KEYS_SECRET, region: "us-east-1" },
      metadata: {
        type: "bugout",
        apiUrl: url,
        applicationId: BUGOUT_APPLICATION_ID,
        accessToken: { type: "secrets-manager", secretId: TOKEN_SECRET, region: "eu-west-1" },
      },
    });

  it("reads the signing keys and the Bugout token from Secrets Manager, and Bugout gets that token", async () => {
    // Prepare
    const secrets: Record<string, string> = {
      [KEYS_SECRET]: formatSigningKeys([makeKey("2026-11")]),
      [TOKEN_SECRET]: "5f2b8c1d-7e3a-4b9c-8d1e-2a3b4c5d6e7f\n",
    };
    const getSecretString = vi.fn(async (secretId: string) => secrets[secretId]);

    // Act
    const deps = await createOriginDeps(bugoutConfig(), { getSecretString });
    const listed = await deps.metadata.listByEntry(freshEntry());

    // Assess
    expect(listed).toEqual([]);
    expect(getSecretString).toHaveBeenCalledWith(KEYS_SECRET, "us-east-1");
    expect(getSecretString).toHaveBeenCalledWith(TOKEN_SECRET, "eu-west-1");
    expect(api.calls.at(-1)?.authorization).toBe("Bearer 5f2b8c1d-7e3a-4b9c-8d1e-2a3b4c5d6e7f");
    expect((await deps.keys()).signingKid).toBe("2026-11");
    expect(deps.invalidator).toBe(noInvalidation);
  });

  it("reads a rotated Bugout token again once the refresh interval has passed", async () => {
    // Prepare
    const clock = new TestClock();
    let token = "5f2b8c1d-7e3a-4b9c-8d1e-2a3b4c5d6e7f";
    const getSecretString = vi.fn(async (secretId: string) =>
      secretId === KEYS_SECRET ? formatSigningKeys([makeKey("k")]) : token,
    );
    const deps = await createOriginDeps(bugoutConfig(), { getSecretString, now: clock.now });
    await deps.metadata.listByEntry(freshEntry());
    token = "rotated-token";

    // Act: the first call after the interval still uses the old token and reloads behind it; the double
    // knows only the old token, so the call after the reload is refused, which is not what is checked
    clock.advance(SECRET_REFRESH_MS / 1000 + 1);
    await deps.metadata.listByEntry(freshEntry());
    await vi.waitFor(() =>
      expect(getSecretString.mock.calls.filter(([id]) => id === TOKEN_SECRET)).toHaveLength(2),
    );
    await deps.metadata.listByEntry(freshEntry()).catch(() => undefined);

    // Assess
    expect(api.calls.at(-1)?.authorization).toBe("Bearer rotated-token");
  });

  it("fails when the signing keys cannot be loaded, so the container does not start half-configured", async () => {
    // Prepare
    const getSecretString = vi.fn(async () => undefined);

    // Act
    const creating = createOriginDeps(bugoutConfig(), { getSecretString });

    // Assess
    await expect(creating).rejects.toThrow("The signing key secret has no string value.");
  });

  it("refuses to start on a Bugout token whose user is outside the application's group, in one line", async () => {
    // Prepare
    const outsider = "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d";
    api.addToken(outsider);
    const getSecretString = vi.fn(async (secretId: string) =>
      secretId === KEYS_SECRET ? formatSigningKeys([makeKey("k")]) : outsider,
    );

    // Act
    const failure = await createOriginDeps(bugoutConfig(), { getSecretString }).then(
      () => "started",
      (error: Error) => error.message,
    );

    // Assess
    expect(failure).toMatch(
      /^BUGOUT_ACCESS_TOKEN's user is not in the group of Bugout application [^\n]+ group\.$/,
    );
  });

  it("invalidates through CloudFront when a distribution is configured", async () => {
    // Prepare
    const getSecretString = vi.fn(async (secretId: string) =>
      secretId === KEYS_SECRET ? formatSigningKeys([makeKey("k")]) : "5f2b8c1d-7e3a-4b9c-8d1e-2a3b4c5d6e7f",
    );

    // Act
    const deps = await createOriginDeps(bugoutConfig("E2QWRUHAPOMQZL"), { getSecretString });

    // Assess
    expect(deps.invalidator).toBeInstanceOf(CloudFrontInvalidator);
  });
});

describe("s3ClientFor", () => {
  it("addresses an S3-compatible endpoint by path", async () => {
    // Act
    const client = s3ClientFor({ region: "us-east-1", s3Endpoint: "http://127.0.0.1:9000" });

    // Assess
    expect(client.config.forcePathStyle).toBe(true);
    expect(await client.config.endpoint?.()).toMatchObject({ hostname: "127.0.0.1", port: 9000 });
  });

  it("uses AWS's own endpoints otherwise", async () => {
    // Act
    const client = s3ClientFor({ region: "eu-west-1", s3Endpoint: undefined });

    // Assess
    expect(client.config.forcePathStyle).toBe(false);
    expect(client.config.endpoint).toBeUndefined();
    expect(await client.config.region()).toBe("eu-west-1");
  });
});
