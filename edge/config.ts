import {
  DEFAULT_IMAGES_PREFIX,
  DEFAULT_JOURNALS_TIMEOUT_MS,
  DEFAULT_TOKEN_TTL_SECONDS,
  DEFAULT_VARIANT_WIDTHS,
  MAX_TOKEN_TTL_SECONDS,
} from "../contract/constants";
import { ConfigurationError } from "../contract/errors";
import type { KeySource } from "../contract/keyLoaders";
import { keySourceFromEnv } from "../contract/keyLoaders";
import { requireImagesPrefix } from "../contract/keys";
import { parseVariantWidths } from "../contract/variants";

/**
 * Everything the edge needs to know. Lambda@Edge has no environment variables, so on AWS this object is
 * baked into the bundle at deploy time; it never holds a secret, only where to find the keys.
 */
export interface EdgeConfig {
  /** Base URL of the notes app's journals API. */
  readonly journalsApiUrl: string;
  readonly journalsTimeoutMs: number;
  /** Lifetime of access tokens and of the `image_token` cookie. */
  readonly tokenTtlSeconds: number;
  /** Exact origins (scheme, host, port) that may call the gateway from a browser. */
  readonly corsAllowedOrigins: readonly string[];
  /** First segment(s) of every object key. */
  readonly imagesPrefix: string;
  /** `VARIANT_WIDTHS`: the only widths `?w=` may ask for. */
  readonly variantWidths: readonly number[];
  /** How long an allow from the journals API is remembered; never longer than a token lives. */
  readonly decisionCacheTtlSeconds: number;
  readonly decisionCacheMaxEntries: number;
  readonly signingKeys: KeySource;
}

/** Optional fields fall back to the contract's defaults. */
export type EdgeConfigInput = Partial<EdgeConfig> & Pick<EdgeConfig, "journalsApiUrl" | "signingKeys">;

const DEFAULT_DECISION_CACHE_TTL_SECONDS = 60;
const DEFAULT_DECISION_CACHE_MAX_ENTRIES = 5000;

/**
 * Fills defaults and checks every value, so a bad deploy fails at build time, not on a viewer's request.
 *
 * @throws {Error} naming the setting that is wrong
 */
export function resolveEdgeConfig(input: EdgeConfigInput): EdgeConfig {
  const tokenTtlSeconds = input.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  const config: EdgeConfig = {
    journalsApiUrl: input.journalsApiUrl,
    journalsTimeoutMs: input.journalsTimeoutMs ?? DEFAULT_JOURNALS_TIMEOUT_MS,
    tokenTtlSeconds,
    corsAllowedOrigins: input.corsAllowedOrigins ?? [],
    imagesPrefix: input.imagesPrefix ?? DEFAULT_IMAGES_PREFIX,
    variantWidths: input.variantWidths ?? DEFAULT_VARIANT_WIDTHS,
    decisionCacheTtlSeconds: Math.min(
      input.decisionCacheTtlSeconds ?? DEFAULT_DECISION_CACHE_TTL_SECONDS,
      tokenTtlSeconds,
    ),
    decisionCacheMaxEntries: input.decisionCacheMaxEntries ?? DEFAULT_DECISION_CACHE_MAX_ENTRIES,
    signingKeys: input.signingKeys,
  };
  let url: URL;
  try {
    url = new URL(config.journalsApiUrl);
  } catch {
    throw new ConfigurationError(`JOURNALS_API_URL "${config.journalsApiUrl}" is not a URL.`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new ConfigurationError("JOURNALS_API_URL must be http(s).");
  if (url.search || url.hash)
    throw new ConfigurationError("JOURNALS_API_URL must not have a query or fragment.");
  // A viewer-request function has 5 s in all; the journals call must leave room to answer.
  requireInteger("JOURNALS_TIMEOUT_MS", config.journalsTimeoutMs, 1, 4_500);
  requireInteger("TOKEN_TTL_SECONDS", config.tokenTtlSeconds, 1, MAX_TOKEN_TTL_SECONDS);
  requireInteger("decision cache TTL", config.decisionCacheTtlSeconds, 0, MAX_TOKEN_TTL_SECONDS);
  requireInteger("decision cache size", config.decisionCacheMaxEntries, 0, 1_000_000);
  requireImagesPrefix(config.imagesPrefix);
  // The same check as the environment's, so a baked-in list is held to it too.
  parseVariantWidths(config.variantWidths.join(","));
  for (const origin of config.corsAllowedOrigins) {
    if (!isOrigin(origin))
      throw new ConfigurationError(`CORS_ALLOWED_ORIGINS entry "${origin}" is not an origin.`);
  }
  return config;
}

/**
 * Reads the contract's configuration names from an environment (the local gateway, tests). Keys come
 * from `SIGNING_KEYS` (the JSON document), `SIGNING_KEYS_FILE`, or a Secrets Manager id.
 */
export function edgeConfigFromEnv(env: NodeJS.ProcessEnv, fallback?: Partial<EdgeConfigInput>): EdgeConfig {
  const journalsApiUrl = env.JOURNALS_API_URL || fallback?.journalsApiUrl;
  if (!journalsApiUrl) throw new ConfigurationError("JOURNALS_API_URL is not set.");
  return resolveEdgeConfig({
    ...fallback,
    journalsApiUrl,
    journalsTimeoutMs: optionalNumber(env.JOURNALS_TIMEOUT_MS) ?? fallback?.journalsTimeoutMs,
    tokenTtlSeconds: optionalNumber(env.TOKEN_TTL_SECONDS) ?? fallback?.tokenTtlSeconds,
    corsAllowedOrigins:
      env.CORS_ALLOWED_ORIGINS !== undefined
        ? parseOriginList(env.CORS_ALLOWED_ORIGINS)
        : fallback?.corsAllowedOrigins,
    imagesPrefix: env.IMAGES_PREFIX || fallback?.imagesPrefix,
    variantWidths: env.VARIANT_WIDTHS ? parseVariantWidths(env.VARIANT_WIDTHS) : fallback?.variantWidths,
    signingKeys: keySourceFromEnv(env) ?? fallback?.signingKeys ?? { type: "env", variable: "SIGNING_KEYS" },
  });
}

/** `CORS_ALLOWED_ORIGINS` is a comma-separated list. */
export function parseOriginList(value: string): string[] {
  return value
    .split(",")
    .map((origin) => origin.trim())
    .filter(Boolean);
}

function optionalNumber(value: string | undefined): number | undefined {
  return value === undefined || value === "" ? undefined : Number(value);
}

function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(`${name} must be a whole number from ${min} to ${max}, not ${value}.`);
  }
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === value;
  } catch {
    return false;
  }
}
