import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import type * as cloudfront from "aws-cdk-lib/aws-cloudfront";
import * as origins from "aws-cdk-lib/aws-cloudfront-origins";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";

/**
 * Memory, measured on this repository's machine (node + sharp 0.35, one process): making 1920-px AVIF,
 * WebP and original-format variants of an 8000 × 6000 image (48 MP, under `MAX_IMAGE_PIXELS`) peaked at
 * 231 MB of RSS from a 26 MB JPEG (libvips shrinks JPEG on load) and 359 MB from a 39 MB PNG (decoded in
 * full), from a 120-180 MB baseline. Memory is therefore sized for CPU, not room: Lambda gives a whole
 * vCPU at 1769 MB, which the encoders use (AVIF at 1920 px took 0.6-1.2 s of one core).
 */
export const GENERATOR_MEMORY_MB = 1769;
/**
 * CloudFront waits 30 s for a custom origin's answer by default; the function stops before that, so a
 * slow generation ends as its own error, never CloudFront's 504.
 */
export const GENERATOR_TIMEOUT = Duration.seconds(28);

/** What the variant generator is built from. */
export interface VariantGeneratorProps {
  /** Directory holding the generator bundle (`index.mjs`, export `handler`) and sharp's arm64 runtime. */
  readonly codeDirectory: string;
  readonly bucket: s3.IBucket;
  readonly imagesPrefix: string;
  readonly variantWidths: readonly number[];
  readonly maxImagePixels: number;
}

/**
 * The images behaviour's failover origin (aws-samples/image-optimization's pattern): a Lambda function
 * behind a function URL that only CloudFront may invoke (`AWS_IAM` auth, signed by an origin access
 * control, invoke permissions for this distribution alone). When the bucket answers 403 or 404 it makes
 * the variant from its original, stores it beside it, and returns it; for any other missing key it
 * answers the contract's `404 not_found` JSON, uncached. Its role reads objects under the images prefix
 * and writes variant keys there, nothing else.
 */
export class VariantGenerator extends Construct {
  public readonly function: lambda.Function;
  public readonly role: iam.Role;
  public readonly functionUrl: lambda.FunctionUrl;
  /** The function URL as CloudFront's origin, with its origin access control. */
  public readonly origin: cloudfront.IOrigin;

  public constructor(scope: Construct, id: string, props: VariantGeneratorProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, "Logs", {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "image-gateway variant generator: reads originals, writes variants, its logs",
    });
    logGroup.grantWrite(this.role);

    this.function = new lambda.Function(this, "Function", {
      description: "image-gateway variant generator: the images origin group's failover origin",
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: "index.handler",
      code: lambda.Code.fromAsset(props.codeDirectory),
      memorySize: GENERATOR_MEMORY_MB,
      timeout: GENERATOR_TIMEOUT,
      role: this.role,
      logGroup,
      environment: {
        BUCKET_NAME: props.bucket.bucketName,
        IMAGES_PREFIX: props.imagesPrefix,
        VARIANT_WIDTHS: props.variantWidths.join(","),
        MAX_IMAGE_PIXELS: String(props.maxImagePixels),
      },
    });

    // No s3:ListBucket: without it S3 answers a missing original with 403, which the generator reads as
    // "not there" (its GetObject is allowed on every key it may be asked for).
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "ReadOriginals",
        actions: ["s3:GetObject"],
        resources: [props.bucket.arnForObjects(`${props.imagesPrefix}/*`)],
      }),
    );
    // Variant keys only (`{image key}.w{width}.{format}`): an original's key, a bare UUID after
    // `images/`, never matches, so the generator cannot overwrite an original.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "WriteVariants",
        actions: ["s3:PutObject"],
        resources: [props.bucket.arnForObjects(`${props.imagesPrefix}/*/entries/*/images/*.w*`)],
      }),
    );

    // Streamed: a buffered URL carries 6 MB (base64 included), a streamed one 200 MB, raw bytes. A
    // variant above even that is stored and redirected to the viewer's own URL.
    this.functionUrl = this.function.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.AWS_IAM,
      invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
    });
    this.origin = origins.FunctionUrlOrigin.withOriginAccessControl(this.functionUrl, {
      readTimeout: Duration.seconds(30),
    });

    const bucketId = Stack.of(this).getLogicalId(props.bucket.node.defaultChild as CfnElement);
    for (const pattern of [`${props.imagesPrefix}/*`, `${props.imagesPrefix}/*/entries/*/images/*.w*`]) {
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${pattern}]`,
        reason:
          "Images and variants under the gateway's own prefix: their ids are made at run time; the write " +
          "pattern matches variant keys only, never an original's.",
      });
    }
    Validations.of(this.function).acknowledge({
      id: "AwsSolutions-L1",
      reason: "nodejs22.x on purpose: the runtime every function of the gateway runs and is tested for.",
    });
  }
}
