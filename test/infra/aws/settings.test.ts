import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { afterAll, describe, expect, it } from "vitest";
import {
  DEFAULT_STACK_NAME,
  OFFLINE_ACCOUNT,
  OFFLINE_REGION,
  PLACEHOLDER_JOURNALS_API_URL,
  readSettings,
  settingsWarnings,
} from "../../../infra/aws/settings";
import { CDK_JSON_CONTEXT } from "./synthGateway";

const NO_CREDENTIALS = {};
// One output folder for every app here, removed afterwards: an App without one makes a new temporary
// folder each time, and nothing here is synthesized into it.
const outdir = mkdtempSync(join(tmpdir(), "settings-test-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));
const settingsFor = (context: Record<string, unknown>, env: Record<string, string> = NO_CREDENTIALS) =>
  readSettings(new App({ context, outdir }).node, env);

describe("readSettings", () => {
  it("falls back to the documented defaults and the offline environment", () => {
    // Act
    const settings = settingsFor({});

    // Assess
    expect(settings).toMatchObject({
      stackName: DEFAULT_STACK_NAME,
      account: OFFLINE_ACCOUNT,
      region: OFFLINE_REGION,
      offline: true,
      bugoutApiUrl: "https://auth.bugout.dev",
      bugoutApplicationId: "",
      bugoutTokenSecretArn: undefined,
      customDomain: undefined,
      priceClass: "PriceClass_All",
      // The largest file whose multipart body (plus the 16 KiB allowed) fits the ALB's 1 MB.
      maxDirectUploadBytes: 1_000_000 - 16 * 1024,
      maxImageBytes: 20 * 1024 * 1024,
      wafRateLimit: 2000,
      viewerRequestFunctionName: "ImageGateway-viewer-request",
    });
    expect(settings.edge).toMatchObject({
      journalsApiUrl: PLACEHOLDER_JOURNALS_API_URL,
      tokenTtlSeconds: 300,
      corsAllowedOrigins: [],
      imagesPrefix: "dev",
    });
  });

  it("turns the web ACL off with waf=false, from -c or cdk.json alike", () => {
    expect(settingsFor({ waf: "false" }).wafRateLimit).toBeUndefined();
    expect(settingsFor({ waf: false, wafRateLimit: 500 }).wafRateLimit).toBeUndefined();
    expect(settingsFor({ wafRateLimit: "500" }).wafRateLimit).toBe(500);
  });

  it("reads from cdk.json exactly the defaults it documents", () => {
    expect(settingsFor({ ...CDK_JSON_CONTEXT })).toEqual(settingsFor({}));
  });

  it("names the signing-key secret after the stack, in us-east-1, for the edge and the origin alike", () => {
    // Act
    const settings = settingsFor({ stackName: "Photos", account: "222222222222" });

    // Assess
    expect(settings.signingKeysSecretName).toBe("Photos/signing-keys");
    expect(settings.signingKeysSecretId).toBe(
      "arn:aws:secretsmanager:us-east-1:222222222222:secret:Photos/signing-keys",
    );
    expect(settings.edge.signingKeys).toEqual({
      type: "secrets-manager",
      secretId: settings.signingKeysSecretId,
      region: "us-east-1",
    });
  });

  it("deploys where the CLI's credentials point, unless context says otherwise", () => {
    // Prepare
    const credentials = { CDK_DEFAULT_ACCOUNT: "333333333333", CDK_DEFAULT_REGION: "ap-southeast-2" };

    // Act
    const fromCredentials = settingsFor({}, credentials);
    const fromContext = settingsFor({ account: "444444444444", region: "ca-central-1" }, credentials);

    // Assess
    expect(fromCredentials).toMatchObject({
      account: "333333333333",
      region: "ap-southeast-2",
      offline: false,
    });
    expect(fromContext).toMatchObject({ account: "444444444444", region: "ca-central-1", offline: false });
  });

  it("ignores the region the CLI reports when it has no credentials", () => {
    expect(settingsFor({}, { CDK_DEFAULT_REGION: "us-east-1" }).region).toBe(OFFLINE_REGION);
  });

  it("takes -c values, which are always strings", () => {
    // Act
    const settings = settingsFor({
      tokenTtlSeconds: "900",
      corsAllowedOrigins: "https://a.test, https://b.test",
      maxImageBytes: "1000000",
      maxDirectUploadBytes: "500000",
      domainName: "images.notes.test",
      certificateArn: "arn:aws:acm:us-east-1:111111111111:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
      priceClass: "PriceClass_100",
    });

    // Assess
    expect(settings.edge.tokenTtlSeconds).toBe(900);
    expect(settings.edge.corsAllowedOrigins).toEqual(["https://a.test", "https://b.test"]);
    expect(settings).toMatchObject({
      maxImageBytes: 1_000_000,
      maxDirectUploadBytes: 500_000,
      priceClass: "PriceClass_100",
      customDomain: { domainName: "images.notes.test" },
    });
  });

  it.each([
    [{ journalsApiUrl: "journals" }, /journalsApiUrl.*not a URL/],
    [{ tokenTtlSeconds: 3601 }, /TOKEN_TTL_SECONDS/],
    [{ tokenTtlSeconds: "five" }, /"tokenTtlSeconds" must be a whole number/],
    [{ corsAllowedOrigins: ["https://notes.test/app"] }, /not an origin/],
    [{ imagesPrefix: "/images/" }, /IMAGES_PREFIX/],
    [{ stackName: "image gateway" }, /"stackName"/],
    [{ account: "12345" }, /"account" must be 12 digits/],
    [{ region: "Europe" }, /"region"/],
    [{ bugoutApiUrl: "http://auth.bugout.dev" }, /"bugoutApiUrl" must be an https URL/],
    [{ domainName: "images.notes.test" }, /set both or neither/],
    [
      {
        domainName: "images.notes.test",
        certificateArn: "arn:aws:acm:eu-west-1:111111111111:certificate/abc",
      },
      /ACM certificate ARN in us-east-1/,
    ],
    [
      { bugoutTokenSecretArn: "arn:aws:secretsmanager:eu-west-1:111111111111:secret:bugout" },
      /complete ARN of a secret in 111111111111\/eu-west-1/,
    ],
    [
      { bugoutTokenSecretArn: "arn:aws:secretsmanager:us-west-2:111111111111:secret:bugout-AbCdEf" },
      /"bugoutTokenSecretArn"/,
    ],
    [{ priceClass: "PriceClass_Cheap" }, /"priceClass" must be one of/],
    [{ maxDirectUploadBytes: 2 * 1024 * 1024 }, /"maxDirectUploadBytes" must be from 1 to 983616/],
    // 1 MiB of file cannot pass the ALB with its multipart overhead.
    [{ maxDirectUploadBytes: 1024 * 1024 }, /"maxDirectUploadBytes" must be from 1 to 983616/],
    [{ wafRateLimit: 5 }, /"wafRateLimit" must be from 10 to 2000000000/],
    [{ waf: "off" }, /"waf" must be true or false/],
    [{ stackName: `Gateway${"x".repeat(50)}` }, /"stackName" may be at most 49 characters/],
    [{ maxImageBytes: 0 }, /"maxImageBytes"/],
  ])("refuses %j, naming the key", (context, message) => {
    expect(() => settingsFor(context)).toThrow(message);
  });
});

describe("settingsWarnings", () => {
  it("says when the assembly could not serve anyone once deployed", () => {
    expect(settingsWarnings(settingsFor({}))).toEqual([
      expect.stringContaining("placeholder account"),
      expect.stringContaining("journalsApiUrl is the placeholder"),
      expect.stringContaining("bugoutApplicationId is not set"),
    ]);
  });

  it("is silent for a complete configuration", () => {
    // Act
    const settings = settingsFor(
      { journalsApiUrl: "https://journals.notes.test", bugoutApplicationId: "app" },
      { CDK_DEFAULT_ACCOUNT: "333333333333", CDK_DEFAULT_REGION: "eu-central-1" },
    );

    // Assess
    expect(settingsWarnings(settings)).toEqual([]);
  });
});
