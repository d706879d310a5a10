import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import fresh from "fresh";
import rangeParser from "range-parser";
import { HttpError, NotFoundError } from "../../../contract/errors";
import type { CacheTtls } from "../../aws/imageCachePolicy";
import { type CachedResponse, type EdgeCache, ttlSeconds } from "./EdgeCache";
import { writeError } from "./errorAnswer";
import type { ImageSource } from "./imageSource";

/** What CloudFront says of an error the origin answered; errors are not cached here. */
const ERROR_FROM_CLOUDFRONT = { "x-cache": "Error from cloudfront" };

/** The outcome of one trip to the origin, shared by every request for the same key that waited on it. */
type Fill =
  | { readonly kind: "missing" }
  | { readonly kind: "cached"; readonly response: CachedResponse }
  | { readonly kind: "through" };

/** What the played image behaviour is built from. */
export interface CachedImagesOptions {
  readonly source: ImageSource;
  readonly cache: EdgeCache;
  /** The image behaviour's cache policy TTLs. */
  readonly ttls: CacheTtls;
  readonly now?: () => number;
}

/**
 * CloudFront's image behaviour as the local gateway plays it: a hit is answered from the edge cache; a
 * miss goes to the image source once however many viewers wait for it (CloudFront collapses concurrent
 * misses), is kept for the policy's TTL when it fits, and is answered the same way; what is not kept (too
 * large, or a TTL of 0) the source answers itself. `HEAD`, `If-None-Match`/`If-Modified-Since` (304) and
 * `Range` (206, 416) are answered from what is cached, as the edge answers them.
 */
export class CachedImages {
  private readonly source: ImageSource;
  private readonly cache: EdgeCache;
  private readonly ttls: CacheTtls;
  private readonly now: () => number;
  private readonly filling = new Map<string, Promise<Fill>>();
  /** Bumped by every invalidation: a fill that started before one is served but never kept. */
  private epoch = 0;

  public constructor(options: CachedImagesOptions) {
    this.source = options.source;
    this.cache = options.cache;
    this.ttls = options.ttls;
    this.now = options.now ?? Date.now;
  }

  /**
   * Answers a read of the object `key` (the path the edge rewrote, without its leading `/`), with the
   * response headers policy's headers laid over the origin's. A missing object is the contract's
   * `404 not_found` JSON.
   */
  public async serve(
    key: string,
    request: IncomingMessage,
    response: ServerResponse,
    policyHeaders: Readonly<Record<string, string>>,
  ): Promise<void> {
    // The cache policy keys on the path alone: no query string, header or cookie.
    const cacheKey = `/${key}`;
    const hit = this.cache.get(cacheKey);
    if (hit) {
      const age = String(Math.max(0, Math.floor((this.now() - hit.storedAt) / 1000)));
      return respond(request, response, hit, { ...policyHeaders, "x-cache": "Hit from cloudfront", age });
    }
    let fill: Fill;
    try {
      fill = await this.fill(cacheKey, key);
    } catch (error) {
      return writeError(response, error, policyHeaders, ERROR_FROM_CLOUDFRONT);
    }
    const miss = { ...policyHeaders, "x-cache": "Miss from cloudfront" };
    if (fill.kind === "missing") {
      return writeError(response, new NotFoundError("No such image."), policyHeaders, ERROR_FROM_CLOUDFRONT);
    }
    if (fill.kind === "cached") return respond(request, response, fill.response, miss);
    return this.source.serve(key, request, response, miss);
  }

  /**
   * Drops every cached copy an invalidation path names and every fill under way for one, so the next
   * read goes to the source.
   *
   * @returns how many cached copies went
   */
  public invalidate(paths: readonly string[]): number {
    this.epoch += 1;
    this.filling.clear();
    return this.cache.invalidate(paths);
  }

  private fill(cacheKey: string, key: string): Promise<Fill> {
    const waiting = this.filling.get(cacheKey);
    if (waiting) return waiting;
    const started = this.fetch(cacheKey, key, this.epoch).finally(() => {
      if (this.filling.get(cacheKey) === started) this.filling.delete(cacheKey);
    });
    this.filling.set(cacheKey, started);
    return started;
  }

  private async fetch(cacheKey: string, key: string, epoch: number): Promise<Fill> {
    const object = await this.source.open(key);
    if (!object) return { kind: "missing" };
    const storedAt = this.now();
    const ttl = ttlSeconds({ cacheControl: object.cacheControl }, this.ttls, storedAt);
    if (ttl === 0 || object.size > this.cache.maxObjectBytes) return { kind: "through" };
    const body = await readAll(await object.read());
    const response: CachedResponse = {
      body,
      contentType: object.contentType,
      etag: object.etag,
      lastModified: object.lastModified.toUTCString(),
      storedAt,
      expiresAt: storedAt + ttl * 1000,
    };
    // An invalidation while the bytes were on their way may concern them: serve them once, keep nothing.
    if (epoch === this.epoch) this.cache.set(cacheKey, response);
    return { kind: "cached", response };
  }
}

/** Answers `GET`/`HEAD` from a cached response: 304 when the viewer's copy is fresh, 206/416 for a range. */
function respond(
  request: IncomingMessage,
  response: ServerResponse,
  cached: CachedResponse,
  headers: Readonly<Record<string, string>>,
): void {
  const size = cached.body.byteLength;
  const validators = { etag: cached.etag, "last-modified": cached.lastModified };
  // A viewer's `Cache-Control: no-cache` (which fetch adds to every conditional request) does not make
  // CloudFront skip its cache or the comparison, so only the conditions themselves are weighed.
  const conditions = {
    "if-none-match": request.headers["if-none-match"],
    "if-modified-since": request.headers["if-modified-since"],
  };
  if (fresh(conditions, validators)) {
    response.writeHead(304, { ...validators, ...headers });
    response.end();
    return;
  }
  let range: rangeParser.Range | undefined;
  const requested = request.headers.range;
  if (requested !== undefined) {
    const ranges = rangeParser(size, requested, { combine: true });
    if (ranges === -1) {
      const unsatisfiable = new HttpError(
        416,
        "range_not_satisfiable",
        "The requested range is not satisfiable.",
      );
      writeError(response, unsatisfiable, headers, { "content-range": `bytes */${size}` });
      return;
    }
    // A malformed header, another unit or several ranges: the whole object, as S3 answers them.
    if (ranges !== -2 && ranges.type === "bytes" && ranges.length === 1) range = ranges[0];
  }
  response.writeHead(range ? 206 : 200, {
    "content-type": cached.contentType,
    "content-length": String(range ? range.end - range.start + 1 : size),
    ...validators,
    "accept-ranges": "bytes",
    ...(range && { "content-range": `bytes ${range.start}-${range.end}/${size}` }),
    ...headers,
  });
  if (request.method === "HEAD") response.end();
  else response.end(range ? cached.body.subarray(range.start, range.end + 1) : cached.body);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
