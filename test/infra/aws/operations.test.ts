import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, type CfnElement, Stack } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import * as s3 from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAMBDA_EDGE_REGIONS } from "../../../infra/aws/constructs/EdgeLogRetention";
import { addGatewayStacks } from "../../../infra/aws/gateway";
import { CDK_JSON_CONTEXT, type SynthesizedGateway, synthGateway } from "./synthGateway";

/**
 * What the deployed gateway does about failures and abuse, read from the synthesized templates: the WAF
 * rate limit, the finalize failure queue and its alarm, the edge's log retention in every region, the
 * invoke permissions' source account, and cdk-nag's verdict.
 */

const RATE_LIMIT = 750;
let synth: SynthesizedGateway;
let gateway: Template;
let edge: Template;

beforeAll(async () => {
  synth = await synthGateway({
    journalsApiUrl: "https://journals.notes.test",
    bugoutApplicationId: "bugout-app-1",
    wafRateLimit: String(RATE_LIMIT),
  });
  gateway = synth.gatewayTemplate;
  edge = synth.edgeTemplate;
}, 120_000);

afterAll(() => synth?.dispose());

function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

/** A template resource as `Template.findResources` gives it (its values are untyped JSON). */
type TemplateResource = ReturnType<Template["findResources"]>[string];

function resourcesOfType(template: Template, type: string): [string, TemplateResource][] {
  return Object.entries(template.findResources(type));
}

describe("the WAF web ACL", () => {
  it("is a CLOUDFRONT web ACL in the us-east-1 stack, with one rate-based rule per client IP that blocks", () => {
    // Prepare
    const [acl] = resourcesOfType(edge, "AWS::WAFv2::WebACL");
    const properties = acl?.[1].Properties;

    // Assess
    expect(synth.edge.region).toBe("us-east-1");
    expect(properties?.Scope).toBe("CLOUDFRONT");
    expect(properties?.DefaultAction).toEqual({ Allow: {} });
    expect(properties?.Rules).toEqual([
      expect.objectContaining({
        Name: "RateLimitPerClientIp",
        Statement: {
          RateBasedStatement: { Limit: RATE_LIMIT, AggregateKeyType: "IP", EvaluationWindowSec: 300 },
        },
        Action: {
          Block: {
            CustomResponse: {
              ResponseCode: 429,
              CustomResponseBodyKey: "rate_limited",
              ResponseHeaders: [
                { Name: "cache-control", Value: "no-store" },
                { Name: "retry-after", Value: "300" },
              ],
            },
          },
        },
      }),
    ]);
    // The refusal is the contract's error JSON.
    const body = properties?.CustomResponseBodies.rate_limited;
    expect(body.ContentType).toBe("APPLICATION_JSON");
    expect(JSON.parse(body.Content)).toEqual({
      error: { code: "rate_limited", message: expect.any(String) },
    });
  });

  it("is associated with the distribution, whose stack reads its ARN across regions", () => {
    // Prepare
    const [, distribution] = resourcesOfType(gateway, "AWS::CloudFront::Distribution")[0] ?? [];
    const aclId = resourcesOfType(edge, "AWS::WAFv2::WebACL")[0]?.[0];

    // Assess: the main stack (eu-west-1) reads the edge stack's output in us-east-1
    expect(synth.gateway.region).toBe("eu-west-1");
    const reference = distribution?.Properties.DistributionConfig.WebACLId;
    expect(reference["Fn::GetStackOutput"]).toMatchObject({
      StackName: synth.edge.stackName,
      Region: "us-east-1",
    });
    const output = edge.toJSON().Outputs[reference["Fn::GetStackOutput"].OutputName];
    expect(output.Value).toEqual({ "Fn::GetAtt": [aclId, "Arn"] });
  });

  it("is left out with waf=false, and the distribution then has none", async () => {
    // Act
    const off = await synthGateway({ journalsApiUrl: "https://journals.notes.test", waf: "false" });

    // Assess
    try {
      off.edgeTemplate.resourceCountIs("AWS::WAFv2::WebACL", 0);
      const [, distribution] = resourcesOfType(off.gatewayTemplate, "AWS::CloudFront::Distribution")[0] ?? [];
      expect(distribution?.Properties.DistributionConfig.WebACLId).toBeUndefined();
    } finally {
      await off.dispose();
    }
  }, 120_000);
});

describe("finalize failures", () => {
  it("go to an SQS queue after two retries of S3's asynchronous invocation", () => {
    // Prepare
    const [config] = resourcesOfType(gateway, "AWS::Lambda::EventInvokeConfig");

    // Assess
    expect(config?.[1].Properties).toEqual({
      FunctionName: { Ref: logicalId(synth.gateway.origin.function) },
      Qualifier: "$LATEST",
      MaximumRetryAttempts: 2,
      DestinationConfig: {
        OnFailure: {
          Destination: { "Fn::GetAtt": [logicalId(synth.gateway.origin.failedFinalizations), "Arn"] },
        },
      },
    });
    gateway.hasResourceProperties("AWS::SQS::Queue", {
      MessageRetentionPeriod: 14 * 24 * 3600,
      SqsManagedSseEnabled: true,
    });
  });

  it("raise a CloudWatch alarm as soon as the queue holds one", () => {
    const [alarm] = resourcesOfType(gateway, "AWS::CloudWatch::Alarm");
    expect(alarm?.[1].Properties).toMatchObject({
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [
        {
          Name: "QueueName",
          Value: { "Fn::GetAtt": [logicalId(synth.gateway.origin.failedFinalizations), "QueueName"] },
        },
      ],
      Statistic: "Maximum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
      AlarmDescription: expect.stringContaining("npm run reconcile -- --fix"),
    });
  });
});

describe("the edge function's logs", () => {
  it("are kept a month in every region with a regional edge cache, under the replicas' own group name", () => {
    // Prepare
    const retentions = resourcesOfType(edge, "Custom::LogRetention").map(([, { Properties }]) => Properties);

    // Assess
    expect(retentions.map((properties) => properties.LogGroupRegion).sort()).toEqual(
      [...LAMBDA_EDGE_REGIONS].sort(),
    );
    for (const properties of retentions) {
      expect(properties).toMatchObject({
        LogGroupName: "/aws/lambda/us-east-1.ImageGateway-viewer-request",
        RetentionInDays: 30,
      });
    }
    edge.hasResourceProperties("AWS::Lambda::Function", { FunctionName: "ImageGateway-viewer-request" });
  });
});

describe("invoke permissions", () => {
  it("name the source account for the load balancer and S3, the source distribution for CloudFront", () => {
    // Prepare
    const permissions = resourcesOfType(gateway, "AWS::Lambda::Permission").map(
      ([, { Properties }]) => Properties,
    );
    const byPrincipal = (principal: string) =>
      permissions.filter((properties) => properties.Principal === principal);

    // Assess
    expect(new Set(permissions.map((properties) => properties.Principal))).toEqual(
      new Set(["cloudfront.amazonaws.com", "elasticloadbalancing.amazonaws.com", "s3.amazonaws.com"]),
    );
    for (const properties of [
      ...byPrincipal("elasticloadbalancing.amazonaws.com"),
      ...byPrincipal("s3.amazonaws.com"),
    ]) {
      expect([{ Ref: "AWS::AccountId" }, synth.settings.account]).toContainEqual(properties.SourceAccount);
    }
    // The variant generator's function URL (its two permissions): this distribution alone, which names
    // the account too.
    for (const properties of byPrincipal("cloudfront.amazonaws.com")) {
      expect(JSON.stringify(properties.SourceArn)).toContain(":distribution/");
    }
  });
});

describe("a missing image or variant", () => {
  it("fails over from the bucket's 403/404 to the generator, whose 404 keeps its no-store through the policy", () => {
    // Prepare
    const config = resourcesOfType(gateway, "AWS::CloudFront::Distribution")[0]?.[1].Properties
      .DistributionConfig;
    const [group] = config.OriginGroups.Items;
    const policyId = config.DefaultCacheBehavior.ResponseHeadersPolicyId.Ref;
    const policy = gateway.toJSON().Resources[policyId].Properties.ResponseHeadersPolicyConfig;
    const origins = Object.fromEntries(config.Origins.map((origin: { Id: string }) => [origin.Id, origin]));

    // Assess: the images behaviour targets the group; the bucket first, the function URL on its 403/404
    expect(config.DefaultCacheBehavior.TargetOriginId).toBe(group.Id);
    expect(group.FailoverCriteria.StatusCodes).toEqual({ Items: [403, 404], Quantity: 2 });
    const [primary, fallback] = group.Members.Items.map(
      (member: { OriginId: string }) => origins[member.OriginId],
    );
    expect(primary.S3OriginConfig).toBeDefined();
    expect(fallback.CustomOriginConfig).toBeDefined();
    // The generator answers the contract's 404 JSON with no-store; the policy adds Cache-Control only to a
    // response without one, so that no-store reaches the viewer (and an image gets the token's lifetime).
    expect(policy.CustomHeadersConfig.Items).toContainEqual({
      Header: "Cache-Control",
      Value: "private, max-age=300",
      Override: false,
    });
  });
});

describe("cdk-nag's AWS Solutions checks", () => {
  it("find nothing unacknowledged in either stack", () => {
    // Act: the pack run directly over the synthesized app, as the synth's own validation ran it
    const report = new AwsSolutionsChecks().validateScope(synth.gateway.node.root);

    // Assess
    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });

  it("run on every synth: one unacknowledged finding fails it", async () => {
    // Prepare: the app as synth builds it, plus a bucket that breaks AwsSolutions-S1 (no access logs)
    const outdir = await mkdtemp(join(tmpdir(), "gateway-nag-"));
    const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT } });
    const { gateway: stack } = await addGatewayStacks(app, {});
    new s3.Bucket(stack, "Unlogged", { enforceSSL: true });

    // Act + Assess
    try {
      expect(() => app.synth()).toThrow(/S3 Bucket has server access logs disabled/);
    } finally {
      await rm(outdir, { recursive: true, force: true });
    }
  }, 120_000);
});
