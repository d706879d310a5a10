import * as wafv2 from "aws-cdk-lib/aws-wafv2";
import { Construct } from "constructs";

/** What the firewall in front of the distribution is built from. */
export interface ViewerFirewallProps {
  /** Requests one client IP may send in five minutes before it is blocked for the rest of the window. */
  readonly rateLimit: number;
  /** Prefix of the CloudWatch metric names (the stack's name). */
  readonly metricPrefix: string;
}

/** AWS WAF's rate-based rules count requests over this window (its default). */
const EVALUATION_WINDOW_SECONDS = 300;
const RATE_LIMITED_BODY_KEY = "rate_limited";

/**
 * A WAF web ACL for the distribution (scope CLOUDFRONT, so it lives in us-east-1): one rate-based rule
 * per client IP. AWS WAF runs before the viewer-request function, so a flood is refused before it costs an
 * edge invocation or a journals API call; the refusal is the contract's error JSON with `no-store`.
 */
export class ViewerFirewall extends Construct {
  public readonly webAcl: wafv2.CfnWebACL;

  public constructor(scope: Construct, id: string, props: ViewerFirewallProps) {
    super(scope, id);
    const body = {
      error: {
        code: "rate_limited",
        message: "Too many requests from this address; try again in a few minutes.",
      },
    };
    this.webAcl = new wafv2.CfnWebACL(this, "WebAcl", {
      description: "image-gateway: a rate limit per client IP in front of the CloudFront distribution",
      scope: "CLOUDFRONT",
      defaultAction: { allow: {} },
      customResponseBodies: {
        [RATE_LIMITED_BODY_KEY]: { contentType: "APPLICATION_JSON", content: JSON.stringify(body) },
      },
      rules: [
        {
          name: "RateLimitPerClientIp",
          priority: 0,
          statement: {
            rateBasedStatement: {
              limit: props.rateLimit,
              aggregateKeyType: "IP",
              evaluationWindowSec: EVALUATION_WINDOW_SECONDS,
            },
          },
          action: {
            block: {
              customResponse: {
                responseCode: 429,
                customResponseBodyKey: RATE_LIMITED_BODY_KEY,
                // Response headers keep their names (only inserted request headers get x-amzn-waf-).
                responseHeaders: [
                  { name: "cache-control", value: "no-store" },
                  { name: "retry-after", value: String(EVALUATION_WINDOW_SECONDS) },
                ],
              },
            },
          },
          visibilityConfig: visibility(`${props.metricPrefix}-rate-limit`),
        },
      ],
      visibilityConfig: visibility(`${props.metricPrefix}-web-acl`),
    });
  }
}

function visibility(metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty {
  return { cloudWatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true };
}
