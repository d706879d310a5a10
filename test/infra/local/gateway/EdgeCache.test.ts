import { describe, expect, it } from "vitest";
import { IMAGE_CACHE_TTL_SECONDS } from "../../../../infra/aws/imageCachePolicy";
import { type CachedResponse, EdgeCache, ttlSeconds } from "../../../../infra/local/gateway/EdgeCache";

const NOW = 1_000_000;

function response(bytes: number, ttlSeconds = 60): CachedResponse {
  return {
    body: Buffer.alloc(bytes),
    contentType: "image/png",
    etag: '"e"',
    lastModified: new Date(NOW).toUTCString(),
    storedAt: NOW,
    expiresAt: NOW + ttlSeconds * 1000,
  };
}

describe("EdgeCache", () => {
  it("drops the least recently used entries to stay within its bytes", () => {
    // Prepare: room for three 1000-byte bodies with their keys and overhead
    let now = NOW;
    const cache = new EdgeCache({ maxBytes: 3 * 1600, now: () => now });
    cache.set("/a", response(1000));
    cache.set("/b", response(1000));
    cache.set("/c", response(1000));

    // Act: /a is used, so /b is the oldest when /d arrives
    cache.get("/a");
    cache.set("/d", response(1000));
    now += 1;

    // Assess
    expect(cache.get("/b")).toBeUndefined();
    expect(cache.get("/a")).toBeDefined();
    expect(cache.get("/d")).toBeDefined();
    expect(cache.stats()).toMatchObject({ entries: 3, evictions: 1 });
    expect(cache.stats().bytes).toBeLessThanOrEqual(3 * 1600);
  });

  it("keeps nothing larger than a quarter of its bytes, and nothing at all with a bound of 0", () => {
    const cache = new EdgeCache({ maxBytes: 4000, now: () => NOW });
    const off = new EdgeCache({ maxBytes: 0, now: () => NOW });
    expect(cache.set("/large", response(1001))).toBe(false);
    expect(cache.set("/fits", response(400))).toBe(true);
    expect(off.set("/any", response(1))).toBe(false);
    expect(off.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it("stops serving an entry once its TTL has passed", () => {
    let now = NOW;
    const cache = new EdgeCache({ maxBytes: 10_000, now: () => now });
    cache.set("/a", response(10, 60));
    now += 59_999;
    expect(cache.get("/a")).toBeDefined();
    now += 1;
    expect(cache.get("/a")).toBeUndefined();
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0, hits: 1, misses: 1 });
  });

  it("invalidates exact paths and prefixes ending in *, nothing else", () => {
    // Prepare
    const cache = new EdgeCache({ maxBytes: 100_000, now: () => NOW });
    for (const key of [
      "/dev/j/entries/e/images/1",
      "/dev/j/entries/e/images/10",
      "/dev/j/entries/e2/images/1",
    ]) {
      cache.set(key, response(10));
    }

    // Act
    const exact = cache.invalidate(["/dev/j/entries/e/images/1"]);
    const wildcard = cache.invalidate(["/dev/j/entries/e/*"]);

    // Assess
    expect(exact).toBe(1);
    expect(wildcard).toBe(1);
    expect(cache.get("/dev/j/entries/e2/images/1")).toBeDefined();
    expect(cache.stats()).toMatchObject({ entries: 1, invalidated: 2 });
  });
});

describe("ttlSeconds, as CloudFront weighs the origin's headers against the cache policy", () => {
  const ttls = IMAGE_CACHE_TTL_SECONDS;

  it.each([
    ["no Cache-Control: the default TTL", {}, ttls.default],
    ["max-age within the bounds", { cacheControl: "public, max-age=600" }, 600],
    ["the images' own year-long max-age", { cacheControl: "public, max-age=31536000, immutable" }, ttls.max],
    ["max-age above the maximum: the maximum", { cacheControl: "max-age=999999999" }, ttls.max],
    ["s-maxage before max-age", { cacheControl: "max-age=600, s-maxage=60" }, 60],
    ["no-store: the minimum", { cacheControl: "no-store" }, ttls.min],
    ["private: the minimum", { cacheControl: "private, max-age=600" }, ttls.min],
    ["Expires in 120 s", { expires: new Date(NOW + 120_000).toUTCString() }, 120],
  ])("%s", (_name, headers, expected) => {
    expect(ttlSeconds(headers, ttls, NOW)).toBe(expected);
  });
});
