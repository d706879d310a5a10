import { KeyRing } from "../contract/KeyRing";
import { keyLoaderFor, type SigningKeyLoader } from "../contract/keyLoaders";
import type { Log } from "../contract/log";
import type { Fetch } from "../contract/types";
import type { AuthorizeDeps } from "./authorize";
import { BoundedCache } from "./BoundedCache";
import type { EdgeConfig } from "./config";
import { DecisionCache } from "./DecisionCache";
import { JournalsClient } from "./JournalsClient";

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
