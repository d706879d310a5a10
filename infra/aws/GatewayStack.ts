import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from "aws-cdk-lib";
import * as cloudfront from "aws-cdk-lib/aws-cloudfront";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import { ImageBucket } from "./constructs/ImageBucket";
import { ImageDistribution } from "./constructs/ImageDistribution";
import { OriginService } from "./constructs/OriginService";
import { VariantGenerator } from "./constructs/VariantGenerator";
import { type EdgeStack, readSigningKeysStatement } from "./EdgeStack";
import type { GatewaySettings } from "./settings";

/** What the main stack is built from; the bundles are made before any construct exists. */
export interface GatewayStackProps extends StackProps {
  readonly settings: GatewaySettings;
  /** The us-east-1 stack that holds the signing keys and receives the edge function. */
  readonly edgeStack: EdgeStack;
  /** Directory holding the edge bundle (`index.mjs`), configuration baked in. */
  readonly edgeCodeDirectory: string;
  /** Directory holding the origin bundle (`index.mjs`) and sharp's arm64 runtime. */
  readonly originCodeDirectory: string;
  /** Directory holding the variant generator bundle (`index.mjs`) and sharp's arm64 runtime. */
  readonly generatorCodeDirectory: string;
}

/**
 * The gateway in the app's region: the private bucket, the origin service behind its internal load
 * balancer, and the CloudFront distribution with the viewer-request function on every behavior.
 */
export class GatewayStack extends Stack {
  public readonly images: ImageBucket;
  public readonly origin: OriginService;
  public readonly variants: VariantGenerator;
  public readonly delivery: ImageDistribution;
  public readonly viewerRequest: cloudfront.experimental.EdgeFunction;
  public readonly bugoutAccessToken: secretsmanager.ISecret;

  public constructor(scope: Construct, id: string, props: GatewayStackProps) {
    const { settings } = props;
    super(scope, id, {
      ...props,
      env: { account: settings.account, region: settings.region },
      // The web ACL lives in us-east-1 (the edge stack) and this stack may live elsewhere.
      crossRegionReferences: true,
    });

    this.images = new ImageBucket(this, "Images", { corsAllowedOrigins: settings.edge.corsAllowedOrigins });

    this.bugoutAccessToken = settings.bugoutTokenSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, "BugoutAccessToken", settings.bugoutTokenSecretArn)
      : new secretsmanager.Secret(this, "BugoutAccessToken", {
          secretName: `${settings.stackName}/bugout-access-token`,
          // Generated, so the template never holds it; replace it with the real token after the deploy.
          description:
            "The gateway's own Bugout access token. Set it after deploying: see the README, section 'Set the Bugout token'.",
        });
    Validations.of(this.bugoutAccessToken).acknowledge({
      id: "AwsSolutions-SMG4",
      reason: "Bugout issues this token; AWS cannot rotate it. Its owner replaces the value (README).",
    });

    this.origin = new OriginService(this, "Origin", {
      codeDirectory: props.originCodeDirectory,
      bucket: this.images.bucket,
      imagesPrefix: settings.edge.imagesPrefix,
      maxDirectUploadBytes: settings.maxDirectUploadBytes,
      maxImageBytes: settings.maxImageBytes,
      maxImagePixels: settings.maxImagePixels,
      stripImageMetadata: settings.stripImageMetadata,
      bugoutApiUrl: settings.bugoutApiUrl,
      bugoutApplicationId: settings.bugoutApplicationId,
      bugoutAccessToken: this.bugoutAccessToken,
      signingKeysSecretId: settings.signingKeysSecretId,
      readSigningKeys: readSigningKeysStatement(settings.account, settings.signingKeysSecretName),
    });
    // The same function finalizes presigned uploads: S3 events and ALB requests share one handler.
    this.images.notifyStagedUploads(this.origin.function);

    // Declared here, built in the edge stack (us-east-1) whenever this stack lives elsewhere; the function's
    // version ARN comes back through EdgeFunction's own SSM parameter and reader, which follow every new
    // version. A plain cross-region reference would pin the first version (strong references refuse
    // updates).
    this.viewerRequest = new cloudfront.experimental.EdgeFunction(this, "ViewerRequest", {
      stackId: props.edgeStack.node.id,
      functionName: props.edgeStack.viewerRequestFunctionName,
      role: props.edgeStack.viewerRequestRole,
      description: "image-gateway viewer-request: access decisions, tokens, CORS (configuration baked in)",
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: "index.handler",
      code: lambda.Code.fromAsset(props.edgeCodeDirectory),
      // Lambda@Edge viewer-request limits.
      memorySize: 128,
      timeout: Duration.seconds(5),
      // A replicated version cannot be deleted for hours; keeping old ones lets updates finish cleanly.
      currentVersionOptions: { removalPolicy: RemovalPolicy.RETAIN },
    });
    Validations.of(this.viewerRequest.lambda).acknowledge({
      id: "AwsSolutions-L1",
      reason: "nodejs22.x is the newest runtime Lambda@Edge is known to run; the code also runs on Node 20.",
    });

    this.variants = new VariantGenerator(this, "Variants", {
      codeDirectory: props.generatorCodeDirectory,
      bucket: this.images.bucket,
      imagesPrefix: settings.edge.imagesPrefix,
      variantWidths: settings.edge.variantWidths,
      maxImagePixels: settings.maxImagePixels,
    });

    this.delivery = new ImageDistribution(this, "Delivery", {
      images: this.images,
      imagesPrefix: settings.edge.imagesPrefix,
      tokenTtlSeconds: settings.edge.tokenTtlSeconds,
      corsAllowedOrigins: settings.edge.corsAllowedOrigins,
      apiOrigin: this.origin.origin,
      variantOrigin: this.variants.origin,
      viewerRequest: this.viewerRequest.currentVersion,
      priceClass: settings.priceClass,
      customDomain: settings.customDomain,
      webAclArn: props.edgeStack.firewall?.webAcl.attrArn,
    });
    this.origin.allowInvalidations(this.delivery.distribution);

    const { distribution } = this.delivery;
    new CfnOutput(this, "GatewayUrl", {
      description: "Base URL of the gateway",
      value: `https://${settings.customDomain?.domainName ?? distribution.distributionDomainName}`,
    });
    new CfnOutput(this, "DistributionDomainName", {
      description: "CloudFront domain (point a custom domain's CNAME or alias here)",
      value: distribution.distributionDomainName,
    });
    new CfnOutput(this, "DistributionId", { value: distribution.distributionId });
    new CfnOutput(this, "BucketName", {
      description: "Private image bucket",
      value: this.images.bucket.bucketName,
    });
    new CfnOutput(this, "BugoutAccessTokenSecretName", {
      description: "Secret holding the gateway's Bugout access token (this region)",
      value: this.bugoutAccessToken.secretName,
    });
    new CfnOutput(this, "SigningKeysSecretName", {
      description: "Secret holding the token signing keys (us-east-1)",
      value: settings.signingKeysSecretName,
    });
  }
}
