import { createHash } from "node:crypto";
import sharp from "sharp";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { IMAGE_ID_PATTERN } from "../../../contract/constants";
import type { EntryRef } from "../../../contract/types";
import { finalizeDepsOf, finalizeUpload, imageIdOf } from "../../../origin/domain/finalize";
import type { ImageRecord } from "../../../origin/domain/ports";
import { type Bytes, noisyPng, pngBytes } from "../../support/images";
import {
  freshEntry,
  type IssuedTicket,
  imagesPath,
  METADATA_ADAPTERS,
  objectKey,
  postForm,
  stagingKey,
  uploadForm,
  useOriginStack,
} from "../../support/origin";
import { leakedText, phonePhoto, pngBomb } from "../../support/photos";
import { objectCreated } from "../../support/s3Events";

const MAX_IMAGE_BYTES = 6 * 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const HTML = Buffer.from("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>");

interface UploadStatus {
  readonly status: "pending" | "ready" | "rejected";
  readonly id: string;
  readonly image?: ImageRecord | null;
  readonly error?: { readonly code: string; readonly message: string };
}

describe.each(METADATA_ADAPTERS)("finalizing presigned uploads on %s metadata", (adapter) => {
  const { s3, metadata, origin } = useOriginStack(adapter, { config: { maxImageBytes: MAX_IMAGE_BYTES } });

  beforeEach(() => {
    origin.logs.length = 0;
    origin.imageFaults.reset();
    metadata.resetFaults();
    vi.restoreAllMocks();
  });

  /** A ticket, and the file sent with its form straight to the S3-compatible server. */
  async function staged(
    bytes: Bytes,
    entry = freshEntry(),
    filename = "photo.png",
    declared = bytes.byteLength,
  ) {
    const ticket = await origin.ticket(entry, { name: "holiday", size: declared });
    const posted = await postForm(ticket.upload, bytes, filename);
    expect(posted.status).toBe(204);
    return { entry, ticket, key: stagingKey(entry, ticket.id) };
  }

  async function statusOf(entry: EntryRef, ticket: IssuedTicket): Promise<UploadStatus> {
    return (await (await origin.uploadStatus(entry, ticket.id)).json()) as UploadStatus;
  }

  async function imagesOf(entry: EntryRef): Promise<ImageRecord[]> {
    return (
      (await (await origin.send("GET", imagesPath(entry), { entry })).json()) as { images: ImageRecord[] }
    ).images;
  }

  const objectsOf = (entry: EntryRef) => s3.keys(`dev/${entry.journalId}/entries/${entry.entryId}/`);

  it("finalizes a real presigned POST: validated, copied to its key with the detected type, recorded", async () => {
    // Prepare
    const bytes = pngBytes(32, 24, 1);
    const { entry, ticket, key } = await staged(bytes);

    // Act
    await origin.notify(key);

    // Assess
    const status = await statusOf(entry, ticket);
    const record = status.image as ImageRecord;
    expect(status).toEqual({ status: "ready", id: ticket.id, image: record });
    expect(record).toEqual({
      id: imageIdOf(ticket.id, sha256(bytes)),
      journal_id: entry.journalId,
      entry_id: entry.entryId,
      name: "holiday",
      extension: "png",
      content_type: "image/png",
      size: bytes.byteLength,
      sha256: sha256(bytes),
      width: 32,
      height: 24,
      created_at: new Date(origin.clock.now()).toISOString(),
      url: `/journals/${entry.journalId}/entries/${entry.entryId}/images/${record.id}`,
    });
    expect(await s3.read(objectKey(record))).toEqual({
      bytes,
      contentType: "image/png",
      // No Cache-Control: the CDN keeps objects by its own TTL, and browsers get the token's lifetime.
      cacheControl: undefined,
    });
    expect(await s3.keys(key)).toEqual([]);
    expect(await imagesOf(entry)).toEqual([record]);
    expect(origin.logs).toContainEqual({
      level: "info",
      event: "upload_finalized",
      upload_id: ticket.id,
      status: "ready",
      image_id: record.id,
      error_code: null,
      size: bytes.byteLength,
    });
  });

  it("stores a presigned phone photo as a direct upload is stored: no EXIF, XMP or IPTC, upright", async () => {
    // Prepare
    const photo = await phonePhoto();
    const { entry, ticket, key } = await staged(photo, freshEntry(), "phone.jpg");

    // Act
    await origin.notify(key);

    // Assess: the record describes the stored bytes, which hold nothing private and display upright
    const record = (await statusOf(entry, ticket)).image as ImageRecord;
    const stored = (await s3.read(objectKey(record)))?.bytes as Uint8Array;
    expect(record).toMatchObject({
      content_type: "image/jpeg",
      width: 480,
      height: 384,
      size: stored.byteLength,
    });
    expect(record.sha256).toBe(sha256(stored));
    const metadata = await sharp(stored).metadata();
    expect([metadata.exif, metadata.xmp, metadata.iptc, metadata.orientation]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(leakedText(stored)).toEqual([]);
    expect(await s3.keys(key)).toEqual([]);
  });

  it("rejects a presigned decompression bomb as invalid_image, keeping nothing", async () => {
    // Prepare
    const { entry, ticket, key } = await staged(pngBomb(30_000));

    // Act
    await origin.notify(key);

    // Assess
    expect(await statusOf(entry, ticket)).toMatchObject({
      status: "rejected",
      error: { code: "invalid_image" },
    });
    expect(await objectsOf(entry)).toEqual([]);
    expect(await s3.keys(key)).toEqual([]);
  });

  it("takes a 5 MB PNG end to end, through to the same bytes readable at its key", async () => {
    // Prepare
    const bytes = noisyPng(5 * 1024 * 1024);
    const { entry, ticket, key } = await staged(bytes);

    // Act
    await origin.notify(key);

    // Assess
    const { image } = await statusOf(entry, ticket);
    expect(image?.size).toBe(bytes.byteLength);
    const stored = await s3.read(objectKey(image as ImageRecord));
    expect(stored?.contentType).toBe("image/png");
    expect(Buffer.compare(Buffer.from(stored?.bytes ?? []), Buffer.from(bytes))).toBe(0);
  });

  it("reads the type from a ranged read of the first bytes, then the version measured once, into one buffer", async () => {
    // Prepare
    const bytes = pngBytes(20, 20, 2);
    const { key } = await staged(bytes);
    const readStart = vi.spyOn(origin.deps.images, "readStart");
    const readAll = vi.spyOn(origin.deps.images, "readAll");
    const get = vi.spyOn(origin.deps.images, "get");

    // Act
    await origin.notify(key);

    // Assess
    const pinned = { ifMatch: expect.stringMatching(/^"[0-9a-f]{32}"$/) };
    expect(readStart).toHaveBeenCalledWith(key, 4100, pinned);
    expect(readAll).toHaveBeenCalledTimes(1);
    expect(readAll).toHaveBeenCalledWith(key, bytes.byteLength, pinned);
    expect(get).not.toHaveBeenCalled();
  });

  it("rejects HTML sent as a .png: the reason kept, nothing left behind", async () => {
    // Prepare
    const { entry, ticket, key } = await staged(new Uint8Array(HTML), freshEntry(), "innocent.png");

    // Act
    await origin.notify(key);

    // Assess
    expect(await statusOf(entry, ticket)).toEqual({
      status: "rejected",
      id: ticket.id,
      error: { code: "unsupported_type", message: "Only PNG, JPEG, GIF, WebP and AVIF images are accepted." },
    });
    expect(await s3.keys(key)).toEqual([]);
    expect(await objectsOf(entry)).toEqual([]);
    expect(await imagesOf(entry)).toEqual([]);
    expect(origin.logs).toContainEqual(
      expect.objectContaining({
        event: "upload_finalized",
        status: "rejected",
        error_code: "unsupported_type",
      }),
    );
  });

  it("rejects an object larger than the maximum, stored despite the policy", async () => {
    // Prepare: the S3-compatible server does not enforce content-length-range; S3 would have
    const { entry, ticket, key } = await staged(
      noisyPng(MAX_IMAGE_BYTES + 64 * 1024),
      freshEntry(),
      "a.png",
      1024,
    );

    // Act
    await origin.notify(key);

    // Assess
    expect(await statusOf(entry, ticket)).toEqual({
      status: "rejected",
      id: ticket.id,
      error: { code: "too_large", message: `An image may be at most ${MAX_IMAGE_BYTES} bytes.` },
    });
    expect(await s3.keys(key)).toEqual([]);
    expect(await objectsOf(entry)).toEqual([]);
  });

  it("rejects an empty object, stored despite the policy", async () => {
    // Prepare
    const entry = freshEntry();
    const ticket = await origin.ticket(entry);
    await s3.plant(stagingKey(entry, ticket.id), new Uint8Array());

    // Act
    await origin.notify(stagingKey(entry, ticket.id));

    // Assess
    expect(await statusOf(entry, ticket)).toMatchObject({
      status: "rejected",
      error: { code: "empty_file" },
    });
    expect(await s3.keys(stagingKey(entry, ticket.id))).toEqual([]);
  });

  it("gives one record for the same notification delivered twice", async () => {
    // Prepare
    const { entry, ticket, key } = await staged(pngBytes(12, 12, 3));

    // Act
    await origin.notify(key);
    await origin.notify(key);

    // Assess
    expect(await imagesOf(entry)).toHaveLength(1);
    expect(await objectsOf(entry)).toHaveLength(1);
    expect(await statusOf(entry, ticket)).toMatchObject({ status: "ready" });
    expect(origin.logs).toContainEqual({
      level: "info",
      event: "finalize_skipped",
      upload_id: ticket.id,
      status: "ready",
      reason: "staged object gone",
    });
  });

  it("gives one record, one object and no staged object when finalizers race on one object", async () => {
    // Prepare
    const bytes = pngBytes(40, 30, 4);
    const { entry, ticket, key } = await staged(bytes);

    // Act
    await Promise.all([origin.notify(key), origin.notify(key), origin.notify(key), origin.notify(key)]);

    // Assess
    const images = await imagesOf(entry);
    expect(images).toHaveLength(1);
    expect(await objectsOf(entry)).toEqual([objectKey(images[0] as ImageRecord)]);
    expect(await s3.keys(key)).toEqual([]);
    expect(await statusOf(entry, ticket)).toEqual({ status: "ready", id: ticket.id, image: images[0] });
    expect((await s3.read(objectKey(images[0] as ImageRecord)))?.bytes).toEqual(bytes);
  });

  it("dedupes as direct uploads do: bytes the entry holds make the ticket ready with that record", async () => {
    // Prepare
    const entry = freshEntry();
    const bytes = pngBytes(10, 10, 5);
    const direct = (await (await origin.upload(entry, uploadForm(bytes))).json()) as ImageRecord;
    const { ticket, key } = await staged(bytes, entry);

    // Act
    await origin.notify(key);

    // Assess
    expect(await statusOf(entry, ticket)).toEqual({ status: "ready", id: ticket.id, image: direct });
    expect(await imagesOf(entry)).toEqual([direct]);
    expect(await objectsOf(entry)).toEqual([objectKey(direct)]);
    expect(await s3.keys(key)).toEqual([]);
  });

  it("drops a file sent again with a form already used, keeping the first outcome", async () => {
    // Prepare
    const first = pngBytes(9, 9, 6);
    const { entry, ticket, key } = await staged(first);
    await origin.notify(key);
    const before = await statusOf(entry, ticket);
    await postForm(ticket.upload, pngBytes(9, 9, 7));

    // Act
    await origin.notify(key);

    // Assess
    expect(await statusOf(entry, ticket)).toEqual(before);
    expect(await imagesOf(entry)).toEqual([before.image]);
    expect(await s3.keys(key)).toEqual([]);
  });

  it("removes a staged object no ticket was issued for", async () => {
    // Prepare
    const entry = freshEntry();
    const key = stagingKey(entry, "7d3e8f2a-1b4c-4d5e-9f6a-0b1c2d3e4f5a");
    await s3.plant(key, pngBytes(4, 4, 8));

    // Act
    const result = await finalizeUpload(key, finalizeDepsOf(origin.deps));

    // Assess
    expect(result).toBeUndefined();
    expect(await s3.keys(key)).toEqual([]);
    expect(origin.logs).toContainEqual({ level: "warn", event: "upload_unknown", object_key: key });
  });

  it.each([
    [
      "an object under the images prefix (the copy's own notification)",
      "dev/j/entries/e/images/7d3e8f2a-1b4c-4d5e-9f6a-0b1c2d3e4f5a",
    ],
    ["a staging key of another shape", "incoming/j/entries/e/7d3e8f2a-1b4c-4d5e-9f6a-0b1c2d3e4f5a"],
    ["a staging key with a bad id", "incoming/j/entries/e/images/not-a-uuid"],
  ])("leaves alone %s", async (_what, key) => {
    // Prepare
    await s3.plant(key, pngBytes(4, 4, 9));

    // Act
    await origin.notify(key);

    // Assess
    expect(await s3.keys(key)).toEqual([key]);
    expect(origin.logs).toContainEqual({ level: "info", event: "s3_event_ignored", object_key: key });
  });

  it("leaves alone notifications of another bucket, and of removals", async () => {
    // Prepare
    const { entry, ticket, key } = await staged(pngBytes(5, 5, 10));
    const otherBucket = objectCreated("someone-elses-bucket", key);
    const removal = objectCreated(s3.bucket, key);
    (removal.Records[0] as { eventName: string }).eventName = "ObjectRemoved:Delete";
    const handler = (await import("../../../origin/http/handler")).createOriginHandler(
      async () => origin.deps,
    );

    // Act
    await handler(otherBucket, {} as never);
    await handler(removal, {} as never);

    // Assess
    expect(await statusOf(entry, ticket)).toMatchObject({ status: "pending" });
    expect(await s3.keys(key)).toEqual([key]);
  });

  it("decodes the URL-encoded key of S3's notification", async () => {
    // Prepare: S3 may escape any character of the key; here every dash of the upload id
    const { entry, ticket, key } = await staged(pngBytes(7, 7, 11));
    const encoded = key.replace(ticket.id, ticket.id.replaceAll("-", "%2D"));

    // Act
    await origin.notify(encoded);

    // Assess
    expect(await statusOf(entry, ticket)).toMatchObject({ status: "ready" });
  });

  it("keeps the staged object and the ticket pending when the copy fails, and a retry finishes", async () => {
    // Prepare
    const { entry, ticket, key } = await staged(pngBytes(6, 6, 12));
    origin.imageFaults.failNext("copy");

    // Act
    const failed = await origin.notify(key).catch((error: unknown) => error);
    const pending = await statusOf(entry, ticket);
    await origin.notify(key);

    // Assess
    expect(failed).toBeInstanceOf(AggregateError);
    expect(pending).toMatchObject({ status: "pending" });
    expect(await statusOf(entry, ticket)).toMatchObject({ status: "ready" });
    expect(await imagesOf(entry)).toHaveLength(1);
    expect(origin.logs).toContainEqual(
      expect.objectContaining({ level: "error", event: "finalize_failed", object_key: key }),
    );
  });

  it("removes the copied object again when the record cannot be written, and a retry finishes", async () => {
    // Prepare
    const { entry, ticket, key } = await staged(pngBytes(6, 6, 13));
    metadata.fail("put");

    // Act
    const failed = await origin.notify(key).catch((error: unknown) => error);
    const objectsAfterFailure = await objectsOf(entry);
    const stagedAfterFailure = await s3.keys(key);
    await origin.notify(key);

    // Assess
    expect(failed).toBeInstanceOf(AggregateError);
    expect(objectsAfterFailure).toEqual([]);
    expect(stagedAfterFailure).toEqual([key]);
    expect(await statusOf(entry, ticket)).toMatchObject({ status: "ready" });
    expect(await imagesOf(entry)).toHaveLength(1);
  });

  it("keeps the staged object when the ticket cannot be settled, and a retry settles it with the same image", async () => {
    // Prepare
    const { entry, ticket, key } = await staged(pngBytes(6, 6, 14));
    metadata.fail("settleUpload");

    // Act
    const failed = await origin.notify(key).catch((error: unknown) => error);
    const recorded = await imagesOf(entry);
    await origin.notify(key);

    // Assess
    expect(failed).toBeInstanceOf(AggregateError);
    expect(await s3.keys(key)).toEqual([]);
    expect(recorded).toHaveLength(1);
    expect(await statusOf(entry, ticket)).toEqual({ status: "ready", id: ticket.id, image: recorded[0] });
    expect(await objectsOf(entry)).toHaveLength(1);
  });

  it.each([
    ["its first bytes are read", "readStart"],
    ["its bytes are read", "readAll"],
    ["it is copied", "copy"],
  ] as const)(
    "does nothing with an object that changed or went before %s, leaving it to its own notification",
    async (_when, step) => {
      // Prepare: the version measured is gone when this step asks for it
      const { entry, ticket, key } = await staged(pngBytes(6, 6, 15));
      if (step === "copy") vi.spyOn(origin.deps.images, step).mockResolvedValueOnce(false);
      else vi.spyOn(origin.deps.images, step).mockResolvedValueOnce(undefined);

      // Act
      await origin.notify(key);

      // Assess
      expect(await statusOf(entry, ticket)).toMatchObject({ status: "pending" });
      expect(await s3.keys(key)).toEqual([key]);
      expect(await objectsOf(entry)).toEqual([]);
      expect(await imagesOf(entry)).toEqual([]);
      expect(origin.logs).toContainEqual(expect.objectContaining({ reason: "staged object changed" }));
    },
  );

  it("leaves alone a notification whose key cannot be decoded, logging it as sent", async () => {
    // Act
    await origin.notify("incoming/%E0%A4%A");

    // Assess
    expect(origin.logs).toContainEqual({
      level: "info",
      event: "s3_event_ignored",
      event_name: "ObjectCreated:Post",
      object_key: "incoming/%E0%A4%A",
    });
  });
});

describe("imageIdOf", () => {
  const uploadId = "9b2f4c1e-7d3a-4e5b-8c6d-0f1e2d3c4b5a";

  it("derives a version-5 UUID from the upload id and the bytes' SHA-256, the same every time", () => {
    // Act
    const id = imageIdOf(uploadId, "a".repeat(64));

    // Assess
    expect(id).toMatch(IMAGE_ID_PATTERN);
    expect(id[14]).toBe("5");
    expect("89ab").toContain(id[19]);
    expect(imageIdOf(uploadId, "a".repeat(64))).toBe(id);
  });

  it("derives different ids for different bytes of one upload, and for one's bytes in another upload", () => {
    // Act
    const ids = new Set([
      imageIdOf(uploadId, "a".repeat(64)),
      imageIdOf(uploadId, "b".repeat(64)),
      imageIdOf("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "a".repeat(64)),
    ]);

    // Assess
    expect(ids.size).toBe(3);
  });
});
