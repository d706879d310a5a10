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
