import type { CacheTtls } from "../../aws/imageCachePolicy";

/** One response as the played CloudFront keeps it: the whole body and the headers a hit is served with. */
export interface CachedResponse {
  readonly body: Buffer;
  readonly contentType: string;
  /** Quoted, as the store answered it. */
  readonly etag: string;
  /** An HTTP date. */
  readonly lastModified: string;
  /** When it was stored, in ms since the epoch: the `Age` of a hit counts from here. */
  readonly storedAt: number;
  /** When it stops being served, in ms since the epoch. */
  readonly expiresAt: number;
}

/** What the cache holds right now and how it was used, for tests and the start banner. */
export interface EdgeCacheStats {
  readonly entries: number;
  readonly bytes: number;
  readonly maxBytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  readonly invalidated: number;
}

/** The bound of the played edge cache, and its clock. */
export interface EdgeCacheOptions {
  /** The bound: bodies plus keys plus a fixed cost per entry never exceed it. 0 keeps nothing. */
  readonly maxBytes: number;
  readonly now?: () => number;
}

/** What an entry costs besides its body and key: the headers and the map's own bookkeeping. */
const ENTRY_OVERHEAD_BYTES = 512;
/**
 * One object may take at most this share of the cache, so a single large image cannot empty it. With the
 * default bound every image up to `MAX_IMAGE_BYTES` fits.
 */
const MAX_OBJECT_SHARE = 4;

/**
 * CloudFront's edge cache as the local gateway plays it: responses kept by cache key (the path after the
 * viewer-request rewrite, nothing else, as the image behaviour's cache policy keys them), each until its
 * TTL runs out, least recently used dropped first once the byte bound is reached, and removed at once by
 * an invalidation path (exact, or a prefix ending in `*`).
 */
export class EdgeCache {
  private readonly entries = new Map<string, CachedResponse>();
  private readonly now: () => number;
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private invalidated = 0;

  public readonly maxBytes: number;

  public constructor(options: EdgeCacheOptions) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 0) {
      throw new Error(`The CDN cache bound must be a whole number of bytes, not ${options.maxBytes}.`);
    }
    this.maxBytes = options.maxBytes;
    this.now = options.now ?? Date.now;
  }

  /** The largest body the cache keeps. */
  public get maxObjectBytes(): number {
    return Math.floor(this.maxBytes / MAX_OBJECT_SHARE);
  }

  /** The response under `key` while it is fresh; counts a hit or a miss. */
  public get(key: string): CachedResponse | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > this.now()) {
      // Re-inserted, so the map's order stays least recently used first.
      this.entries.delete(key);
      this.entries.set(key, entry);
      this.hits += 1;
      return entry;
    }
    if (entry) this.remove(key, entry);
    this.misses += 1;
    return undefined;
  }

  /** Keeps `response` under `key` if it fits, dropping the least recently used entries to make room. */
  public set(key: string, response: CachedResponse): boolean {
    const cost = costOf(key, response);
    const previous = this.entries.get(key);
    if (previous) this.remove(key, previous);
    if (response.body.byteLength > this.maxObjectBytes || cost > this.maxBytes) return false;
    if (response.expiresAt <= this.now()) return false;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes + cost <= this.maxBytes) break;
      this.remove(oldest, entry);
      this.evictions += 1;
    }
    this.entries.set(key, response);
    this.bytes += cost;
    return true;
  }

  /**
   * Removes every entry an invalidation path names: the exact key, or every key that starts with what
   * precedes a trailing `*`, as CloudFront matches them.
   *
   * @returns how many entries went
   */
  public invalidate(paths: readonly string[]): number {
    const matches = paths.map(invalidationMatcher);
    let removed = 0;
    for (const [key, entry] of this.entries) {
      if (!matches.some((match) => match(key))) continue;
      this.remove(key, entry);
      removed += 1;
    }
    this.invalidated += removed;
    return removed;
  }

  public stats(): EdgeCacheStats {
    return {
      entries: this.entries.size,
      bytes: this.bytes,
      maxBytes: this.maxBytes,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      invalidated: this.invalidated,
    };
  }

  private remove(key: string, entry: CachedResponse): void {
    this.entries.delete(key);
    this.bytes -= costOf(key, entry);
  }
}

/** Whether an invalidation path names a cache key: exactly, or by the prefix before a trailing `*`. */
export function invalidationMatcher(path: string): (key: string) => boolean {
  if (path.endsWith("*")) {
    const prefix = path.slice(0, -1);
    return (key) => key.startsWith(prefix);
  }
  return (key) => key === path;
}

/**
 * How long CloudFront keeps a response, in seconds, under a cache policy's TTLs: the origin's
 * `s-maxage`, else `max-age`, else `Expires`, clamped to [min, max]; the default TTL when it says none;
 * `no-store`, `no-cache` and `private` keep it only for the minimum TTL.
 */
export function ttlSeconds(
  headers: { readonly cacheControl?: string | undefined; readonly expires?: string | undefined },
  ttls: CacheTtls,
  now: number,
): number {
  const directives = new Map<string, string | undefined>();
  for (const part of (headers.cacheControl ?? "").split(",")) {
    const [name = "", value] = part.trim().toLowerCase().split("=", 2);
    if (name) directives.set(name, value?.replace(/^"|"$/g, ""));
  }
  if (directives.has("no-store") || directives.has("no-cache") || directives.has("private")) return ttls.min;
  const clamp = (seconds: number) => Math.min(ttls.max, Math.max(ttls.min, seconds));
  for (const name of ["s-maxage", "max-age"]) {
    const seconds = Number(directives.get(name));
    if (directives.has(name) && Number.isInteger(seconds) && seconds >= 0) return clamp(seconds);
  }
  const expires = headers.expires === undefined ? Number.NaN : Date.parse(headers.expires);
  if (!Number.isNaN(expires)) return clamp(Math.max(0, Math.floor((expires - now) / 1000)));
  return ttls.default;
}

function costOf(key: string, response: CachedResponse): number {
  return response.body.byteLength + Buffer.byteLength(key) + ENTRY_OVERHEAD_BYTES;
}
