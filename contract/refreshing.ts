import { consoleLog, describeError, type Log } from "./log";

/** How a `refreshing` value is loaded, named and logged. */
export interface RefreshOptions {
  /** What is loaded, as the log line names it: "signing keys", "edge dependencies", ... */
  readonly what: string;
  readonly log?: Log;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
  /** The wait after a first failed load; it doubles with each failure after, up to `MAX_RETRY_MS`. */
  readonly retryMs?: number;
}

/** The first wait after a failed load: a blip in Secrets Manager is over by then. */
export const FIRST_RETRY_MS = 1_000;
/** The longest wait between two attempts of a load that keeps failing. */
export const MAX_RETRY_MS = 60_000;

/**
 * Memoizes an async factory per container and builds it again every `maxAgeMs`, so rotated signing keys
 * reach warm containers. A refresh runs behind the current value, which keeps serving until the new one
 * is ready. A failed load is logged once, with what failed and why, and the next attempt waits (1 s,
 * doubling up to a minute): a bad rotated secret is visible in the logs and no steady load on the secret
 * store. Without any value yet, a call in that wait fails with the same error at once.
 */
export function refreshing<T>(
  factory: () => Promise<T>,
  maxAgeMs: number,
  options: RefreshOptions,
): () => Promise<T> {
  const { what, log = consoleLog, now = Date.now, retryMs = FIRST_RETRY_MS } = options;
  let current: { readonly value: T; readonly loadedAt: number } | undefined;
  let failure: { readonly error: unknown; readonly retryAt: number; readonly waitMs: number } | undefined;
  let pending: Promise<T> | undefined;
  const load = (): Promise<T> => {
    pending ??= factory()
      .then((value) => {
        if (failure) log({ level: "info", event: "refresh_recovered", what });
        current = { value, loadedAt: now() };
        failure = undefined;
        return value;
      })
      .catch((error: unknown) => {
        const waitMs = failure ? Math.min(failure.waitMs * 2, MAX_RETRY_MS) : Math.min(retryMs, MAX_RETRY_MS);
        failure = { error, retryAt: now() + waitMs, waitMs };
        log({
          level: "error",
          event: "refresh_failed",
          what,
          error: describeError(error),
          // A refresh that fails keeps the last value serving; a first load has none.
          serving: current ? "previous" : "nothing",
          retry_in_ms: waitMs,
        });
        throw error;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  const waiting = () => failure !== undefined && now() < failure.retryAt;
  return async () => {
    if (!current) {
      if (waiting()) throw failure?.error;
      return load();
    }
    if (now() - current.loadedAt >= maxAgeMs && !waiting()) load().catch(() => undefined);
    return current.value;
  };
}
