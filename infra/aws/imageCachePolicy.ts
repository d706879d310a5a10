/**
 * The image behaviour's cache policy TTLs, in seconds: the CDK cache policy is built from them
 * (`constructs/ImageDistribution.ts`) and the local gateway's played CloudFront cache honours the same
 * numbers, so the two cannot drift apart.
 *
 * Images never change under their id (a delete invalidates), so CloudFront may keep them as long as the
 * origin's `Cache-Control` says, up to a year, and a day when it says nothing. Browsers see the response
 * headers policy's lifetime instead.
 */
export const IMAGE_CACHE_TTL_SECONDS = {
  min: 0,
  default: 24 * 60 * 60,
  max: 365 * 24 * 60 * 60,
} as const;

/** A cache policy's TTLs, in seconds. */
export interface CacheTtls {
  readonly min: number;
  readonly default: number;
  readonly max: number;
}
