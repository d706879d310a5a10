import { Duration, Validations } from "aws-cdk-lib";
import * as acm from "aws-cdk-lib/aws-certificatemanager";
import * as cloudfront from "aws-cdk-lib/aws-cloudfront";
import * as origins from "aws-cdk-lib/aws-cloudfront-origins";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";
import { GRANT_HEADER } from "../../../contract/constants";
import { CORS_GRANT } from "../../../contract/cors";
import { imageResponseHeaders } from "../../../contract/responseHeaders";
import { IMAGE_CACHE_TTL_SECONDS } from "../imageCachePolicy";
import type { ImageBucket } from "./ImageBucket";

/** Path pattern CloudFront sends to the origin service; everything else is an image read. */
export const API_PATH_PATTERN = "/api/*";

/** What the distribution is built from. */
export interface ImageDistributionProps {
  readonly images: ImageBucket;
  readonly imagesPrefix: string;
  readonly tokenTtlSeconds: number;
  readonly corsAllowedOrigins: readonly string[];
  /** The origin service (load balancer) for `/api/*`. */
  readonly apiOrigin: cloudfront.IOrigin;
  /** The variant generator's function URL: the images origin group's failover origin. */
  readonly variantOrigin: cloudfront.IOrigin;
  /** The viewer-request function version, replicated by Lambda@Edge. */
  readonly viewerRequest: lambda.IVersion;
  readonly priceClass: cloudfront.PriceClass;
  readonly customDomain: { readonly domainName: string; readonly certificateArn: string } | undefined;
  /** The WAF web ACL (CLOUDFRONT scope, us-east-1) in front of the distribution, if any. */
  readonly webAclArn?: string;
}

/**
 * The bucket's answers the images origin group fails over on: with Origin Access Control and no list
 * permission S3 answers a missing key with 403, with list permission 404. CloudFront fails over only
 * GET, HEAD and OPTIONS requests, which are all this behaviour allows.
 */
export const VARIANT_FAILOVER_STATUS_CODES = [403, 404] as const;

/**
 * The CloudFront distribution. Every request meets the viewer-request function first. Image paths
 * (the default behavior) go to an origin group: the private bucket through Origin Access Control first,
 * with a cache key of the rewritten path alone; when it lacks the key, the variant generator, which
 * makes and stores a preset variant or answers the contract's 404. `/api/*` goes to the origin service
 * uncached, carrying the edge's grant.
 */
export class ImageDistribution extends Construct {
  public readonly distribution: cloudfront.Distribution;

  public constructor(scope: Construct, id: string, props: ImageDistributionProps) {
    super(scope, id);
    const cors = props.corsAllowedOrigins.length > 0 ? corsBehavior(props.corsAllowedOrigins) : undefined;
    const edgeLambdas: cloudfront.EdgeLambda[] = [
      { functionVersion: props.viewerRequest, eventType: cloudfront.LambdaEdgeEventType.VIEWER_REQUEST },
    ];

    const imagesAccess = new cloudfront.S3OriginAccessControl(this, "ImagesAccessControl", {
      description: "image-gateway: CloudFront signs every request to the image bucket",
      signing: cloudfront.Signing.SIGV4_ALWAYS,
    });
    // `withOriginAccessControl` would grant the distribution the whole bucket; this origin carries the
    // OAC and the bucket policy grants the images prefix alone (ImageBucket.allowDistributionReads).
    const bucketOrigin = origins.S3BucketOrigin.withBucketDefaults(props.images.bucket, {
      originAccessControlId: imagesAccess.originAccessControlId,
    });
    // aws-samples/image-optimization's pattern: a stored variant (or original) is an S3 read; a missing
    // one is made once by the generator, stored, and from then on read from S3 like any object.
    const imagesOrigin = new origins.OriginGroup({
      primaryOrigin: bucketOrigin,
      fallbackOrigin: props.variantOrigin,
      fallbackStatusCodes: [...VARIANT_FAILOVER_STATUS_CODES],
    });

    // The viewer-request function rewrites the path to the object key and drops the query, so the path
    // alone identifies an image: a token, cookie or header in the key would only split the cache.
    const imagesCachePolicy = new cloudfront.CachePolicy(this, "ImagesCachePolicy", {
      comment: "image-gateway images: keyed by the object key alone",
      // The local gateway's played cache honours the same numbers (infra/aws/imageCachePolicy.ts).
      defaultTtl: Duration.seconds(IMAGE_CACHE_TTL_SECONDS.default),
      minTtl: Duration.seconds(IMAGE_CACHE_TTL_SECONDS.min),
      maxTtl: Duration.seconds(IMAGE_CACHE_TTL_SECONDS.max),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.none(),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      headerBehavior: cloudfront.CacheHeaderBehavior.none(),
      // Images are compressed already; Accept-Encoding would only split the cache.
      enableAcceptEncodingGzip: false,
      enableAcceptEncodingBrotli: false,
    });

    const headers = imageResponseHeaders(props.tokenTtlSeconds);
    const imagesResponseHeaders = new cloudfront.ResponseHeadersPolicy(this, "ImagesResponseHeaders", {
      comment: "image-gateway images: nosniff, a CSP that runs nothing, a private browser lifetime",
      securityHeadersBehavior: {
        contentTypeOptions: { override: true },
        contentSecurityPolicy: {
          contentSecurityPolicy: required(headers, "content-security-policy"),
          override: true,
        },
      },
      // Not overriding what the response already says: an image from S3 has no Cache-Control and gets the
      // token's lifetime, while every error (the edge's, the origin group's 404) keeps its no-store. AWS
      // documents the override flag, not whether a policy touches responses the edge generates; with
      // override off the answer is the same either way.
      customHeadersBehavior: {
        customHeaders: [
          { header: "Cache-Control", value: required(headers, "cache-control"), override: false },
          // The format follows Accept under one URL, and CORS headers follow Origin: always both.
          { header: "Vary", value: required(headers, "vary"), override: true },
        ],
      },
      corsBehavior: cors,
    });

    const apiOriginRequest = new cloudfront.OriginRequestPolicy(this, "ApiOriginRequestPolicy", {
      comment: "image-gateway API: the edge's grant, the body's type and every query parameter",
      headerBehavior: cloudfront.OriginRequestHeaderBehavior.allowList(GRANT_HEADER, "content-type"),
      queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.all(),
      cookieBehavior: cloudfront.OriginRequestCookieBehavior.none(),
    });
    const apiResponseHeaders = new cloudfront.ResponseHeadersPolicy(this, "ApiResponseHeaders", {
      comment: "image-gateway API: Vary: Origin, and CORS for the configured origins",
      customHeadersBehavior: {
        customHeaders: [{ header: "Vary", value: "Origin", override: false }],
      },
      corsBehavior: cors,
    });

    this.distribution = new cloudfront.Distribution(this, "Distribution", {
      comment: "image-gateway",
      defaultBehavior: {
        origin: imagesOrigin,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        // OPTIONS must reach the viewer-request function, which answers preflights itself.
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
        cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
        cachePolicy: imagesCachePolicy,
        responseHeadersPolicy: imagesResponseHeaders,
        compress: false,
        edgeLambdas,
      },
      additionalBehaviors: {
        [API_PATH_PATTERN]: {
          origin: props.apiOrigin,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: apiOriginRequest,
          responseHeadersPolicy: apiResponseHeaders,
          edgeLambdas,
        },
      },
      priceClass: props.priceClass,
      webAclId: props.webAclArn,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      // The default *.cloudfront.net certificate has a fixed policy; a custom one gets TLS 1.2 at least.
      ...(props.customDomain && {
        domainNames: [props.customDomain.domainName],
        certificate: acm.Certificate.fromCertificateArn(
          this,
          "Certificate",
          props.customDomain.certificateArn,
        ),
        minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      }),
    });
    props.images.allowDistributionReads(this.distribution.distributionArn, props.imagesPrefix);
    const nag = Validations.of(this.distribution);
    nag.acknowledge({
      id: "AwsSolutions-CFR1",
      reason: "Images are shown worldwide: no country is refused.",
    });
    nag.acknowledge({
      id: "AwsSolutions-CFR3",
      reason:
        "Every request meets the viewer-request function, which logs one JSON line per decision to " +
        "CloudWatch Logs; WAF samples requests. Standard logs would need an ACL-enabled bucket.",
    });
    if (props.webAclArn === undefined) {
      nag.acknowledge({
        id: "AwsSolutions-CFR2",
        reason:
          "The operator turned the gateway's web ACL off (context waf=false), knowing the rate limit goes.",
      });
    }
    if (!props.customDomain) {
      nag.acknowledge({
        id: "AwsSolutions-CFR4",
        reason:
          "The default *.cloudfront.net certificate's security policy is CloudFront's, not ours; with " +
          "domainName and certificateArn the distribution requires TLS 1.2.",
      });
    }
  }
}

/**
 * CORS for responses that come from the bucket or the origin service, which never see the viewer's
 * `Origin`. The edge answers preflights and its own responses itself, and those keep their headers.
 */
function corsBehavior(allowedOrigins: readonly string[]): cloudfront.ResponseHeadersCorsBehavior {
  return {
    accessControlAllowOrigins: [...allowedOrigins],
    accessControlAllowCredentials: CORS_GRANT.allowCredentials,
    accessControlAllowMethods: [...CORS_GRANT.allowMethods],
    accessControlAllowHeaders: [...CORS_GRANT.allowHeaders],
    accessControlExposeHeaders: [...CORS_GRANT.exposeHeaders],
    accessControlMaxAge: Duration.seconds(CORS_GRANT.maxAgeSeconds),
    originOverride: false,
  };
}

function required(headers: Readonly<Record<string, string>>, name: string): string {
  const value = headers[name];
  if (value === undefined) throw new Error(`The image response headers lack ${name}.`);
  return value;
}
