import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3ImageStore } from "../../origin/S3ImageStore";
import { pngBytes } from "../support/images";
import { startS3Server, type TestS3, testS3Client } from "../support/s3Server";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("S3ImageStore on an S3-compatible server", () => {
  let s3: TestS3;
  let store: S3ImageStore;

  beforeAll(async () => {
    s3 = await startS3Server();
    store = new S3ImageStore(s3.client, s3.bucket, 2);
  });

  afterAll(async () => {
    await s3?.stop();
  });

  it("writes the bytes with their type and a year-long immutable cache lifetime", async () => {
    // Prepare
    const bytes = pngBytes(3, 3, 1);

    // Act
    await store.put("dev/j/entries/e/images/one", bytes, { contentType: "image/png", sha256: sha256(bytes) });

    // Assess
    expect(await s3.read("dev/j/entries/e/images/one")).toEqual({
      bytes,
      contentType: "image/png",
      cacheControl: "public, max-age=31536000, immutable",
    });
  });

  it("reads an object's size and bytes back", async () => {
    // Prepare
    const bytes = pngBytes(3, 3, 2);
    await store.put("dev/read/me", bytes, { contentType: "image/png", sha256: sha256(bytes) });

    // Act
    const head = await store.head("dev/read/me");
    const object = await store.get("dev/read/me");

    // Assess
    expect(head).toEqual({ key: "dev/read/me", size: bytes.byteLength, lastModified: expect.any(Date) });
    expect(object).toMatchObject({
      key: "dev/read/me",
      size: bytes.byteLength,
      contentType: "image/png",
      bytes,
    });
  });

  it("answers undefined for an object that is not there", async () => {
    // Act
    const head = await store.head("dev/nothing/here");
    const object = await store.get("dev/nothing/here");

    // Assess
    expect(head).toBeUndefined();
    expect(object).toBeUndefined();
  });

  it("deletes an object, and deleting it again is no error", async () => {
    // Prepare
    const bytes = pngBytes(3, 3, 3);
    await store.put("dev/delete/me", bytes, { contentType: "image/png", sha256: sha256(bytes) });

    // Act
    await store.delete("dev/delete/me");
    await store.delete("dev/delete/me");

    // Assess
    expect(await s3.read("dev/delete/me")).toBeUndefined();
  });

  it("lists every object under a prefix across pages, in key order", async () => {
    // Prepare: five objects, two per page
    const keys = ["list/a", "list/b", "list/c", "list/d", "list/e"];
    for (const key of keys) await s3.plant(key, new Uint8Array([1]));
    await s3.plant("other/f", new Uint8Array([1]));

    // Act
    const listed: string[] = [];
    for await (const object of store.list("list/")) listed.push(object.key);

    // Assess
    expect(listed).toEqual(keys);
  });

  it.each([
    ["a bucket that does not exist", () => new S3ImageStore(s3.client, "no-such-bucket")],
    ["a server that is gone", () => new S3ImageStore(testS3Client("http://127.0.0.1:9"), s3.bucket)],
  ])("answers 502 storage_unavailable for %s, never a silent success", async (_what, make) => {
    // Prepare
    const broken = make();
    const bytes = pngBytes(2, 2, 5);

    // Act
    const failures = await Promise.all([
      broken
        .put("k", bytes, { contentType: "image/png", sha256: sha256(bytes) })
        .catch((error: unknown) => error),
      broken.get("k").catch((error: unknown) => error),
      broken.delete("k").catch((error: unknown) => error),
      (async () => {
        for await (const _object of broken.list("")) break;
      })().catch((error: unknown) => error),
    ]);

    // Assess
    for (const failure of failures)
      expect(failure).toMatchObject({ status: 502, code: "storage_unavailable" });
  });
});
