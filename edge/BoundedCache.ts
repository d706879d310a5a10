/**
 * A per-container map with a size bound and an expiry per entry; the least recently used entry goes
 * first when full. Lambda containers are single-threaded and short-lived, so this stays small and simple.
 */
export class BoundedCache<V> {
  private readonly entries = new Map<string, { readonly value: V; readonly expiresAt: number }>();

  public constructor(private readonly maxEntries: number) {}

  /** The value, unless absent or expired at `nowMs`. */
  public get(key: string, nowMs: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= nowMs) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Keeps `value` until `expiresAt` (ms); an already expired value is not kept. */
  public set(key: string, value: V, expiresAt: number, nowMs: number): void {
    if (expiresAt <= nowMs || this.maxEntries <= 0) return;
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries)
      this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { value, expiresAt });
  }

  public get size(): number {
    return this.entries.size;
  }

  /** The keys held, least recently used first (for tests and diagnostics). */
  public keys(): string[] {
    return [...this.entries.keys()];
  }
}
