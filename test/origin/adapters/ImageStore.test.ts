import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileImageStore } from "../../../origin/adapters/FileImageStore";
import { S3ImageStore } from "../../../origin/adapters/S3ImageStore";
import type { ImageStore } from "../../../origin/domain/ports";
import { noisyPng, pngBytes } from "../../support/images";
import { startS3Server } from "../../support/s3Server";

/**
 * The `ImageStore` contract, once for every adapter: what the origin relies on of its object store. The
 * S3 adapter runs against an S3-compatible server on loopback (s3rver), the file adapter on a fresh
 * directory. What only one of them can show (S3's cache header, the file store's key grammar and crash
 * safety) is in that adapter's own suite.
 */

interface StoreUnderTest {
  readonly store: ImageStore;
  stop(): Promise<void>;
}

const ADAPTERS: [string, () => Promise<StoreUnderTest>][] = [
  [
    "FileImageStore",
    async () => {
      const root = await mkdtemp(join(tmpdir(), "image-store-file-"));
      return {
        store: await FileImageStore.open(root),
        stop: () => rm(root, { recursive: true, force: true }),
      };
    },
  ],
  [
    "S3ImageStore",
    async () => {
      const s3 = await startS3Server();
      // Two keys per listing page, so that listing is seen to follow pages.
      return { store: new S3ImageStore(s3.client, s3.bucket, 2), stop: () => s3.stop() };
    },
  ],
];

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
/** What both stores' ETags look like: quoted hex (S3's is an MD5, the file store's a version id). */
const ETAG = /^"[0-9a-f]{32}"$/;

describe.each(ADAPTERS)("the ImageStore contract: %s", (_name, start) => {
  let subject: StoreUnderTest;
  let store: ImageStore;
  const put = (key: string, bytes: Uint8Array, contentType = "image/png") =>
    store.put(key, bytes, { contentType, sha256: sha256(bytes) });

  beforeAll(async () => {
    subject = await start();
    store = subject.store;
  });

  afterAll(async () => {
    await subject?.stop();
  });

  it("reads back what was written: bytes, type, size and a quoted ETag", async () => {
    // Prepare
    const bytes = pngBytes(3, 3, 2);
    const before = Date.now() - 1000;

    // Act
    await put("dev/j/entries/e/images/read-me", bytes);
    const head = await store.head("dev/j/entries/e/images/read-me");
    const object = await store.get("dev/j/entries/e/images/read-me");

    // Assess
    expect(head).toEqual({
      key: "dev/j/entries/e/images/read-me",
      size: bytes.byteLength,
      lastModified: expect.any(Date),
      eTag: expect.stringMatching(ETAG),
      contentType: "image/png",
    });
    expect(head?.lastModified.getTime()).toBeGreaterThanOrEqual(before);
    expect(object).toMatchObject({
      key: "dev/j/entries/e/images/read-me",
      size: bytes.byteLength,
      contentType: "image/png",
      bytes,
    });
  });

  it("replaces an object written again under the same key", async () => {
    // Prepare
    const first = pngBytes(3, 3, 3);
    const second = pngBytes(4, 4, 4);
    await put("dev/replace/me", first);
    const before = (await store.head("dev/replace/me"))?.eTag;

    // Act
    await put("dev/replace/me", second, "image/webp");
    const object = await store.get("dev/replace/me");

    // Assess
    expect(object).toMatchObject({ bytes: second, contentType: "image/webp", size: second.byteLength });
    expect((await store.head("dev/replace/me"))?.eTag).toMatch(ETAG);
    expect((await store.head("dev/replace/me"))?.eTag).not.toBe(before);
  });

  it("answers undefined for an object that is not there, by every read", async () => {
    // Act
    const reads = await Promise.all([
      store.head("dev/nothing/here"),
      store.get("dev/nothing/here"),
      store.readStart("dev/nothing/here", 16),
      store.stream("dev/nothing/here"),
    ]);

    // Assess
    expect(reads).toEqual([undefined, undefined, undefined, undefined]);
  });

  it("deletes an object, and deleting it again (or one never there) is no error", async () => {
    // Prepare
    await put("dev/delete/me", pngBytes(3, 3, 5));

    // Act
    await store.delete("dev/delete/me");
    await store.delete("dev/delete/me");
    await store.delete("dev/delete/never");

    // Assess
    expect(await store.get("dev/delete/me")).toBeUndefined();
  });

  it("lists every object under a prefix, and only those, in key order", async () => {
    // Prepare: written out of order, deeper keys among them
    const keys = ["list/a", "list/b/x", "list/b/y/z", "list/c", "list/d"];
    for (const key of [...keys].reverse()) await put(key, new Uint8Array([1, 2, 3]));
    await put("listed/not", new Uint8Array([1]));
    await put("other/f", new Uint8Array([1]));

    // Act
    const listed: { key: string; size: number }[] = [];
    for await (const object of store.list("list/")) listed.push({ key: object.key, size: object.size });
    const partial: string[] = [];
    for await (const object of store.list("list/b")) partial.push(object.key);

    // Assess
    expect(listed).toEqual(keys.map((key) => ({ key, size: 3 })));
    expect(partial).toEqual(["list/b/x", "list/b/y/z"]);
  });

  it("reads the first bytes of an object, and all of a shorter one", async () => {
    // Prepare
    const bytes = pngBytes(40, 40, 4);
    await put("incoming/start/long", bytes, "binary/octet-stream");

    // Act
    const start = await store.readStart("incoming/start/long", 16);
    const whole = await store.readStart("incoming/start/long", bytes.byteLength + 100);

    // Assess
    expect(start).toEqual(bytes.subarray(0, 16));
    expect(whole).toEqual(bytes);
  });

  it("streams an object's bytes in chunks, never whole", async () => {
    // Prepare
    const bytes = noisyPng(3 * 1024 * 1024);
    await put("incoming/stream/big", bytes, "binary/octet-stream");

    // Act
    const chunks: Uint8Array[] = [];
    for await (const chunk of (await store.stream("incoming/stream/big")) ?? []) chunks.push(chunk);

    // Assess
    expect(chunks.length).toBeGreaterThan(1);
    expect(Math.max(...chunks.map((chunk) => chunk.byteLength))).toBeLessThan(bytes.byteLength);
    expect(Buffer.compare(Buffer.concat(chunks), bytes)).toBe(0);
  });

  it("reads a whole object of the size measured into one buffer, and nothing of another size", async () => {
    // Prepare: larger than one read of either adapter
    const bytes = noisyPng(3 * 1024 * 1024);
    await put("incoming/whole/big", bytes, "binary/octet-stream");

    // Act
    const whole = await store.readAll("incoming/whole/big", bytes.byteLength);
    const shorter = await store.readAll("incoming/whole/big", bytes.byteLength - 1);
    const longer = await store.readAll("incoming/whole/big", bytes.byteLength + 1);
    const absent = await store.readAll("incoming/whole/nothing", 10);

    // Assess
    expect(whole?.byteLength).toBe(bytes.byteLength);
    expect(Buffer.compare(Buffer.from(whole ?? []), bytes)).toBe(0);
    expect(shorter).toBeUndefined();
    expect(longer).toBeUndefined();
    expect(absent).toBeUndefined();
  });

  it("reads and copies the version its If-Match names", async () => {
    // Prepare
    const bytes = pngBytes(6, 6, 6);
    await put("incoming/pinned/from", bytes, "binary/octet-stream");
    const eTag = (await store.head("incoming/pinned/from"))?.eTag;

    // Act
    const start = await store.readStart("incoming/pinned/from", 8, { ifMatch: eTag });
    const chunks: Uint8Array[] = [];
    for await (const chunk of (await store.stream("incoming/pinned/from", { ifMatch: eTag })) ?? [])
      chunks.push(chunk);

    const whole = await store.readAll("incoming/pinned/from", bytes.byteLength, { ifMatch: eTag });

    // Assess
    expect(start).toEqual(bytes.subarray(0, 8));
    expect(Buffer.concat(chunks)).toEqual(Buffer.from(bytes));
    expect(Buffer.from(whole ?? [])).toEqual(Buffer.from(bytes));
  });

  it("copies an object with the given type, leaving the source, and copies nothing that is not there", async () => {
    // Prepare
    const bytes = pngBytes(5, 5, 6);
    await put("incoming/copy/from", bytes, "binary/octet-stream");
    const { eTag } = (await store.head("incoming/copy/from")) ?? {};

    // Act
    const copied = await store.copy("incoming/copy/from", "dev/copy/to", {
      contentType: "image/png",
      ifMatch: eTag,
    });
    const missing = await store.copy("incoming/copy/missing", "dev/copy/nothing", {
      contentType: "image/png",
    });

    // Assess
    expect(copied).toBe(true);
    expect(await store.get("dev/copy/to")).toMatchObject({ bytes, contentType: "image/png" });
    expect((await store.head("dev/copy/to"))?.eTag).toBe(eTag);
    expect(await store.get("incoming/copy/from")).toMatchObject({
      bytes,
      contentType: "binary/octet-stream",
    });
    expect(missing).toBe(false);
    expect(await store.head("dev/copy/nothing")).toBeUndefined();
  });

  it("keeps a copy when its source is deleted afterwards", async () => {
    // Prepare
    const bytes = pngBytes(7, 7, 7);
    await put("incoming/moved/from", bytes, "binary/octet-stream");
    await store.copy("incoming/moved/from", "dev/moved/to", { contentType: "image/png" });

    // Act
    await store.delete("incoming/moved/from");

    // Assess
    expect(await store.get("dev/moved/to")).toMatchObject({ bytes, contentType: "image/png" });
    expect(await store.head("incoming/moved/from")).toBeUndefined();
  });
});
