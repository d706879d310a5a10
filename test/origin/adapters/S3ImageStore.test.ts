import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3ImageStore } from "../../../origin/adapters/S3ImageStore";
import { pngBytes } from "../../support/images";
import { startS3Server, type TestS3, testS3Client } from "../../support/s3Server";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/**
 * What only the S3 adapter shows; what every `ImageStore` must do is the contract suite's
 * (`ImageStore.test.ts`), which runs over this adapter too.
 */
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
      // No Cache-Control: the CDN keeps objects by its own TTL, and browsers get the token's lifetime.
      cacheControl: undefined,
    });
  });

  /** A store whose every call gets the error S3 answers with `name` (for answers s3rver never gives). */
  function answering(name: string, status: number, message: string): S3ImageStore {
    const client = testS3Client(s3.endpoint);
    client.middlewareStack.add(
      () => async () => {
        throw Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
      },
      { step: "finalizeRequest" },
    );
    return new S3ImageStore(client, s3.bucket);
  }

  it("reads the start of an empty object (S3's 416 to any range) as no bytes", async () => {
    // Prepare: s3rver never answers a range of an empty object, so S3's answer is played
    const empty = answering("InvalidRange", 416, "The requested range is not satisfiable");

    // Act
    const start = await empty.readStart("incoming/start/empty", 16);

    // Assess
    expect(start).toEqual(new Uint8Array());
  });

  it("copies an object store-side with the given type and the images' cache lifetime", async () => {
    // Prepare
    const bytes = pngBytes(5, 5, 6);
    await s3.plant("incoming/copy/from", bytes, "application/octet-stream");
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
    expect(await s3.read("dev/copy/to")).toEqual({
      bytes,
      contentType: "image/png",
      // No Cache-Control: the CDN keeps objects by its own TTL, and browsers get the token's lifetime.
      cacheControl: undefined,
    });
    expect(missing).toBe(false);
    expect(await s3.read("dev/copy/nothing")).toBeUndefined();
  });

  it("reads a version that is no longer there (S3's 412 to If-Match) as absent", async () => {
    // Prepare: S3's answer to a read or copy whose If-Match no longer holds (s3rver ignores If-Match)
    const changed = answering("PreconditionFailed", 412, "At least one of the pre-conditions did not hold");
    const pinned = { ifMatch: '"0123456789abcdef0123456789abcdef"' };

    // Act
    const start = await changed.readStart("incoming/any", 16, pinned);
    const chunks = await changed.stream("incoming/any", pinned);
    const whole = await changed.readAll("incoming/any", 16, pinned);
    const copied = await changed.copy("incoming/any", "dev/any", { ...pinned, contentType: "image/png" });

    // Assess
    expect(start).toBeUndefined();
    expect(chunks).toBeUndefined();
    expect(whole).toBeUndefined();
    expect(copied).toBe(false);
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
      broken.readStart("k", 16).catch((error: unknown) => error),
      broken.stream("k").catch((error: unknown) => error),
      broken.readAll("k", 16).catch((error: unknown) => error),
      broken.copy("k", "l", { contentType: "image/png" }).catch((error: unknown) => error),
      (async () => {
        for await (const _object of broken.list("")) break;
      })().catch((error: unknown) => error),
    ]);

    // Assess
    for (const failure of failures)
      expect(failure).toMatchObject({ status: 502, code: "storage_unavailable" });
  });
});
