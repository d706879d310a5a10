import { PriceClass } from "aws-cdk-lib/aws-cloudfront";
import type { Node } from "constructs";
import {
  DEFAULT_IMAGES_PREFIX,
  DEFAULT_TOKEN_TTL_SECONDS,
  DEFAULT_VARIANT_WIDTHS,
} from "../../contract/constants";
import { parseVariantWidths } from "../../contract/variants";
import { type EdgeConfig, parseOriginList, resolveEdgeConfig } from "../../edge/config";
import {
  DEFAULT_BUGOUT_API_URL,
  DEFAULT_MAX_DIRECT_UPLOAD_BYTES,
  DEFAULT_MAX_IMAGE_BYTES,
  DEFAULT_MAX_IMAGE_PIXELS,
  MAX_FITTING_DIRECT_UPLOAD_BYTES,
} from "../../origin/domain/constants";

/** Lambda@Edge functions, their signing-key secret and CloudFront certificates all live here. */
export const EDGE_REGION = "us-east-1";

/**
 * The environment `cdk synth` uses when no AWS credentials are at hand. `cdk.json` carries the lookups
 * (availability zones, CloudFront's prefix list) for exactly this account and region, so synth needs no
 * network; a deploy takes the account and region from the credentials instead.
 */
export const OFFLINE_ACCOUNT = "111111111111";
export const OFFLINE_REGION = "eu-west-1";

/** The documented placeholder: synth works with it, a deployed gateway would refuse everyone. */
export const PLACEHOLDER_JOURNALS_API_URL = "https://journals.example.com";
export const DEFAULT_STACK_NAME = "ImageGateway";
/** Every edge location: the gateway exists to show images worldwide. */
export const DEFAULT_PRICE_CLASS = PriceClass.PRICE_CLASS_ALL;

/**
 * Requests one client IP may send in five minutes before the web ACL blocks it (`429`) for the rest of the
 * window: a gallery of a hundred images, opened twenty times over, stays far under it.
 */
export const DEFAULT_WAF_RATE_LIMIT = 2000;
/** AWS WAF's bounds for a rate-based rule's limit. */
const WAF_RATE_LIMIT_RANGE = { min: 10, max: 2_000_000_000 } as const;

const PRICE_CLASSES: readonly string[] = Object.values(PriceClass);

/**
 * Everything the CDK app is configured with, read from CDK context (`cdk.json` or `-c key=value`).
 * The README's "Deploy to AWS, Configure" table documents every key. The defaults live here; cdk.json repeats them for users to edit,
 * and a test keeps the two equal.
 */
export interface GatewaySettings {
  /** Name of the main stack; the edge stack is `{stackName}-Edge`, secret names start with it. */
  readonly stackName: string;
  readonly account: string;
  /** Where the bucket, load balancer and origin Lambda live (the edge is always in us-east-1). */
  readonly region: string;
  /** True when synthesizing for the offline placeholder account: such an assembly cannot be deployed. */
  readonly offline: boolean;
  /** The viewer-request function's configuration, baked into its bundle. */
  readonly edge: EdgeConfig;
  /** Name of the signing-key secret in us-east-1 (fixed, so the edge bundle can name it at synth). */
  readonly signingKeysSecretName: string;
  /** Its partial ARN (no random suffix): what the edge and the origin ask Secrets Manager for. */
  readonly signingKeysSecretId: string;
  /** The viewer-request function's name, fixed so its replicas' log groups are known before they run. */
  readonly viewerRequestFunctionName: string;
  readonly bugoutApiUrl: string;
  /** Empty when not configured: synth warns, and the origin refuses to start until it is set. */
  readonly bugoutApplicationId: string;
  /** An existing secret holding the Bugout token; without it the stack creates one to fill in. */
  readonly bugoutTokenSecretArn: string | undefined;
  readonly customDomain: { readonly domainName: string; readonly certificateArn: string } | undefined;
  readonly priceClass: PriceClass;
  readonly maxDirectUploadBytes: number;
  readonly maxImageBytes: number;
  /** `MAX_IMAGE_PIXELS`, for the origin's uploads and the variant generator. */
  readonly maxImagePixels: number;
  /** `STRIP_IMAGE_METADATA`: off only for apps that need EXIF. */
  readonly stripImageMetadata: boolean;
  /** The web ACL's rate limit per client IP and five minutes; `undefined` when the web ACL is off. */
  readonly wafRateLimit: number | undefined;
}

/** Where settings come from besides context: the CDK CLI exports the credentials' account and region. */
export interface SettingsEnvironment {
  readonly CDK_DEFAULT_ACCOUNT?: string;
  readonly CDK_DEFAULT_REGION?: string;
}

/**
 * Reads and checks the app's context. Every value is validated here, so a bad setting fails synth with
 * the context key named, never a deployment halfway through.
 *
 * @throws {Error} naming the context key that is wrong
 */
export function readSettings(node: Node, env: SettingsEnvironment = process.env): GatewaySettings {
  const context = (key: string): unknown => node.tryGetContext(key);
  const stackName = optionalString(context, "stackName") ?? DEFAULT_STACK_NAME;
  if (!/^[A-Za-z][A-Za-z0-9-]{0,100}$/.test(stackName)) {
    throw new Error(`Context "stackName" must be a CloudFormation stack name, not "${stackName}".`);
  }
  const credentialsAccount = env.CDK_DEFAULT_ACCOUNT || undefined;
  const account = optionalString(context, "account") ?? credentialsAccount ?? OFFLINE_ACCOUNT;
  if (!/^\d{12}$/.test(account)) throw new Error(`Context "account" must be 12 digits, not "${account}".`);
  // Without credentials the CLI still reports a region (us-east-1): only credentials make it meaningful.
  const region =
    optionalString(context, "region") ??
    (credentialsAccount ? env.CDK_DEFAULT_REGION : undefined) ??
    OFFLINE_REGION;
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
    throw new Error(`Context "region" "${region}" is not a region.`);

  const signingKeysSecretName = `${stackName}/signing-keys`;
  const viewerRequestFunctionName = `${stackName}-viewer-request`;
  // Lambda function names are at most 64 characters.
  if (viewerRequestFunctionName.length > 64) {
    throw new Error(`Context "stackName" may be at most 49 characters, not ${stackName.length}.`);
  }
  // A partial ARN names the secret before it exists, and carries its region for the origin to read.
  const signingKeysSecretId = `arn:aws:secretsmanager:${EDGE_REGION}:${account}:secret:${signingKeysSecretName}`;
  const edge = withContextKey(
    "journalsApiUrl, tokenTtlSeconds, corsAllowedOrigins, imagesPrefix or variantWidths",
    () =>
      resolveEdgeConfig({
        journalsApiUrl: optionalString(context, "journalsApiUrl") ?? PLACEHOLDER_JOURNALS_API_URL,
        tokenTtlSeconds: optionalInteger(context, "tokenTtlSeconds") ?? DEFAULT_TOKEN_TTL_SECONDS,
        corsAllowedOrigins: optionalList(context, "corsAllowedOrigins") ?? [],
        imagesPrefix: optionalString(context, "imagesPrefix") ?? DEFAULT_IMAGES_PREFIX,
        variantWidths: optionalWidths(context, "variantWidths") ?? DEFAULT_VARIANT_WIDTHS,
        signingKeys: { type: "secrets-manager", secretId: signingKeysSecretId, region: EDGE_REGION },
      }),
  );

  const bugoutApiUrl = optionalString(context, "bugoutApiUrl") ?? DEFAULT_BUGOUT_API_URL;
  requireHttpsUrl("bugoutApiUrl", bugoutApiUrl);
  const bugoutTokenSecretArn = optionalString(context, "bugoutTokenSecretArn");
  if (bugoutTokenSecretArn !== undefined) {
    const match = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):(\d{12}):secret:.+-[A-Za-z0-9]{6}$/.exec(
      bugoutTokenSecretArn,
    );
    // IAM needs the complete ARN (with its random suffix); the origin reads it in its own region.
    if (!match || match[1] !== region || match[2] !== account) {
      throw new Error(
        `Context "bugoutTokenSecretArn" must be the complete ARN of a secret in ${account}/${region}.`,
      );
    }
  }

  const domainName = optionalString(context, "domainName");
  const certificateArn = optionalString(context, "certificateArn");
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    throw new Error('Context "domainName" and "certificateArn" go together: set both or neither.');
  }
  if (domainName !== undefined && !/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/.test(domainName)) {
    throw new Error(`Context "domainName" "${domainName}" is not a lower-case host name.`);
  }
  // CloudFront only accepts ACM certificates from us-east-1.
  if (
    certificateArn !== undefined &&
    !/^arn:aws:acm:us-east-1:\d{12}:certificate\/[\w-]+$/.test(certificateArn)
  ) {
    throw new Error('Context "certificateArn" must be an ACM certificate ARN in us-east-1.');
  }

  const priceClass = optionalString(context, "priceClass") ?? DEFAULT_PRICE_CLASS;
  if (!isPriceClass(priceClass)) {
    throw new Error(`Context "priceClass" must be one of ${PRICE_CLASSES.join(", ")}, not "${priceClass}".`);
  }

  const maxImageBytes = optionalInteger(context, "maxImageBytes") ?? DEFAULT_MAX_IMAGE_BYTES;
  const maxDirectUploadBytes =
    optionalInteger(context, "maxDirectUploadBytes") ?? DEFAULT_MAX_DIRECT_UPLOAD_BYTES;
  requireRange("maxImageBytes", maxImageBytes, 1, 5 * 1024 ** 3);
  // The file and its multipart overhead must fit the 1 MB an ALB passes to a Lambda target together.
  requireRange(
    "maxDirectUploadBytes",
    maxDirectUploadBytes,
    1,
    Math.min(maxImageBytes, MAX_FITTING_DIRECT_UPLOAD_BYTES),
  );

  const maxImagePixels = optionalInteger(context, "maxImagePixels") ?? DEFAULT_MAX_IMAGE_PIXELS;
  requireRange("maxImagePixels", maxImagePixels, 1, Number.MAX_SAFE_INTEGER);
  const stripImageMetadata = optionalBoolean(context, "stripImageMetadata") ?? true;
  const waf = optionalBoolean(context, "waf") ?? true;
  const rateLimit = optionalInteger(context, "wafRateLimit") ?? DEFAULT_WAF_RATE_LIMIT;
  requireRange("wafRateLimit", rateLimit, WAF_RATE_LIMIT_RANGE.min, WAF_RATE_LIMIT_RANGE.max);

  return {
    stackName,
    account,
    region,
    offline: account === OFFLINE_ACCOUNT,
    edge,
    signingKeysSecretName,
    signingKeysSecretId,
    viewerRequestFunctionName,
    bugoutApiUrl,
    bugoutApplicationId: optionalString(context, "bugoutApplicationId") ?? "",
    bugoutTokenSecretArn,
    customDomain: domainName && certificateArn ? { domainName, certificateArn } : undefined,
    priceClass,
    maxDirectUploadBytes,
    maxImageBytes,
    maxImagePixels,
    stripImageMetadata,
    wafRateLimit: waf ? rateLimit : undefined,
  };
}

/** What synth should say out loud: settings that synthesize but would not serve anyone once deployed. */
export function settingsWarnings(settings: GatewaySettings): string[] {
  const warnings: string[] = [];
  if (settings.offline) {
    warnings.push(
      `No AWS credentials: synthesized for the placeholder account ${OFFLINE_ACCOUNT} (${settings.region}); ` +
        "this assembly cannot be deployed.",
    );
  }
  if (settings.edge.journalsApiUrl === PLACEHOLDER_JOURNALS_API_URL) {
    warnings.push(
      `journalsApiUrl is the placeholder ${PLACEHOLDER_JOURNALS_API_URL}: every request would be refused. ` +
        "Set it with -c journalsApiUrl=https://... or in cdk.json.",
    );
  }
  if (!settings.bugoutApplicationId) {
    warnings.push(
      "bugoutApplicationId is not set: the origin will refuse to start. " +
        "Set it with -c bugoutApplicationId=... or in cdk.json.",
    );
  }
  return warnings;
}

type Context = (key: string) => unknown;

function optionalString(context: Context, key: string): string | undefined {
  const value = context(key);
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new Error(`Context "${key}" must be a string.`);
  return value.trim() || undefined;
}

// `-c key=value` always gives strings; cdk.json gives JSON values. Both are accepted.
function optionalInteger(context: Context, key: string): number | undefined {
  const value = context(key);
  if (value === undefined || value === null || value === "") return undefined;
  const number = typeof value === "string" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number)) {
    throw new Error(`Context "${key}" must be a whole number, not ${JSON.stringify(value)}.`);
  }
  return number;
}

function optionalBoolean(context: Context, key: string): boolean | undefined {
  const value = context(key);
  if (value === undefined || value === null || value === "") return undefined;
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  throw new Error(`Context "${key}" must be true or false, not ${JSON.stringify(value)}.`);
}

/** Widths as a JSON list of numbers or one comma-separated string, checked as `VARIANT_WIDTHS` is. */
function optionalWidths(context: Context, key: string): readonly number[] | undefined {
  const value = context(key);
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string") return parseVariantWidths(value);
  if (Array.isArray(value) && value.every((item) => typeof item === "number")) {
    return parseVariantWidths(value.join(","));
  }
  throw new Error(`Context "${key}" must be a list of widths or one comma-separated string.`);
}

function optionalList(context: Context, key: string): string[] | undefined {
  const value = context(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return parseOriginList(value);
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value;
  throw new Error(`Context "${key}" must be a list of strings or one comma-separated string.`);
}

function requireRange(key: string, value: number, min: number, max: number): void {
  if (value < min || value > max) {
    throw new Error(`Context "${key}" must be from ${min} to ${max}, not ${value}.`);
  }
}

function requireHttpsUrl(key: string, value: string): void {
  if (!URL.canParse(value) || new URL(value).protocol !== "https:") {
    throw new Error(`Context "${key}" must be an https URL, not "${value}".`);
  }
}

function isPriceClass(value: string): value is PriceClass {
  return PRICE_CLASSES.includes(value);
}

function withContextKey<T>(keys: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new Error(`Context ${keys}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
