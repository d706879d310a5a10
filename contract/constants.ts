/** Names and limits fixed by the contract (shared/ARCHITECTURE.md); clients outside this repo rely on them. */

export const TOKEN_ISSUER = "image-gateway";
export const VIEWER_AUDIENCE = "image-gateway:viewer";
export const ORIGIN_AUDIENCE = "image-gateway:origin";

export const GRANT_HEADER = "x-image-gateway-grant";
export const TOKEN_COOKIE = "image_token";
export const TOKEN_QUERY_PARAMETER = "token";

export const DEFAULT_TOKEN_TTL_SECONDS = 300;
export const MAX_TOKEN_TTL_SECONDS = 3600;
export const GRANT_TTL_SECONDS = 60;
export const DEFAULT_JOURNALS_TIMEOUT_MS = 2000;
export const DEFAULT_IMAGES_PREFIX = "dev";
/** `VARIANT_WIDTHS` default: the widths `?w=` accepts. */
export const DEFAULT_VARIANT_WIDTHS: readonly number[] = [160, 320, 640, 1280, 1920];

/** Journal and entry ids; UUIDs fit. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** Image ids are UUIDs the gateway assigns, always lower-case, so one image has exactly one URL and cache key. */
export const IMAGE_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Object key prefix: path segments of safe characters, no leading or trailing slash. */
export const IMAGES_PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

/**
 * How often a warm container reloads its secrets (signing keys, the Bugout token), edge and origin alike,
 * so a rotation needs no redeploy.
 */
export const SECRET_REFRESH_MS = 5 * 60 * 1000;

/**
 * An ALB passes at most 1 MB of request body to a Lambda target (taken as 1,000,000 bytes, the stricter
 * reading); a larger direct upload would get the load balancer's own error, so the edge answers `413` first.
 */
export const ALB_LAMBDA_BODY_LIMIT_BYTES = 1_000_000;

/**
 * Where presigned uploads land before the finalize step validates and moves them (the contract's name).
 * The bucket's lifecycle rule and its event notification use the same prefix, so no image key may start
 * with it.
 */
export const STAGING_PREFIX = "incoming/";

/** Lambda@Edge caps a viewer-request generated response at 40 KB, headers included. */
export const MAX_GENERATED_RESPONSE_BYTES = 40 * 1024;
