import type { AuthorizeDeps, Log } from "./authorize";
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
    now: overrides.now ?? Date.now,
    log: overrides.log ?? ((entry) => console.log(JSON.stringify(entry))),
  };
}

/**
 * Memoizes an async factory per container; a failure is not remembered, so the next request retries
 * (a Secrets Manager hiccup must not poison a warm container).
 */
export function once<T>(factory: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= factory().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
