import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CDK_JSON_CONTEXT, type SynthesizedGateway, synthGateway } from "./synthGateway";

const ACCOUNT = "111111111111";
const DOMAIN = "images.notes.test";
const CERTIFICATE = `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0`;
const BUGOUT_SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:bugout/token-AbCdEf`;

/** cdk.json answers the lookups for eu-west-1; this variant lives in us-east-1 and answers its own. */
function lookupsFor(region: string): Record<string, unknown> {
  const prefixListKey = Object.keys(CDK_JSON_CONTEXT)
    .find((key) => key.startsWith("cc-api-provider:"))
    ?.replace("region=eu-west-1", `region=${region}`) as string;
  return {
    [`availability-zones:account=${ACCOUNT}:region=${region}`]: [`${region}a`, `${region}b`],
    [prefixListKey]: [{ PrefixListId: "pl-3b927c52" }],
  };
}

let synth: SynthesizedGateway;
let gateway: Template;
let edge: Template;

// The other shape of the app: everything in us-east-1, a custom domain, an existing Bugout secret, no CORS.
beforeAll(async () => {
  synth = await synthGateway({
    ...lookupsFor("us-east-1"),
    region: "us-east-1",
    journalsApiUrl: "https://journals.notes.test",
    bugoutApplicationId: "bugout-app-1",
    bugoutTokenSecretArn: BUGOUT_SECRET,
    domainName: DOMAIN,
    certificateArn: CERTIFICATE,
    priceClass: "PriceClass_100",
  });
  gateway = synth.gatewayTemplate;
  edge = synth.edgeTemplate;
}, 60_000);

afterAll(() => synth?.dispose());

describe("a gateway in us-east-1 with a custom domain and an existing Bugout secret", () => {
  it("keeps the edge function beside the distribution and the signing keys in the edge stack", () => {
    gateway.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs22.x",
      MemorySize: 128,
      Timeout: 5,
    });
    gateway.resourceCountIs("Custom::CrossRegionStringParameterReader", 0);
    edge.resourceCountIs("AWS::SecretsManager::Secret", 1);
    // Only CDK's LogRetention handler, which makes the replicas' log groups in every region.
    edge.resourceCountIs("AWS::Lambda::Function", 1);
    edge.hasResourceProperties("AWS::Lambda::Function", { Handler: "index.handler", Role: Match.anyValue() });
    edge.resourceCountIs("Custom::LogRetention", 13);
  });

  it("serves the custom domain with its us-east-1 certificate, TLS 1.2 at least", () => {
    gateway.hasResourceProperties("AWS::CloudFront::Distribution", {
      DistributionConfig: Match.objectLike({
        Aliases: [DOMAIN],
        PriceClass: "PriceClass_100",
        ViewerCertificate: {
          AcmCertificateArn: CERTIFICATE,
          MinimumProtocolVersion: "TLSv1.2_2021",
          SslSupportMethod: "sni-only",
        },
      }),
    });
    gateway.hasOutput("GatewayUrl", { Value: `https://${DOMAIN}` });
  });

  it("reads the existing Bugout secret and creates none", () => {
    // Prepare
    const [origin] = Object.values(
      gateway.findResources("AWS::Lambda::Function", { Properties: { Architectures: ["arm64"] } }),
    );

    // Assess
    gateway.resourceCountIs("AWS::SecretsManager::Secret", 0);
    expect(origin?.Properties.Environment.Variables.BUGOUT_ACCESS_TOKEN_SECRET_ID).toBe(BUGOUT_SECRET);
    gateway.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: "secretsmanager:GetSecretValue", Resource: BUGOUT_SECRET }),
        ]),
      },
    });
  });

  it("adds no CORS anywhere when no origin is configured", () => {
    gateway.hasResourceProperties("AWS::S3::Bucket", { CorsConfiguration: Match.absent() });
    // The images' policy and the API's (Vary: Origin), neither with CORS.
    const policies = Object.values(gateway.findResources("AWS::CloudFront::ResponseHeadersPolicy"));
    expect(policies).toHaveLength(2);
    for (const policy of policies)
      expect(policy.Properties.ResponseHeadersPolicyConfig.CorsConfig).toBeUndefined();
  });

  it("still synthesizes cleanly: no cycle, no validation finding, no warning", () => {
    // Prepare
    const report = JSON.parse(
      readFileSync(join(synth.assembly.directory, "validation-report.json"), "utf8"),
    ) as {
      pluginReports: { conclusion: string; violations: unknown[] }[];
    };

    // Assess
    expect(() => Template.fromJSON(gateway.toJSON())).not.toThrow();
    expect(() => Template.fromJSON(edge.toJSON())).not.toThrow();
    for (const plugin of report.pluginReports) expect(plugin.violations).toEqual([]);
    for (const stack of [synth.gateway, synth.edge])
      Annotations.fromStack(stack).hasNoWarning("*", Match.anyValue());
  });
});
