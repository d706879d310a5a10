import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type CfnElement, Stack } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import type { Secret } from "aws-cdk-lib/aws-secretsmanager";
import type { IConstruct } from "constructs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRANT_HEADER } from "../../../contract/constants";
import { IMAGE_CONTENT_SECURITY_POLICY } from "../../../contract/responseHeaders";
import { EDGE_BUNDLE_LIMIT_BYTES, ROOT } from "../../../infra/aws/bundle";
import { GENERATOR_MEMORY_MB } from "../../../infra/aws/constructs/VariantGenerator";
import { IMAGE_CACHE_TTL_SECONDS } from "../../../infra/aws/imageCachePolicy";
import {
  actionsOf,
  CDK_JSON_CONTEXT,
  policyStatements,
  resourcesOf,
  type SynthesizedGateway,
  synthGateway,
} from "./synthGateway";

const JOURNALS_API_URL = "https://journals.notes.test";
const APP_ORIGIN = "https://notes.test";
const TOKEN_TTL_SECONDS = 600;
const IMAGES_PREFIX = "images/prod";
/** CloudFront's managed CachingDisabled policy. */
const CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";

let synth: SynthesizedGateway;
let gateway: Template;
let edge: Template;

beforeAll(async () => {
  synth = await synthGateway({
    journalsApiUrl: JOURNALS_API_URL,
    corsAllowedOrigins: APP_ORIGIN,
    tokenTtlSeconds: String(TOKEN_TTL_SECONDS),
    imagesPrefix: IMAGES_PREFIX,
    bugoutApplicationId: "bugout-app-1",
  });
  gateway = synth.gatewayTemplate;
  edge = synth.edgeTemplate;
}, 60_000);

afterAll(() => synth?.dispose());

/** The single resource of `type` in `template`, with its logical id. */
function only(template: Template, type: string): { id: string; properties: Record<string, unknown> } {
  const found = Object.entries(template.findResources(type));
  expect(found, type).toHaveLength(1);
  const [id, resource] = found[0] as [string, { Properties: Record<string, unknown> }];
  return { id, properties: resource.Properties };
}

/** The logical id CloudFormation knows a construct by. */
function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

const bucketId = () => logicalId(synth.gateway.images.bucket);
const originFunctionId = () => logicalId(synth.gateway.origin.function);
const originRoleId = () => logicalId(synth.gateway.origin.role);
const bugoutSecretId = () => logicalId(synth.gateway.bugoutAccessToken as Secret);
const failedFinalizationsId = () => logicalId(synth.gateway.origin.failedFinalizations);
const viewerRequestId = () => logicalId(synth.gateway.viewerRequest.lambda);
/** The roles an edge-stack IAM policy is attached to. */
const edgePolicyRoles = (policyId: string): string[] =>
  (edge.toJSON().Resources[policyId]?.Properties?.Roles ?? []).map((role: { Ref: string }) => role.Ref);
/** The logical id prefix of CDK's singleton LogRetention handler. */
const LOG_RETENTION_HANDLER = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a";
const distributionId = () => logicalId(synth.gateway.delivery.distribution);
const distributionArn = () => ({
  "Fn::Join": [
    "",
    [`arn:aws:cloudfront::${synth.settings.account}:distribution/`, { Ref: distributionId() }],
  ],
});
const distributionConfig = () =>
  only(gateway, "AWS::CloudFront::Distribution").properties.DistributionConfig as {
    DefaultCacheBehavior: Record<string, unknown>;
    CacheBehaviors: Record<string, unknown>[];
    Origins: Record<string, unknown>[];
  };
interface OriginGroup {
  Id: string;
  FailoverCriteria: { StatusCodes: { Items: number[]; Quantity: number } };
  Members: { Items: { OriginId: string }[]; Quantity: number };
}
const originGroups = () =>
  ((distributionConfig() as { OriginGroups?: { Items: OriginGroup[] } }).OriginGroups?.Items ??
    []) as OriginGroup[];
/** The origin access controls by the kind of origin they sign for. */
const accessControlOf = (kind: "s3" | "lambda") => {
  const found = Object.entries(gateway.findResources("AWS::CloudFront::OriginAccessControl")).filter(
    ([, resource]) => resource.Properties.OriginAccessControlConfig.OriginAccessControlOriginType === kind,
  );
  expect(found, kind).toHaveLength(1);
  const [id, resource] = found[0] as [string, { Properties: Record<string, unknown> }];
  return { id, properties: resource.Properties };
};
const bucketAccessControl = () => accessControlOf("s3");
const behaviors = () => [distributionConfig().DefaultCacheBehavior, ...distributionConfig().CacheBehaviors];
const apiBehavior = () => distributionConfig().CacheBehaviors.find((b) => b.PathPattern === "/api/*");
/** What cdk.json answers the lookup of com.amazonaws.global.cloudfront.origin-facing with. */
const cloudFrontPrefixListId = () =>
  Object.entries(CDK_JSON_CONTEXT)
    .filter(([key]) => key.includes("PrefixListName=com.amazonaws.global.cloudfront.origin-facing"))
    .map(([, value]) => (value as { PrefixListId: string }[])[0]?.PrefixListId)[0];
const bucketObjects = (prefix: string) => ({
  "Fn::Join": ["", [{ "Fn::GetAtt": [bucketId(), "Arn"] }, `/${prefix}`]],
});

describe("the image bucket", () => {
  it("blocks all public access", () => {
    gateway.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
  });

  it("denies every request that does not use TLS", () => {
    gateway.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: "Deny",
            Principal: { AWS: "*" },
            Action: "s3:*",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
            Resource: [{ "Fn::GetAtt": [bucketId(), "Arn"] }, bucketObjects("*")],
          },
        ]),
      },
    });
  });

  it("encrypts with S3-managed keys", () => {
    gateway.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
    });
  });

  it("disables ACLs: the bucket owner owns every object", () => {
    gateway.hasResourceProperties("AWS::S3::Bucket", {
      OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
    });
  });

  it("expires staged uploads under incoming/ after one day", () => {
    gateway.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ Prefix: "incoming/", ExpirationInDays: 1, Status: "Enabled" })],
      },
    });
  });

  it("accepts presigned POSTs from the configured origins only", () => {
    gateway.hasResourceProperties("AWS::S3::Bucket", {
      CorsConfiguration: {
        CorsRules: [Match.objectLike({ AllowedMethods: ["POST"], AllowedOrigins: [APP_ORIGIN] })],
      },
    });
  });

  it("notifies the origin function of every object created under incoming/", () => {
    gateway.hasResourceProperties("Custom::S3BucketNotifications", {
      BucketName: { Ref: bucketId() },
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ["s3:ObjectCreated:*"],
            Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "incoming/" }] } },
            LambdaFunctionArn: { "Fn::GetAtt": [originFunctionId(), "Arn"] },
          },
        ],
      },
    });
  });

  it("lets only the distribution read, only s3:GetObject, only under the images prefix", () => {
    // Prepare
    const allows = policyStatements(gateway)
      .filter(({ resource }) => resource === only(gateway, "AWS::S3::BucketPolicy").id)
      .map(({ statement }) => statement)
      .filter((statement) => statement.Effect === "Allow");

    // Assess
    expect(allows).toEqual([
      {
        Sid: "AllowCloudFrontReadImages",
        Effect: "Allow",
        Principal: { Service: "cloudfront.amazonaws.com" },
        Action: "s3:GetObject",
        Resource: bucketObjects(`${IMAGES_PREFIX}/*`),
        Condition: {
          StringEquals: {
            "AWS:SourceArn": distributionArn(),
          },
        },
      },
    ]);
  });
});

describe("the distribution", () => {
  it("reaches the bucket through Origin Access Control, signing every request", () => {
    // Prepare
    const oac = bucketAccessControl();
    const bucketOrigin = distributionConfig().Origins.find((origin) => "S3OriginConfig" in origin);

    // Assess
    expect(oac.properties.OriginAccessControlConfig).toMatchObject({
      OriginAccessControlOriginType: "s3",
      SigningBehavior: "always",
      SigningProtocol: "sigv4",
    });
    expect(bucketOrigin).toMatchObject({
      DomainName: { "Fn::GetAtt": [bucketId(), "RegionalDomainName"] },
      OriginAccessControlId: { "Fn::GetAtt": [oac.id, "Id"] },
      S3OriginConfig: { OriginAccessIdentity: "" },
    });
  });

  it("sends image paths (the default behavior) to the bucket first, for GET, HEAD and OPTIONS", () => {
    const bucketOrigin = distributionConfig().Origins.find((origin) => "S3OriginConfig" in origin);
    const [group] = originGroups();
    expect(distributionConfig().DefaultCacheBehavior).toMatchObject({
      TargetOriginId: group?.Id,
      AllowedMethods: ["GET", "HEAD", "OPTIONS"],
    });
    expect(group?.Members.Items[0]?.OriginId).toBe(bucketOrigin?.Id);
  });

  it("runs the edge function on viewer-request on every behavior, and nothing else", () => {
    // Prepare
    const reader = Object.keys(gateway.findResources("Custom::CrossRegionStringParameterReader"))[0];

    // Assess
    expect(behaviors()).toHaveLength(2);
    for (const behavior of behaviors()) {
      expect(behavior.LambdaFunctionAssociations).toEqual([
        { EventType: "viewer-request", LambdaFunctionARN: { "Fn::GetAtt": [reader, "FunctionArn"] } },
      ]);
      expect(behavior.FunctionAssociations).toBeUndefined();
    }
  });

  it("redirects viewers to HTTPS on every behavior", () => {
    for (const behavior of behaviors()) expect(behavior.ViewerProtocolPolicy).toBe("redirect-to-https");
  });

  it("keys the image cache on the object key alone: no query string, cookie or header", () => {
    // Prepare
    const cachePolicy = only(gateway, "AWS::CloudFront::CachePolicy");

    // Assess
    expect(distributionConfig().DefaultCacheBehavior.CachePolicyId).toEqual({ Ref: cachePolicy.id });
    expect(cachePolicy.properties.CachePolicyConfig).toMatchObject({
      ParametersInCacheKeyAndForwardedToOrigin: {
        QueryStringsConfig: { QueryStringBehavior: "none" },
        CookiesConfig: { CookieBehavior: "none" },
        HeadersConfig: { HeaderBehavior: "none" },
        EnableAcceptEncodingGzip: false,
        EnableAcceptEncodingBrotli: false,
      },
      // The numbers the local gateway's played cache honours too.
      MinTTL: IMAGE_CACHE_TTL_SECONDS.min,
      DefaultTTL: IMAGE_CACHE_TTL_SECONDS.default,
      MaxTTL: IMAGE_CACHE_TTL_SECONDS.max,
    });
  });

  it("adds nosniff, a CSP that runs nothing, Vary: Origin and a private browser lifetime to images, never over an error's own Cache-Control", () => {
    // Prepare
    const policyId = (distributionConfig().DefaultCacheBehavior.ResponseHeadersPolicyId as { Ref: string })
      .Ref;
    const config = gateway.toJSON().Resources[policyId].Properties.ResponseHeadersPolicyConfig;

    // Assess
    expect(IMAGE_CONTENT_SECURITY_POLICY).toMatch(/^default-src 'none';.*script-src 'none'.*sandbox$/);
    expect(config.SecurityHeadersConfig).toEqual({
      ContentTypeOptions: { Override: true },
      ContentSecurityPolicy: { ContentSecurityPolicy: IMAGE_CONTENT_SECURITY_POLICY, Override: true },
    });
    // Override off: S3's images carry no Cache-Control and get this one; every error (the edge's own, the
    // failover origin's 404) carries no-store, which stays.
    expect(config.CustomHeadersConfig).toEqual({
      Items: [
        { Header: "Cache-Control", Value: `private, max-age=${TOKEN_TTL_SECONDS}`, Override: false },
        { Header: "Vary", Value: "Accept, Origin", Override: true },
      ],
    });
  });

  it("keeps images at the edge for a year by its own TTL: objects carry no Cache-Control of theirs", () => {
    // Prepare
    const policyId = (distributionConfig().DefaultCacheBehavior.CachePolicyId as { Ref: string }).Ref;
    const config = gateway.toJSON().Resources[policyId].Properties.CachePolicyConfig;

    // Assess
    expect(config).toMatchObject({ DefaultTTL: 365 * 24 * 3600, MaxTTL: 365 * 24 * 3600, MinTTL: 0 });
  });

  it("sends Vary: Origin on API answers too, whatever the origin says", () => {
    // Prepare
    const policyId = (apiBehavior()?.ResponseHeadersPolicyId as { Ref: string } | undefined)?.Ref ?? "";
    const config = gateway.toJSON().Resources[policyId].Properties.ResponseHeadersPolicyConfig;

    // Assess
    expect(config.CustomHeadersConfig).toEqual({
      Items: [{ Header: "Vary", Value: "Origin", Override: false }],
    });
  });

  it("answers CORS for the configured origins exactly, with credentials, never a wildcard", () => {
    // Prepare
    const policies = Object.values(gateway.findResources("AWS::CloudFront::ResponseHeadersPolicy"));

    // Assess: both behaviors carry the grant
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      expect(policy.Properties.ResponseHeadersPolicyConfig.CorsConfig).toMatchObject({
        AccessControlAllowOrigins: { Items: [APP_ORIGIN] },
        AccessControlAllowCredentials: true,
        OriginOverride: false,
      });
    }
  });

  it("sends /api/* to the load balancer for every method, uncached", () => {
    // Prepare
    const vpcOrigin = distributionConfig().Origins.find((origin) => "VpcOriginConfig" in origin);

    // Assess
    expect(apiBehavior()).toMatchObject({
      TargetOriginId: vpcOrigin?.Id,
      AllowedMethods: ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
      CachePolicyId: CACHING_DISABLED,
    });
  });

  it("forwards to the origin the edge's grant, the body's type and the query, and nothing else", () => {
    const policy = only(gateway, "AWS::CloudFront::OriginRequestPolicy");
    expect(apiBehavior()?.OriginRequestPolicyId).toEqual({ Ref: policy.id });
    expect(policy.properties.OriginRequestPolicyConfig).toMatchObject({
      HeadersConfig: { HeaderBehavior: "whitelist", Headers: [GRANT_HEADER, "content-type"] },
      QueryStringsConfig: { QueryStringBehavior: "all" },
      CookiesConfig: { CookieBehavior: "none" },
    });
  });
});

describe("the load balancer", () => {
  it("is a CloudFront VPC origin, reached over HTTP inside AWS's network", () => {
    // Prepare
    const loadBalancer = only(gateway, "AWS::ElasticLoadBalancingV2::LoadBalancer").id;
    const vpcOrigin = only(gateway, "AWS::CloudFront::VpcOrigin");

    // Assess
    expect(vpcOrigin.properties.VpcOriginEndpointConfig).toMatchObject({
      Arn: { Ref: loadBalancer },
      HTTPPort: 80,
      OriginProtocolPolicy: "http-only",
    });
    expect(distributionConfig().Origins.find((origin) => "VpcOriginConfig" in origin)).toMatchObject({
      VpcOriginConfig: { VpcOriginId: { "Fn::GetAtt": [vpcOrigin.id, "Id"] } },
    });
  });

  it("is internal, in isolated subnets of a VPC with no NAT and no route out", () => {
    // Prepare
    const subnets = gateway.findResources("AWS::EC2::Subnet");

    // Assess
    gateway.hasResourceProperties("AWS::ElasticLoadBalancingV2::LoadBalancer", {
      Scheme: "internal",
      Subnets: Object.keys(subnets).map((id) => ({ Ref: id })),
    });
    for (const subnet of Object.values(subnets)) expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    gateway.resourceCountIs("AWS::EC2::NatGateway", 0);
    gateway.resourceCountIs("AWS::EC2::Route", 0);
    gateway.resourceCountIs("AWS::EC2::EIP", 0);
  });

  it("is reachable from no address on the internet: only CloudFront's origin-facing prefix list", () => {
    // Prepare
    const inline = Object.values(gateway.findResources("AWS::EC2::SecurityGroup")).flatMap(
      (group) => group.Properties.SecurityGroupIngress ?? [],
    );
    const separate = Object.values(gateway.findResources("AWS::EC2::SecurityGroupIngress")).map(
      (rule) => rule.Properties,
    );

    // Assess
    expect([...inline, ...separate]).toEqual([
      expect.objectContaining({
        IpProtocol: "tcp",
        FromPort: 80,
        ToPort: 80,
        SourcePrefixListId: cloudFrontPrefixListId(),
      }),
    ]);
    for (const rule of [...inline, ...separate]) {
      expect(rule.CidrIp).toBeUndefined();
      expect(rule.CidrIpv6).toBeUndefined();
    }
  });

  it("forwards every request to the origin function as a Lambda target", () => {
    // Prepare
    const targetGroup = only(gateway, "AWS::ElasticLoadBalancingV2::TargetGroup");

    // Assess
    expect(targetGroup.properties).toMatchObject({
      TargetType: "lambda",
      Targets: [{ Id: { "Fn::GetAtt": [originFunctionId(), "Arn"] } }],
    });
    gateway.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", {
      Port: 80,
      DefaultActions: [{ Type: "forward", TargetGroupArn: { Ref: targetGroup.id } }],
    });
    gateway.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      Principal: "elasticloadbalancing.amazonaws.com",
      FunctionName: { "Fn::GetAtt": [originFunctionId(), "Arn"] },
    });
  });
});

describe("the origin function", () => {
  it("runs Node.js 22 on arm64 with room for a 20 MiB image, inside CloudFront's 30 s", () => {
    expect(gateway.toJSON().Resources[originFunctionId()].Properties).toMatchObject({
      Handler: "index.handler",
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      MemorySize: 1024,
      Timeout: 28,
    });
  });

  it("is configured by names and ids, never by a secret's value", () => {
    // Prepare
    const { Properties: properties } = gateway.toJSON().Resources[originFunctionId()];

    // Assess
    expect(properties.Environment.Variables).toEqual({
      IMAGES_PREFIX,
      MAX_DIRECT_UPLOAD_BYTES: String(synth.settings.maxDirectUploadBytes),
      MAX_IMAGE_BYTES: String(synth.settings.maxImageBytes),
      MAX_IMAGE_PIXELS: "100000000",
      STRIP_IMAGE_METADATA: "true",
      METADATA_STORE: "bugout",
      BUGOUT_API_URL: "https://auth.bugout.dev",
      BUGOUT_APPLICATION_ID: "bugout-app-1",
      BUGOUT_ACCESS_TOKEN_SECRET_ID: { Ref: bugoutSecretId() },
      SIGNING_KEYS_SECRET_ID: `arn:aws:secretsmanager:us-east-1:${synth.settings.account}:secret:ImageGateway/signing-keys`,
      BUCKET_NAME: { Ref: bucketId() },
      DISTRIBUTION_ID: { Ref: distributionId() },
    });
  });

  it("may do exactly what it needs: its prefixes, a listing, this distribution, its secrets, its logs", () => {
    // Prepare
    const resources = gateway.toJSON().Resources;
    const policies = policiesOfRole(originRoleId());
    const logGroup = resources[originFunctionId()].Properties.LoggingConfig.LogGroup.Ref;

    // Assess
    expect(resources[originRoleId()].Properties.ManagedPolicyArns).toBeUndefined();
    expect(resources[originRoleId()].Properties.Policies).toBeUndefined();
    expect(policies).toHaveLength(1);
    expect(policies[0]?.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: { "Fn::GetAtt": [logGroup, "Arn"] },
      },
      {
        Sid: "ImagesAndStagedUploads",
        Effect: "Allow",
        Action: ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
        Resource: [bucketObjects(`${IMAGES_PREFIX}/*`), bucketObjects("incoming/*")],
      },
      {
        Sid: "ListForReconcile",
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: { "Fn::GetAtt": [bucketId(), "Arn"] },
      },
      {
        Sid: "BugoutAccessToken",
        Effect: "Allow",
        Action: "secretsmanager:GetSecretValue",
        Resource: { Ref: bugoutSecretId() },
      },
      {
        Effect: "Allow",
        Action: "secretsmanager:GetSecretValue",
        Resource: {
          "Fn::Join": [
            "",
            [
              "arn:",
              { Ref: "AWS::Partition" },
              `:secretsmanager:us-east-1:${synth.settings.account}:secret:ImageGateway/signing-keys-??????`,
            ],
          ],
        },
      },
      {
        // Lambda sends a finalize's event that failed every retry to its failure queue as the function.
        Effect: "Allow",
        Action: ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
        Resource: { "Fn::GetAtt": [failedFinalizationsId(), "Arn"] },
      },
      {
        Sid: "InvalidateThisDistribution",
        Effect: "Allow",
        Action: "cloudfront:CreateInvalidation",
        Resource: distributionArn(),
      },
    ]);
  });

  it("has a role of its own: the helper functions CDK adds have theirs", () => {
    const users = Object.values(gateway.findResources("AWS::Lambda::Function")).filter(
      (fn) => fn.Properties.Role?.["Fn::GetAtt"]?.[0] === originRoleId(),
    );
    expect(users).toHaveLength(1);
  });
});

describe("the variant generator behind the images origin group", () => {
  const generatorFunctionId = () => logicalId(synth.gateway.variants.function);
  const generatorRoleId = () => logicalId(synth.gateway.variants.role);
  const generatorOrigin = () =>
    distributionConfig().Origins.find(
      (origin) => origin.Id === originGroups()[0]?.Members.Items[1]?.OriginId,
    );

  it("fails over from the bucket to the generator on the bucket's 403 and 404 only", () => {
    // Prepare
    const [group] = originGroups();
    const bucketOrigin = distributionConfig().Origins.find((origin) => "S3OriginConfig" in origin);

    // Assess
    expect(originGroups()).toHaveLength(1);
    expect(group?.FailoverCriteria.StatusCodes).toEqual({ Items: [403, 404], Quantity: 2 });
    expect(group?.Members.Items.map((member) => member.OriginId)).toEqual([
      bucketOrigin?.Id,
      generatorOrigin()?.Id,
    ]);
    expect(apiBehavior()?.TargetOriginId).not.toBe(group?.Id);
  });

  it("reaches the generator's function URL signed by a Lambda origin access control, over HTTPS", () => {
    // Prepare
    const oac = accessControlOf("lambda");
    const url = only(gateway, "AWS::Lambda::Url");

    // Assess
    expect(oac.properties.OriginAccessControlConfig).toMatchObject({
      SigningBehavior: "always",
      SigningProtocol: "sigv4",
    });
    expect(url.properties).toMatchObject({
      AuthType: "AWS_IAM",
      InvokeMode: "RESPONSE_STREAM",
      TargetFunctionArn: { "Fn::GetAtt": [generatorFunctionId(), "Arn"] },
    });
    expect(generatorOrigin()).toMatchObject({
      OriginAccessControlId: { "Fn::GetAtt": [oac.id, "Id"] },
      CustomOriginConfig: { OriginProtocolPolicy: "https-only" },
    });
    expect(JSON.stringify(generatorOrigin()?.DomainName)).toContain(url.id);
  });

  it("may be invoked by this distribution alone, through its URL", () => {
    // Prepare
    const url = only(gateway, "AWS::Lambda::Url");
    const permissions = Object.values(gateway.findResources("AWS::Lambda::Permission"))
      .map((resource) => resource.Properties)
      .filter((properties) => JSON.stringify(properties.FunctionName).includes(url.id));
    const thisDistribution = [
      ":cloudfront::",
      { Ref: "AWS::AccountId" },
      ":distribution/",
      { Ref: distributionId() },
    ];

    // Assess
    expect(permissions).toHaveLength(2);
    for (const permission of permissions) {
      expect(permission.Principal).toBe("cloudfront.amazonaws.com");
      expect(permission.SourceArn["Fn::Join"][1]).toEqual(expect.arrayContaining(thisDistribution));
    }
    expect(permissions.map((permission) => permission.Action).sort()).toEqual([
      "lambda:InvokeFunction",
      "lambda:InvokeFunctionUrl",
    ]);
    expect(permissions.find((p) => p.Action === "lambda:InvokeFunction")?.InvokedViaFunctionUrl).toBe(true);
  });

  it("runs on Node.js 22 (arm64) with measured memory, inside CloudFront's 30 s origin wait", () => {
    gateway.hasResourceProperties("AWS::Lambda::Function", {
      Role: { "Fn::GetAtt": [generatorRoleId(), "Arn"] },
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      MemorySize: GENERATOR_MEMORY_MB,
      Timeout: 28,
      Environment: {
        Variables: {
          BUCKET_NAME: { Ref: bucketId() },
          IMAGES_PREFIX,
          VARIANT_WIDTHS: "160,320,640,1280,1920",
          MAX_IMAGE_PIXELS: "100000000",
        },
      },
    });
  });

  it("reads originals and writes variant keys under the images prefix, and nothing else", () => {
    // Prepare
    const resources = gateway.toJSON().Resources;
    const policies = policiesOfRole(generatorRoleId());
    const logGroup = resources[generatorFunctionId()].Properties.LoggingConfig.LogGroup.Ref;

    // Assess
    expect(resources[generatorRoleId()].Properties.ManagedPolicyArns).toBeUndefined();
    expect(policies).toHaveLength(1);
    expect(policies[0]?.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: { "Fn::GetAtt": [logGroup, "Arn"] },
      },
      {
        Sid: "ReadOriginals",
        Effect: "Allow",
        Action: "s3:GetObject",
        Resource: bucketObjects(`${IMAGES_PREFIX}/*`),
      },
      {
        Sid: "WriteVariants",
        Effect: "Allow",
        Action: "s3:PutObject",
        Resource: bucketObjects(`${IMAGES_PREFIX}/*/entries/*/images/*.w*`),
      },
    ]);
  });

  it("ships sharp with its Linux arm64 binaries in the generator's and the origin's assets", async () => {
    for (const bundle of [synth.bundles.generator, synth.bundles.origin]) {
      // Prepare
      const modules = join(dirname(bundle.file), "node_modules");
      const addon = join(modules, "@img/sharp-linux-arm64/lib/sharp-linux-arm64-0.35.5.node");
      const libvips = (await readdir(join(modules, "@img/sharp-libvips-linux-arm64/lib"))).find((file) =>
        file.startsWith("libvips-cpp.so"),
      );

      // Assess: the root's sharp, and ELF files for AArch64 (e_machine 0xB7)
      const sharpVersion = JSON.parse(readFileSync(join(modules, "sharp/package.json"), "utf8")).version;
      expect(sharpVersion).toBe(
        JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).dependencies.sharp,
      );
      expect(libvips).toBeDefined();
      for (const file of [addon, join(modules, "@img/sharp-libvips-linux-arm64/lib", libvips as string)]) {
        const header = readFileSync(file).subarray(0, 20);
        expect(header.subarray(0, 4).toString("latin1"), file).toBe("\x7fELF");
        expect(header.readUInt16LE(18), file).toBe(0xb7);
      }
      expect(readFileSync(bundle.file, "utf8")).toMatch(/from"sharp"|from "sharp"/);
    }
  });
});

describe("every IAM policy in both stacks", () => {
  it("grants no wildcard action and no wildcard resource", () => {
    // Prepare
    // CDK's own deploy-time LogRetention handler sets retention by name in other regions (`*`); it runs
    // only while the stack deploys, and its cdk-nag finding is acknowledged beside it.
    const allows = [...policyStatements(gateway), ...policyStatements(edge)].filter(
      ({ resource, statement }) =>
        statement.Effect === "Allow" && !resource.startsWith(LOG_RETENTION_HANDLER),
    );

    // Assess
    expect(allows.length).toBeGreaterThan(5);
    for (const { resource, statement } of allows) {
      for (const action of actionsOf(statement)) expect(action, resource).not.toContain("*");
      for (const target of resourcesOf(statement)) expect(target, resource).not.toBe("*");
    }
  });
});

describe("the edge", () => {
  it("is a Lambda@Edge function: Node.js 22, 128 MB, 5 s, trusted by edgelambda", () => {
    edge.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.handler",
      Runtime: "nodejs22.x",
      MemorySize: 128,
      Timeout: 5,
    });
    edge.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: "sts:AssumeRole",
            Principal: { Service: Match.arrayWith(["edgelambda.amazonaws.com"]) },
          }),
        ]),
      },
    });
  });

  it("has no environment variables: its configuration is baked into the bundle", () => {
    const fn = edge.toJSON().Resources[viewerRequestId()].Properties;
    expect(fn.Handler).toBe("index.handler");
    expect(fn.Environment).toBeUndefined();
  });

  it("has a role that writes its own logs in any region, reads the signing-key secret, and nothing else", () => {
    // Prepare
    const roleId = edge.toJSON().Resources[viewerRequestId()].Properties.Role["Fn::GetAtt"][0];
    const role = edge.toJSON().Resources[roleId].Properties;
    const statements = policyStatements(edge)
      .filter(({ resource }) => resource === roleId || edgePolicyRoles(resource).includes(roleId))
      .map(({ statement }) => statement);
    const logGroup = (name: string) => ({
      "Fn::Join": [
        "",
        ["arn:", { Ref: "AWS::Partition" }, `:logs:*:`, { Ref: "AWS::AccountId" }, `:log-group:${name}`],
      ],
    });
    const streams = (name: string) => ({
      "Fn::Join": [
        "",
        ["arn:", { Ref: "AWS::Partition" }, `:logs:*:`, { Ref: "AWS::AccountId" }, `:log-group:${name}:*`],
      ],
    });

    // Assess
    expect(role.ManagedPolicyArns).toBeUndefined();
    expect(statements).toEqual([
      {
        Effect: "Allow",
        Action: "logs:CreateLogGroup",
        Resource: [
          logGroup("/aws/lambda/ImageGateway-viewer-request"),
          logGroup("/aws/lambda/us-east-1.ImageGateway-viewer-request"),
        ],
      },
      {
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: [
          streams("/aws/lambda/ImageGateway-viewer-request"),
          streams("/aws/lambda/us-east-1.ImageGateway-viewer-request"),
        ],
      },
      {
        Effect: "Allow",
        Action: "secretsmanager:GetSecretValue",
        Resource: {
          "Fn::Join": [
            "",
            [
              "arn:",
              { Ref: "AWS::Partition" },
              `:secretsmanager:us-east-1:${synth.settings.account}:secret:ImageGateway/signing-keys-??????`,
            ],
          ],
        },
      },
    ]);
  });

  it("keeps the signing keys in us-east-1, generated on deploy, never in a template", () => {
    expect(synth.edge.region).toBe("us-east-1");
    edge.hasResourceProperties("AWS::SecretsManager::Secret", {
      Name: "ImageGateway/signing-keys",
      GenerateSecretString: {
        SecretStringTemplate: '{"kid":"k1"}',
        GenerateStringKey: "secret",
        ExcludePunctuation: true,
        PasswordLength: 64,
      },
      SecretString: Match.absent(),
    });
  });

  it("is bundled under 1 MB with its configuration and the secret's name baked in", () => {
    // Prepare
    const code = readFileSync(synth.bundles.edge.file, "utf8");

    // Assess
    expect(synth.bundles.edge.bytes).toBeLessThan(EDGE_BUNDLE_LIMIT_BYTES);
    expect(code).toContain(JOURNALS_API_URL);
    expect(code).toContain(synth.settings.signingKeysSecretId);
  });
});

describe("the Bugout access token", () => {
  it("lives in a secret created for the user to fill in, generated, never plaintext", () => {
    gateway.hasResourceProperties("AWS::SecretsManager::Secret", {
      Name: "ImageGateway/bugout-access-token",
      GenerateSecretString: Match.anyValue(),
      SecretString: Match.absent(),
    });
  });
});

describe("the app", () => {
  it("outputs the distribution domain, the bucket name and the secret names", () => {
    gateway.hasOutput("DistributionDomainName", {
      Value: { "Fn::GetAtt": [distributionId(), "DomainName"] },
    });
    gateway.hasOutput("BucketName", { Value: { Ref: bucketId() } });
    gateway.hasOutput("SigningKeysSecretName", { Value: "ImageGateway/signing-keys" });
    gateway.hasOutput("BugoutAccessTokenSecretName", { Value: Match.anyValue() });
    edge.hasOutput("SigningKeysSecretName", { Value: Match.anyValue() });
  });

  it("has no dependency cycle in either template", () => {
    // Prepare: a template CloudFormation would refuse
    const cyclic = {
      Resources: {
        Function: {
          Type: "AWS::Lambda::Function",
          Properties: { Id: { "Fn::GetAtt": ["Distribution", "Id"] } },
        },
        Distribution: { Type: "AWS::CloudFront::Distribution", DependsOn: ["Function"] },
      },
    };

    // Assess: the assertions library checks every template for cycles, and accepts ours
    expect(() => Template.fromJSON(cyclic)).toThrow(/dependency cycle/);
    expect(() => Template.fromJSON(gateway.toJSON())).not.toThrow();
    expect(() => Template.fromJSON(edge.toJSON())).not.toThrow();
  });

  it("synthesizes offline: cdk.json answers every lookup", () => {
    expect(synth.assembly.manifest.missing).toBeUndefined();
  });

  it("deploys the edge stack before the main stack", () => {
    expect(synth.gateway.dependencies).toContain(synth.edge);
  });

  it("passes CloudFormation's built-in validation with no finding, and CDK with no warning", () => {
    // Prepare
    const report = JSON.parse(
      readFileSync(join(synth.assembly.directory, "validation-report.json"), "utf8"),
    ) as {
      pluginReports: { pluginName: string; conclusion: string; violations: unknown[] }[];
    };

    // Assess
    expect(report.pluginReports.map((r) => r.pluginName)).toContain("CloudFormation Validate");
    for (const plugin of report.pluginReports) {
      expect(plugin.conclusion).toBe("success");
      expect(plugin.violations).toEqual([]);
    }
    for (const stack of [synth.gateway, synth.edge]) {
      Annotations.fromStack(stack).hasNoWarning("*", Match.anyValue());
      Annotations.fromStack(stack).hasNoError("*", Match.anyValue());
    }
  });
});

/** The IAM policies of the gateway stack attached to the role with logical id `roleId`. */
function policiesOfRole(roleId: string) {
  return Object.values(gateway.findResources("AWS::IAM::Policy")).filter((policy) =>
    policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId),
  );
}
