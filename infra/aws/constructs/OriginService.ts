import { Aws, type CfnElement, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import * as cloudfront from "aws-cdk-lib/aws-cloudfront";
import * as origins from "aws-cdk-lib/aws-cloudfront-origins";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as targets from "aws-cdk-lib/aws-elasticloadbalancingv2-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as destinations from "aws-cdk-lib/aws-lambda-destinations";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { STAGING_PREFIX } from "../../../contract/constants";

/** AWS's managed list of the addresses CloudFront reaches origins from (VPC origins included). */
export const CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing";

/** How long CloudFront waits for the load balancer (its default). */
const CLOUDFRONT_READ_TIMEOUT = Duration.seconds(30);
/** Under CloudFront's read timeout, so a slow call ends as the origin's own error, not CloudFront's 504. */
const ORIGIN_TIMEOUT = CLOUDFRONT_READ_TIMEOUT.minus(Duration.seconds(2));
/**
 * A direct upload (at most ~1 MB) is held whole; a presigned one is streamed through finalize's hash.
 * The size buys CPU (Lambda's share grows with memory) for multipart parsing and SHA-256.
 */
const ORIGIN_MEMORY_MB = 1024;
const LISTENER_PORT = 80;
/**
 * Lambda's own retries of an S3 notification (its default, stated): a storage or metadata outage gets
 * three attempts over a few minutes before the event goes to the failure queue.
 */
const FINALIZE_RETRY_ATTEMPTS = 2;
/** SQS's longest: a failed finalize waits two weeks for `npm run reconcile -- --fix` to settle it. */
const FAILED_FINALIZE_RETENTION = Duration.days(14);

/** What the origin service is built from. */
export interface OriginServiceProps {
  /** Directory holding the origin bundle (`index.mjs`, export `handler`). */
  readonly codeDirectory: string;
  readonly bucket: s3.IBucket;
  readonly imagesPrefix: string;
  readonly maxDirectUploadBytes: number;
  readonly maxImageBytes: number;
  readonly maxImagePixels: number;
  readonly stripImageMetadata: boolean;
  readonly bugoutApiUrl: string;
  readonly bugoutApplicationId: string;
  readonly bugoutAccessToken: secretsmanager.ISecret;
  /** The signing-key secret in us-east-1, as a (partial) ARN the origin reads its region from. */
  readonly signingKeysSecretId: string;
  /** Grants reading the signing keys (a statement on the secret's ARN pattern). */
  readonly readSigningKeys: iam.PolicyStatement;
}

/**
 * The `/api/*` origin: the origin Lambda behind an internal Application Load Balancer that CloudFront
 * reaches as a VPC origin. The load balancer lives in isolated subnets of a VPC with no NAT and no route
 * to the internet, and admits only CloudFront's origin-facing addresses. The Lambda itself stays outside
 * the VPC: the load balancer invokes it through the Lambda API, and outside it reaches S3, Secrets
 * Manager, CloudFront and Bugout without a NAT gateway.
 */
export class OriginService extends Construct {
  public readonly function: lambda.Function;
  public readonly role: iam.Role;
  public readonly vpc: ec2.Vpc;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The load balancer as CloudFront's origin for `/api/*`. */
  public readonly origin: cloudfront.IOrigin;
  /** Where Lambda puts an S3 notification whose finalize failed after every retry. */
  public readonly failedFinalizations: sqs.Queue;
  /** In alarm while the failure queue holds anything. */
  public readonly failedFinalizationsAlarm: cloudwatch.Alarm;

  public constructor(scope: Construct, id: string, props: OriginServiceProps) {
    super(scope, id);

    this.vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "Isolated", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      restrictDefaultSecurityGroup: true,
    });
    // CloudFront VPC origins require an internet gateway attached to the VPC. No route table points at
    // it, so the subnets stay isolated: nothing in them is reachable from, or reaches, the internet.
    const internetGateway = new ec2.CfnInternetGateway(this, "VpcOriginInternetGateway");
    const gatewayAttachment = new ec2.CfnVPCGatewayAttachment(this, "VpcOriginInternetGatewayAttachment", {
      vpcId: this.vpc.vpcId,
      internetGatewayId: internetGateway.ref,
    });

    const securityGroup = new ec2.SecurityGroup(this, "LoadBalancerSecurityGroup", {
      vpc: this.vpc,
      description: "image-gateway origin load balancer: CloudFront VPC origin traffic only",
      // A Lambda target is invoked through the Lambda API, not over the network.
      allowAllOutbound: false,
    });
    const cloudFront = ec2.PrefixList.fromLookup(this, "CloudFrontOriginFacing", {
      prefixListName: CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST,
    });
    securityGroup.addIngressRule(
      ec2.Peer.prefixList(cloudFront.prefixListId),
      ec2.Port.tcp(LISTENER_PORT),
      "CloudFront origin-facing addresses (VPC origin)",
    );

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, "LoadBalancer", {
      vpc: this.vpc,
      internetFacing: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroup,
      dropInvalidHeaderFields: true,
    });
    this.loadBalancer.node.addDependency(gatewayAttachment);
    Validations.of(this.vpc).acknowledge({
      id: "AwsSolutions-VPC7",
      reason:
        "The VPC holds only the internal load balancer in isolated subnets (no NAT, no routes out), " +
        "reached by CloudFront's VPC origin alone; every request it carries is logged by the origin.",
    });
    Validations.of(this.loadBalancer).acknowledge({
      id: "AwsSolutions-ELB2",
      reason:
        "The origin logs one JSON line per request (method, route, status, duration, trace id) and the " +
        "edge one per decision; ALB access logs would add a log bucket for the same facts.",
    });

    const logGroup = new logs.LogGroup(this, "Logs", {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An explicit role: the default one carries AWSLambdaBasicExecutionRole, which writes any log group.
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "image-gateway origin: its images, its staged uploads, its secrets, its logs",
    });
    logGroup.grantWrite(this.role);

    this.function = new lambda.Function(this, "Function", {
      description: "image-gateway origin: uploads, listings, deletes, and finalize of presigned uploads",
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: "index.handler",
      code: lambda.Code.fromAsset(props.codeDirectory),
      memorySize: ORIGIN_MEMORY_MB,
      timeout: ORIGIN_TIMEOUT,
      role: this.role,
      logGroup,
      environment: {
        IMAGES_PREFIX: props.imagesPrefix,
        MAX_DIRECT_UPLOAD_BYTES: String(props.maxDirectUploadBytes),
        MAX_IMAGE_BYTES: String(props.maxImageBytes),
        MAX_IMAGE_PIXELS: String(props.maxImagePixels),
        STRIP_IMAGE_METADATA: String(props.stripImageMetadata),
        METADATA_STORE: "bugout",
        BUGOUT_API_URL: props.bugoutApiUrl,
        BUGOUT_APPLICATION_ID: props.bugoutApplicationId,
        // Where the secrets are, never their values: the origin fetches (and now and then refetches) them.
        BUGOUT_ACCESS_TOKEN_SECRET_ID: props.bugoutAccessToken.secretArn,
        SIGNING_KEYS_SECRET_ID: props.signingKeysSecretId,
        BUCKET_NAME: props.bucket.bucketName,
      },
    });

    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "ImagesAndStagedUploads",
        actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        resources: [
          props.bucket.arnForObjects(`${props.imagesPrefix}/*`),
          props.bucket.arnForObjects(`${STAGING_PREFIX}*`),
        ],
      }),
    );
    // Unconditioned on purpose: S3 answers a missing key with 404 (not 403) only to a caller that may list
    // the bucket, and a prefix condition would not hold for that check. The bucket holds nothing else.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "ListForReconcile",
        actions: ["s3:ListBucket"],
        resources: [props.bucket.bucketArn],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "BugoutAccessToken",
        actions: ["secretsmanager:GetSecretValue"],
        resources: [props.bugoutAccessToken.secretArn],
      }),
    );
    this.role.addToPolicy(props.readSigningKeys);
    for (const prefix of [`${props.imagesPrefix}/*`, `${STAGING_PREFIX}*`]) {
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(props.bucket.node.defaultChild as CfnElement)}.Arn>/${prefix}]`,
        reason:
          "Objects under one prefix of the gateway's own bucket: image ids and upload ids are made at run time.",
      });
    }
    Validations.of(this.function).acknowledge({
      id: "AwsSolutions-L1",
      reason: "nodejs22.x on purpose: the same runtime as the edge function, which Lambda@Edge runs.",
    });

    const listener = this.loadBalancer.addListener("Http", {
      port: LISTENER_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      // The default opens the port to 0.0.0.0/0; only the CloudFront rule above may admit anyone.
      open: false,
    });
    listener.addTargets("Origin", { targets: [new targets.LambdaTarget(this.function)] });
    requireSourceAccount(this.function, "elasticloadbalancing.amazonaws.com");

    // S3 invokes the function asynchronously; after Lambda's retries a failed finalize would vanish and its
    // upload stay pending. Its event goes to this queue instead (only S3 invokes the function that way:
    // the load balancer's calls are synchronous), and the alarm says so.
    this.failedFinalizations = new sqs.Queue(this, "FailedFinalizations", {
      retentionPeriod: FAILED_FINALIZE_RETENTION,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    Validations.of(this.failedFinalizations).acknowledge({
      id: "AwsSolutions-SQS3",
      reason: "This queue is itself the dead-letter destination of the finalize invocations.",
    });
    new lambda.EventInvokeConfig(this, "AsyncInvokeConfig", {
      function: this.function,
      retryAttempts: FINALIZE_RETRY_ATTEMPTS,
      onFailure: new destinations.SqsDestination(this.failedFinalizations),
    });
    this.failedFinalizationsAlarm = new cloudwatch.Alarm(this, "FailedFinalizationsAlarm", {
      alarmDescription:
        "image-gateway: a presigned upload could not be finalized after every retry. " +
        "Run `npm run reconcile -- --fix` (README, Deploy to AWS), then purge the queue.",
      metric: this.failedFinalizations.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.origin = origins.VpcOrigin.withApplicationLoadBalancer(this.loadBalancer, {
      // Inside a VPC origin the hop never leaves AWS's network; HTTPS would need a certificate for a name
      // the internal load balancer does not have. The origin still checks the edge's grant on every call.
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY,
      httpPort: LISTENER_PORT,
      readTimeout: CLOUDFRONT_READ_TIMEOUT,
    });
  }

  /**
   * Tells the origin which distribution to invalidate and lets it do so for that one only. Called once the
   * distribution exists: the function depends on it, and it on the load balancer, never the other way.
   */
  public allowInvalidations(distribution: cloudfront.IDistribution): void {
    this.function.addEnvironment("DISTRIBUTION_ID", distribution.distributionId);
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "InvalidateThisDistribution",
        actions: ["cloudfront:CreateInvalidation"],
        resources: [distribution.distributionArn],
      }),
    );
  }
}

/**
 * Adds `SourceAccount` to the permissions that let `service` invoke `fn`: CDK's grant names the source
 * ARN only, and AWS advises both, so a same-named resource in another account can never invoke it.
 */
function requireSourceAccount(fn: lambda.Function, service: string): void {
  for (const child of fn.node.findAll()) {
    if (child instanceof lambda.CfnPermission && child.principal === service) {
      child.sourceAccount = Aws.ACCOUNT_ID;
    }
  }
}
