import { Duration, Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as s3n from "aws-cdk-lib/aws-s3-notifications";
import { Construct } from "constructs";
import { STAGING_PREFIX } from "../../../contract/constants";
import { CORS_GRANT } from "../../../contract/cors";

/** The id CDK gives its bucket-notifications handler (aws-s3's NotificationsResourceHandler). */
const BUCKET_NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834";

/** An upload that was never finalized is garbage after a day. */
const STAGING_LIFETIME = Duration.days(1);

/** What the image bucket is configured with. */
export interface ImageBucketProps {
  /** Exact browser origins that may POST presigned uploads straight to the bucket. */
  readonly corsAllowedOrigins: readonly string[];
}

/**
 * The private bucket: never public, TLS only, S3-managed encryption, ACLs disabled. Images live under
 * the images prefix and are read only by the distribution; presigned uploads land under `incoming/`.
 */
export class ImageBucket extends Construct {
  public readonly bucket: s3.Bucket;

  public constructor(scope: Construct, id: string, props: ImageBucketProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, "Bucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: "ExpireStagedUploads", prefix: STAGING_PREFIX, expiration: STAGING_LIFETIME }],
      // A browser POSTs presigned uploads to S3 directly; CloudFront never sees them.
      cors:
        props.corsAllowedOrigins.length > 0
          ? [
              {
                allowedMethods: [s3.HttpMethods.POST],
                allowedOrigins: [...props.corsAllowedOrigins],
                allowedHeaders: ["*"],
                // As long as browsers may keep the edge's own preflight answers.
                maxAge: CORS_GRANT.maxAgeSeconds,
              },
            ]
          : undefined,
    });
    Validations.of(this.bucket).acknowledge({
      id: "AwsSolutions-S1",
      reason:
        "Every read passes the viewer-request function, which logs each decision; every write is the " +
        "origin's, which logs each request. Server access logs would need a second bucket for the same.",
    });
  }

  /** Sends every object created under `incoming/` to `handler`, as S3 event notifications. */
  public notifyStagedUploads(handler: lambda.IFunction): void {
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(handler), {
      prefix: STAGING_PREFIX,
    });
    // CDK's one handler per stack that writes the bucket's notification configuration at deploy time.
    const notificationsHandler = Stack.of(this).node.tryFindChild(BUCKET_NOTIFICATIONS_HANDLER_ID);
    if (notificationsHandler) {
      Validations.of(notificationsHandler).acknowledge({
        id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        reason:
          "CDK's own deploy-time handler for bucket notifications; it runs once per deploy and only logs.",
      });
    }
  }

  /** Lets CloudFront, signing as `distributionArn` through OAC, read objects under `prefix` and nothing else. */
  public allowDistributionReads(distributionArn: string, prefix: string): void {
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "AllowCloudFrontReadImages",
        principals: [new iam.ServicePrincipal("cloudfront.amazonaws.com")],
        actions: ["s3:GetObject"],
        resources: [this.bucket.arnForObjects(`${prefix}/*`)],
        conditions: { StringEquals: { "AWS:SourceArn": distributionArn } },
      }),
    );
  }
}
