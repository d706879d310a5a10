import type { AuthorizeDeps, Log } from "./authorize";
import { BoundedCache } from "./BoundedCache";
import type { EdgeConfig } from "./config";
import { DecisionCache } from "./DecisionCache";
import { type Fetch, JournalsClient } from "./JournalsClient";
import { KeyRing } from "./KeyRing";
import { keyLoaderFor, type SigningKeyLoader } from "./keyLoaders";

/** What a caller may replace: tests and the local gateway pass their own; AWS uses the defaults. */
export interface EdgeOverrides {
  readonly keyLoader?: SigningKeyLoader;
  readonly fetch?: Fetch;
  readonly now?: () => number;
  readonly log?: Log;
}

// Refusals are remembered only briefly, so access granted in the app takes effect quickly.
const DENY_TTL_MS = 5_000;
const VERIFIED_TOKENS_MAX_ENTRIES = 2_000;

/** Builds everything a decision consults: keys loaded and imported once, one client, one cache. */
export async function createEdgeDeps(
  config: EdgeConfig,
  overrides: EdgeOverrides = {},
): Promise<AuthorizeDeps> {
  const keyLoader = overrides.keyLoader ?? keyLoaderFor(config.signingKeys);
  const keys = await KeyRing.create(await keyLoader.load());
  const allowTtlMs = config.decisionCacheTtlSeconds * 1000;
  return {
    config,
    keys,
    journals: new JournalsClient(config.journalsApiUrl, config.journalsTimeoutMs, overrides.fetch),
    decisions: new DecisionCache(
      allowTtlMs,
      Math.min(DENY_TTL_MS, allowTtlMs),
      config.decisionCacheMaxEntries,
    ),
    verifiedTokens: new BoundedCache(VERIFIED_TOKENS_MAX_ENTRIES),
    now: overrides.now ?? Date.now,
    log: overrides.log ?? ((entry) => console.log(JSON.stringify(entry))),
  };
}

/**
 * Memoizes an async factory per container and builds it again every `maxAgeMs`, so rotated signing keys
 * reach warm containers. A refresh runs behind the current value, which keeps serving until the new one
 * is ready, and a failed load is not remembered: the next request tries again.
 */
export function refreshing<T>(
  factory: () => Promise<T>,
  maxAgeMs: number,
  now: () => number = Date.now,
): () => Promise<T> {
  let current: { readonly value: T; readonly loadedAt: number } | undefined;
  let pending: Promise<T> | undefined;
  const load = (): Promise<T> => {
    pending ??= factory()
      .then((value) => {
        current = { value, loadedAt: now() };
        return value;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  return async () => {
    if (!current) return load();
    if (now() - current.loadedAt >= maxAgeMs) load().catch(() => undefined);
    return current.value;
  };
}
