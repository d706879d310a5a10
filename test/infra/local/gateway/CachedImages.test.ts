import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageSource } from "../../../../infra/local/gateway/imageSource";
import {
  type LocalGateway,
  type LocalGatewayOptions,
  startLocalGateway,
} from "../../../../infra/local/gateway/LocalGateway";
import { createLocalOrigin } from "../../../../infra/local/gateway/localOrigin";
import type { DemoUser } from "../../../../infra/local/gateway/localState";
import { noInvalidation } from "../../../../origin/adapters/CloudFrontInvalidator";
import { noisyPng, pngBytes } from "../../../support/images";
import { uploadForm } from "../../../support/origin";

const ENTRY = "/api/journals/alice-travel/entries/lisbon-2026";

/** The store behind the played CloudFront, with every object it was asked for counted by key. */
class CountingSource implements ImageSource {
  public readonly opened = new Map<string, number>();

  public constructor(private readonly inner: ImageSource) {}

  public open(key: string) {
    this.opened.set(key, (this.opened.get(key) ?? 0) + 1);
    return this.inner.open(key);
  }

  public serve(...args: Parameters<ImageSource["serve"]>) {
    return this.inner.serve(...args);
  }

  public reads(url: string): number {
    return this.opened.get(`dev${url.slice("/journals".length)}`) ?? 0;
  }
}

interface Started {
  readonly gateway: LocalGateway;
  readonly store: CountingSource;
  readonly alice: DemoUser;
  readonly logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

async function start(options: Partial<LocalGatewayOptions> = {}): Promise<Started> {
  const dataDir = await mkdtemp(join(tmpdir(), "cdn-"));
  const logs: Record<string, unknown>[] = [];
  let store: CountingSource | undefined;
  const gateway = await startLocalGateway({
    env: { DATA_DIR: dataDir },
    createOrigin: createLocalOrigin,
    port: 0,
    log: (entry) => logs.push({ ...entry }),
    wrapImageSource: (source) => {
      store = new CountingSource(source);
      return store;
    },
    ...options,
  });
  return {
    gateway,
    store: store as CountingSource,
    alice: (gateway.demoUsers as DemoUser[])[0] as DemoUser,
    logs,
    stop: async () => {
      await gateway.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function upload(
  started: Started,
  bytes: Uint8Array<ArrayBuffer>,
): Promise<{ id: string; url: string }> {
  const response = await fetch(`${started.gateway.url}${ENTRY}/images`, {
    method: "POST",
    headers: { authorization: started.alice.authorization },
    body: uploadForm(bytes),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; url: string };
}

async function tokenFor(started: Started): Promise<string> {
  const response = await fetch(`${started.gateway.url}${ENTRY}/access`, {
    method: "POST",
    headers: { authorization: started.alice.authorization },
  });
  return ((await response.json()) as { token: string }).token;
}

async function read(started: Started, url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${started.gateway.url}${url}?token=${await tokenFor(started)}`, init);
}

describe("the played CloudFront cache", () => {
  let started: Started;
  beforeAll(async () => {
    started = await start();
  });
  afterAll(() => started?.stop());

  it("answers a second read, HEAD, Range and 304 from the cache without asking the store", async () => {
    // Prepare
    const image = await upload(started, pngBytes(20, 20, 1));

    // Act
    const first = await read(started, image.url);
    const bytes = Buffer.from(await first.arrayBuffer());
    const readsAfterFirst = started.store.reads(image.url);
    const second = await read(started, image.url);
    const head = await read(started, image.url, { method: "HEAD" });
    const range = await read(started, image.url, { headers: { range: "bytes=1-4" } });
    const notModified = await read(started, image.url, {
      headers: { "if-none-match": first.headers.get("etag") ?? "" },
    });
    const unsatisfiable = await read(started, image.url, {
      headers: { range: `bytes=${bytes.byteLength}-` },
    });

    // Assess
    expect(first.headers.get("x-cache")).toBe("Miss from cloudfront");
    expect(readsAfterFirst).toBe(1);
    expect(second.headers.get("x-cache")).toBe("Hit from cloudfront");
    expect(second.headers.get("age")).toMatch(/^\d+$/);
    expect(Buffer.from(await second.arrayBuffer())).toEqual(bytes);
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(bytes.byteLength));
    expect(range.status).toBe(206);
    expect(range.headers.get("content-range")).toBe(`bytes 1-4/${bytes.byteLength}`);
    expect(Buffer.from(await range.arrayBuffer())).toEqual(bytes.subarray(1, 5));
    expect(notModified.status).toBe(304);
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers.get("content-range")).toBe(`bytes */${bytes.byteLength}`);
    expect(await unsatisfiable.json()).toMatchObject({ error: { code: "range_not_satisfiable" } });
    expect(started.store.reads(image.url)).toBe(1);
  });

  it("keys on the path alone: a token, a cookie and the Authorization header share one cached copy", async () => {
    // Prepare
    const image = await upload(started, pngBytes(21, 20, 2));
    const token = await tokenFor(started);

    // Act
    const byQuery = await fetch(`${started.gateway.url}${image.url}?token=${token}`);
    const byCookie = await fetch(`${started.gateway.url}${image.url}`, {
      headers: { cookie: `image_token=${token}` },
    });
    const byHeader = await fetch(`${started.gateway.url}${image.url}`, {
      headers: { authorization: started.alice.authorization },
    });

    // Assess
    expect([byQuery.status, byCookie.status, byHeader.status]).toEqual([200, 200, 200]);
    expect(byCookie.headers.get("x-cache")).toBe("Hit from cloudfront");
    expect(byHeader.headers.get("x-cache")).toBe("Hit from cloudfront");
    expect(started.store.reads(image.url)).toBe(1);
  });

  it("never answers from the cache before the edge allowed the read", async () => {
    // Prepare: a cached image, and bob, who may not open alice's entry
    const image = await upload(started, pngBytes(26, 20, 7));
    await (await read(started, image.url)).arrayBuffer();
    const bob = (started.gateway.demoUsers as DemoUser[])[1] as DemoUser;

    // Act
    const anonymous = await fetch(`${started.gateway.url}${image.url}`);
    const other = await fetch(`${started.gateway.url}${image.url}`, {
      headers: { authorization: bob.authorization },
    });

    // Assess
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("x-cache")).toBe("LambdaGeneratedResponse from cloudfront");
    expect(other.status).toBe(403);
    expect(other.headers.get("x-cache")).toBe("LambdaGeneratedResponse from cloudfront");
    expect(started.store.reads(image.url)).toBe(1);
  });

  it("stops serving a read from the cache once the delete's invalidation arrives", async () => {
    // Prepare: the image read twice, the second time from the cache
    const image = await upload(started, pngBytes(22, 20, 3));
    await (await read(started, image.url)).arrayBuffer();
    const cached = await read(started, image.url);
    await cached.arrayBuffer();

    // Act
    const deleted = await fetch(`${started.gateway.url}${ENTRY}/images/${image.id}`, {
      method: "DELETE",
      headers: { authorization: started.alice.authorization },
    });
    const after = await read(started, image.url);

    // Assess: the cached copy was served, the invalidation named it, the store was asked again
    expect(cached.headers.get("x-cache")).toBe("Hit from cloudfront");
    expect(deleted.status).toBe(204);
    expect(started.logs).toContainEqual({
      level: "info",
      event: "cdn_invalidation",
      // The key's wildcard covers the image's variants too.
      paths: [image.url, `/dev${image.url.slice("/journals".length)}*`],
      removed: 1,
    });
    expect(after.status).toBe(404);
    expect(after.headers.get("x-cache")).toBe("Error from cloudfront");
    expect(await after.json()).toMatchObject({ error: { code: "not_found" } });
    expect(started.store.reads(image.url)).toBe(2);
  });

  it("invalidates every image of an entry with one wildcard path", async () => {
    // Prepare
    const images = [await upload(started, pngBytes(23, 20, 4)), await upload(started, pngBytes(24, 20, 5))];
    for (const image of images) await (await read(started, image.url)).arrayBuffer();

    // Act
    const deleted = await fetch(`${started.gateway.url}${ENTRY}/images`, {
      method: "DELETE",
      headers: { authorization: started.alice.authorization },
    });
    const after = await Promise.all(images.map((image) => read(started, image.url)));

    // Assess
    expect(deleted.status).toBe(204);
    expect(started.logs).toContainEqual(
      expect.objectContaining({
        event: "cdn_invalidation",
        paths: [
          "/journals/alice-travel/entries/lisbon-2026/images/*",
          "/dev/alice-travel/entries/lisbon-2026/images/*",
        ],
      }),
    );
    expect(after.map((response) => response.status)).toEqual([404, 404]);
  });
});

describe("a delete whose invalidation never reaches the played CloudFront", () => {
  it("keeps serving the deleted image from the cache, as a real deploy would", async () => {
    // Prepare: the origin's invalidator does nothing
    const started = await start({
      createOrigin: (options) => createLocalOrigin({ ...options, invalidator: noInvalidation }),
    });
    try {
      const image = await upload(started, pngBytes(25, 20, 6));
      await (await read(started, image.url)).arrayBuffer();

      // Act
      const deleted = await fetch(`${started.gateway.url}${ENTRY}/images/${image.id}`, {
        method: "DELETE",
        headers: { authorization: started.alice.authorization },
      });
      const after = await read(started, image.url);

      // Assess: the failure the invalidation exists to prevent
      expect(deleted.status).toBe(204);
      expect(after.status).toBe(200);
      expect(after.headers.get("x-cache")).toBe("Hit from cloudfront");
    } finally {
      await started.stop();
    }
  });
});

describe("the played cache's bound", () => {
  it("never holds more than its bytes, dropping the least recently used, and reads larger objects through", async () => {
    // Prepare: 96 KiB of cache, so at most 24 KiB per object
    const bound = 96 * 1024;
    const started = await start({ cdnCacheBytes: bound });
    try {
      const small = [];
      for (let index = 0; index < 8; index += 1) small.push(await upload(started, noisyPng(15 * 1024)));
      const large = await upload(started, noisyPng(40 * 1024));

      // Act
      for (const image of small) await (await read(started, image.url)).arrayBuffer();
      const stats = started.gateway.cdnCache();
      const oldest = await read(started, small[0]?.url ?? "");
      const largeFirst = await read(started, large.url);
      const largeBytes = Buffer.from(await largeFirst.arrayBuffer());
      const largeRange = await read(started, large.url, { headers: { range: "bytes=10-19" } });

      // Assess
      expect(stats.maxBytes).toBe(bound);
      expect(stats.bytes).toBeLessThanOrEqual(bound);
      expect(stats.evictions).toBeGreaterThan(0);
      expect(oldest.headers.get("x-cache")).toBe("Miss from cloudfront");
      expect(largeFirst.status).toBe(200);
      expect(largeRange.status).toBe(206);
      expect(largeRange.headers.get("x-cache")).toBe("Miss from cloudfront");
      expect(Buffer.from(await largeRange.arrayBuffer())).toEqual(largeBytes.subarray(10, 20));
      expect(started.gateway.cdnCache().bytes).toBeLessThanOrEqual(bound);
    } finally {
      await started.stop();
    }
  });
});
