/**
 * The image behaviour's cache policy TTLs, in seconds: the CDK cache policy is built from them
 * (`constructs/ImageDistribution.ts`) and the local gateway's played CloudFront cache honours the same
 * numbers, so the two cannot drift apart.
 *
 * Images never change under their id (a delete invalidates), so CloudFront keeps them a year. Objects carry
 * no `Cache-Control` of their own (CloudFront then uses the default TTL): that header is left to the
 * response headers policy, which gives browsers the token's lifetime without overriding the `no-store`
 * every error carries.
 */
export const IMAGE_CACHE_TTL_SECONDS = {
  min: 0,
  default: 365 * 24 * 60 * 60,
  max: 365 * 24 * 60 * 60,
} as const;

/** A cache policy's TTLs, in seconds. */
export interface CacheTtls {
  readonly min: number;
  readonly default: number;
  readonly max: number;
}
