import { createHash } from "node:crypto";
import sharp from "sharp";
import { beforeEach, describe, expect, it } from "vitest";
import { imageObjectKey } from "../../../contract/keys";
import type { EntryRef, ImageRef } from "../../../contract/types";
import { TYPE_SAMPLE_BYTES } from "../../../origin/domain/constants";
import {
  MetadataUnavailableError,
  StorageUnavailableError,
  UnsupportedTypeError,
} from "../../../origin/domain/errors";
import {
  detectImageType,
  discardObject,
  type ImageFacts,
  recordImage,
  type StoreImageDeps,
  storeImage,
  storeImageDepsOf,
  storeOnce,
} from "../../../origin/domain/imageWrites";
import type { MetadataStore } from "../../../origin/domain/ports";
import { animatedPng, avif, gif, heic, jpeg, noisyPng, pdf, pngBytes, svg, webp } from "../../support/images";
import { freshEntry, useOriginStack } from "../../support/origin";

const PNG = { extension: "png", contentType: "image/png" } as const;

describe("image writes over a real S3-compatible server and SQLite", () => {
  const { s3, metadata, origin } = useOriginStack("sqlite");

  beforeEach(() => {
    origin.logs.length = 0;
    origin.imageFaults.reset();
    metadata.resetFaults();
  });

  /** What `storeImage` and friends get from the app: the origin's own stores under its prefix. */
  function deps(overrides: Partial<StoreImageDeps> = {}): StoreImageDeps {
    return { ...storeImageDepsOf(origin.deps), ...overrides };
  }

  /** Every object key of `entry`. */
  function objectsOf(entry: EntryRef): Promise<string[]> {
    return s3.keys(`dev/${entry.journalId}/entries/${entry.entryId}/`);
  }

  /** The ids of `entry`'s records. */
  async function recordIdsOf(entry: EntryRef): Promise<string[]> {
    return (await metadata.store.listByEntry(entry)).map((record) => record.id);
  }

  function factsOf(bytes: Uint8Array, name = "holiday"): ImageFacts {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    // A PNG's IHDR holds its width and height right after the signature and the chunk's length and type.
    const header = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return {
      name,
      type: PNG,
      size: bytes.byteLength,
      sha256,
      width: header.readUInt32BE(16),
      height: header.readUInt32BE(20),
    };
  }

  describe("storeImage", () => {
    it("writes the bytes at the image's key with their type, then the record that describes them", async () => {
      // Prepare
      const entry = freshEntry();
      const bytes = pngBytes(3, 2, 1);
      const imageId = crypto.randomUUID();

      // Act
      const outcome = await storeImage(entry, { bytes, name: "harbour" }, deps({ uuid: () => imageId }));

      // Assess
      const key = `dev/${entry.journalId}/entries/${entry.entryId}/images/${imageId}`;
      expect(outcome).toEqual({
        created: true,
        record: {
          id: imageId,
          journal_id: entry.journalId,
          entry_id: entry.entryId,
          name: "harbour",
          extension: "png",
          content_type: "image/png",
          size: bytes.byteLength,
          sha256: createHash("sha256").update(bytes).digest("hex"),
          width: 3,
          height: 2,
          created_at: new Date(origin.clock.now()).toISOString(),
          url: `/journals/${entry.journalId}/entries/${entry.entryId}/images/${imageId}`,
        },
      });
      const stored = await s3.read(key);
      expect(stored?.bytes).toEqual(bytes);
      expect(stored?.contentType).toBe("image/png");
      expect(await metadata.store.get({ ...entry, imageId })).toEqual(outcome.record);
    });

    it("writes the object before the record", async () => {
      // Prepare: a store that looks at the bucket when the record is written
      const entry = freshEntry();
      const seenAtRecord: string[][] = [];
      const watched = new Proxy(metadata.store, {
        get: (store, property) => {
          const value = Reflect.get(store, property);
          if (property !== "put") return typeof value === "function" ? value.bind(store) : value;
          return async (...args: Parameters<MetadataStore["put"]>) => {
            seenAtRecord.push(await objectsOf(entry));
            return store.put(...args);
          };
        },
      });

      // Act
      const { record } = await storeImage(
        entry,
        { bytes: pngBytes(2, 2, 2), name: "x" },
        deps({ metadata: watched }),
      );

      // Assess
      expect(seenAtRecord).toEqual([[imageObjectKey("dev", { ...entry, imageId: record.id })]]);
    });

    it.each([
      ["PNG", pngBytes(2, 2, 3), "png", "image/png"],
      ["animated PNG", animatedPng(), "png", "image/png"],
      ["JPEG", jpeg(), "jpg", "image/jpeg"],
      ["GIF", gif(), "gif", "image/gif"],
      ["WebP", webp(), "webp", "image/webp"],
      ["AVIF", avif(), "avif", "image/avif"],
    ])("types %s bytes from their magic numbers", async (_what, bytes, extension, contentType) => {
      // Prepare
      const entry = freshEntry();

      // Act
      const { record } = await storeImage(entry, { bytes, name: "photo.svg" }, deps());

      // Assess
      expect(record).toMatchObject({ extension, content_type: contentType });
      expect((await s3.read(imageObjectKey("dev", { ...entry, imageId: record.id })))?.contentType).toBe(
        contentType,
      );
    });

    it.each([
      ["SVG", svg()],
      ["PDF", pdf()],
      ["HEIC", heic()],
      ["plain text", new TextEncoder().encode("just some notes")],
    ])("refuses %s with 415 and writes nothing", async (_what, bytes) => {
      // Prepare
      const entry = freshEntry();

      // Act
      const outcome = await storeImage(entry, { bytes, name: "x" }, deps()).catch((error: unknown) => error);

      // Assess
      expect(outcome).toBeInstanceOf(UnsupportedTypeError);
      expect(outcome).toMatchObject({ status: 415, code: "unsupported_type" });
      expect(await objectsOf(entry)).toEqual([]);
      expect(await recordIdsOf(entry)).toEqual([]);
    });

    it("gives back the entry's record for bytes it already holds, and writes nothing more", async () => {
      // Prepare
      const entry = freshEntry();
      const bytes = pngBytes(2, 2, 4);
      const first = await storeImage(entry, { bytes, name: "first" }, deps());

      // Act
      const again = await storeImage(entry, { bytes, name: "second" }, deps());

      // Assess
      expect(again).toEqual({ created: false, record: first.record });
      expect(await objectsOf(entry)).toEqual([imageObjectKey("dev", { ...entry, imageId: first.record.id })]);
      expect(await recordIdsOf(entry)).toEqual([first.record.id]);
    });

    it("answers no request while its decode still runs, a duplicate's or a failed lookup's", async () => {
      // Prepare: a large image, whose decode outlasts the lookup that finds its duplicate
      const entry = freshEntry();
      const bytes = noisyPng(4 * 1024 * 1024);
      await storeImage(entry, { bytes, name: "first" }, deps());

      // Act
      const again = await storeImage(entry, { bytes, name: "again" }, deps());
      const afterDuplicate = sharp.counters();
      metadata.fail("findBySha256");
      const failed = await storeImage(freshEntry(), { bytes, name: "x" }, deps()).catch(
        (error: unknown) => error,
      );
      const afterFailure = sharp.counters();

      // Assess
      expect(again.created).toBe(false);
      expect(afterDuplicate).toEqual({ queue: 0, process: 0 });
      expect(failed).toBeInstanceOf(MetadataUnavailableError);
      expect(afterFailure).toEqual({ queue: 0, process: 0 });
    });

    it("stores the same bytes again in another entry", async () => {
      // Prepare
      const bytes = pngBytes(2, 2, 5);
      const first = await storeImage(freshEntry(), { bytes, name: "x" }, deps());
      const other = freshEntry();

      // Act
      const outcome = await storeImage(other, { bytes, name: "x" }, deps());

      // Assess
      expect(outcome.created).toBe(true);
      expect(outcome.record.id).not.toBe(first.record.id);
      expect(await recordIdsOf(other)).toEqual([outcome.record.id]);
    });

    it.each([
      ["fails before it lands", "before" as const],
      ["lands but its answer is lost", "after" as const],
    ])("writes no record, and leaves no object, when the object write %s", async (_what, timing) => {
      // Prepare
      const entry = freshEntry();
      origin.imageFaults.failNext("put", 1, timing);

      // Act
      const outcome = await storeImage(entry, { bytes: pngBytes(2, 2, 6), name: "x" }, deps()).catch(
        (error: unknown) => error,
      );

      // Assess
      expect(outcome).toBeInstanceOf(StorageUnavailableError);
      expect(await objectsOf(entry)).toEqual([]);
      expect(await recordIdsOf(entry)).toEqual([]);
    });

    it("removes the object again when the record cannot be written", async () => {
      // Prepare
      const entry = freshEntry();
      metadata.fail("put");

      // Act
      const outcome = await storeImage(entry, { bytes: pngBytes(2, 2, 7), name: "x" }, deps()).catch(
        (error: unknown) => error,
      );

      // Assess
      expect(outcome).toBeInstanceOf(MetadataUnavailableError);
      expect(outcome).toMatchObject({ status: 502, code: "metadata_unavailable" });
      expect(await objectsOf(entry)).toEqual([]);
      expect(await recordIdsOf(entry)).toEqual([]);
    });

    it("keeps object and record when the record write landed but its answer was lost", async () => {
      // Prepare
      const entry = freshEntry();
      metadata.fail("put", 1, "after");

      // Act
      const outcome = await storeImage(entry, { bytes: pngBytes(2, 2, 8), name: "x" }, deps());

      // Assess
      expect(outcome.created).toBe(true);
      expect(await recordIdsOf(entry)).toEqual([outcome.record.id]);
      expect(await objectsOf(entry)).toEqual([
        imageObjectKey("dev", { ...entry, imageId: outcome.record.id }),
      ]);
    });
    it("refuses bytes that fail the full decode with invalid_image, leaving neither object nor record", async () => {
      // Prepare: the header parses, the pixel data does not, so only the decode that runs beside the
      // write can tell, after the object may already have been written
      const entry = freshEntry();
      const bytes = corruptPng();

      // Act
      const outcome = await storeImage(entry, { bytes, name: "x" }, deps()).catch((error: unknown) => error);

      // Assess
      expect(outcome).toMatchObject({ status: 422, code: "invalid_image" });
      expect(await objectsOf(entry)).toEqual([]);
      expect(await recordIdsOf(entry)).toEqual([]);
    });

    it("answers invalid_image rather than the failed write when both fail", async () => {
      // Prepare
      const entry = freshEntry();
      origin.imageFaults.failNext("put", 1, "before");

      // Act
      const outcome = await storeImage(entry, { bytes: corruptPng(), name: "x" }, deps()).catch(
        (error: unknown) => error,
      );

      // Assess
      expect(outcome).toMatchObject({ status: 422, code: "invalid_image" });
      expect(await objectsOf(entry)).toEqual([]);
    });
  });

  describe("storeOnce, the write both upload routes share", () => {
    it("hands the image's key to the route's own writer, then records the image under its id", async () => {
      // Prepare: the presigned route copies its staged object instead of putting bytes
      const image: ImageRef = { ...freshEntry(), imageId: crypto.randomUUID() };
      const bytes = pngBytes(2, 2, 9);
      const keys: string[] = [];

      // Act
      const outcome = await storeOnce(image, factsOf(bytes), deps(), async (key) => {
        keys.push(key);
        await s3.plant(key, bytes, "image/png");
      });

      // Assess
      expect(keys).toEqual([imageObjectKey("dev", image)]);
      expect(outcome).toMatchObject({ created: true, record: { id: image.imageId, name: "holiday" } });
      expect(await recordIdsOf(image)).toEqual([image.imageId]);
    });

    it("does not call the writer for bytes the entry already holds", async () => {
      // Prepare
      const entry = freshEntry();
      const bytes = pngBytes(2, 2, 10);
      const first = await storeImage(entry, { bytes, name: "x" }, deps());
      let written = 0;

      // Act
      const outcome = await storeOnce(
        { ...entry, imageId: crypto.randomUUID() },
        factsOf(bytes),
        deps(),
        async () => {
          written += 1;
        },
      );

      // Assess
      expect(written).toBe(0);
      expect(outcome).toEqual({ created: false, record: first.record });
    });

    it("writes no record when the writer fails", async () => {
      // Prepare
      const image: ImageRef = { ...freshEntry(), imageId: crypto.randomUUID() };
      const failure = new StorageUnavailableError("copy failed");

      // Act
      const outcome = await storeOnce(image, factsOf(pngBytes(2, 2, 11)), deps(), async () => {
        throw failure;
      }).catch((error: unknown) => error);

      // Assess
      expect(outcome).toBe(failure);
      expect(await recordIdsOf(image)).toEqual([]);
    });
  });

  describe("recordImage", () => {
    it("removes its own object when another upload of the same bytes recorded first, and answers that one", async () => {
      // Prepare: the first upload is recorded; a second object of the same bytes lands under a new id
      const entry = freshEntry();
      const bytes = pngBytes(2, 2, 12);
      const first = await storeImage(entry, { bytes, name: "x" }, deps());
      const late: ImageRef = { ...entry, imageId: crypto.randomUUID() };
      await s3.plant(imageObjectKey("dev", late), bytes, "image/png");

      // Act
      const outcome = await recordImage(late, factsOf(bytes), deps());

      // Assess
      expect(outcome).toEqual({ created: false, record: first.record });
      expect(await objectsOf(entry)).toEqual([imageObjectKey("dev", { ...entry, imageId: first.record.id })]);
    });

    it("keeps the object when the same image is recorded twice (a second delivery)", async () => {
      // Prepare
      const image: ImageRef = { ...freshEntry(), imageId: crypto.randomUUID() };
      const bytes = pngBytes(2, 2, 13);
      await s3.plant(imageObjectKey("dev", image), bytes, "image/png");
      const first = await recordImage(image, factsOf(bytes), deps());

      // Act
      const second = await recordImage(image, factsOf(bytes), deps());

      // Assess
      expect(second).toEqual({ created: false, record: first.record });
      expect(await objectsOf(image)).toEqual([imageObjectKey("dev", image)]);
    });

    it("keeps the object, and logs it, when it cannot tell whether the failed record write landed", async () => {
      // Prepare
      const image: ImageRef = { ...freshEntry(), imageId: crypto.randomUUID() };
      const key = imageObjectKey("dev", image);
      await s3.plant(key, pngBytes(2, 2, 14), "image/png");
      metadata.fail("put");
      metadata.fail("get");

      // Act
      const outcome = await recordImage(image, factsOf(pngBytes(2, 2, 14)), deps()).catch(
        (error: unknown) => error,
      );

      // Assess
      expect(outcome).toBeInstanceOf(MetadataUnavailableError);
      expect(await objectsOf(image)).toEqual([key]);
      expect(origin.logs).toContainEqual(
        expect.objectContaining({ level: "error", event: "upload_rollback_incomplete", object_key: key }),
      );
    });
  });

  describe("detectImageType", () => {
    it("judges the first TYPE_SAMPLE_BYTES (4100) alone, as a ranged read would see them", async () => {
      // Prepare: a PNG that starts after the sample
      const late = new Uint8Array(TYPE_SAMPLE_BYTES + 200);
      late.set(pngBytes(2, 2, 15), TYPE_SAMPLE_BYTES);

      // Act
      const outcome = await detectImageType(late).catch((error: unknown) => error);

      // Assess
      expect(outcome).toBeInstanceOf(UnsupportedTypeError);
      await expect(detectImageType(pngBytes(2, 2, 15))).resolves.toEqual(PNG);
    });
  });

  describe("discardObject", () => {
    it("removes the object", async () => {
      const key = imageObjectKey("dev", { ...freshEntry(), imageId: crypto.randomUUID() });
      await s3.plant(key, pngBytes(1, 1, 16));
      await discardObject(key, deps());
      expect(await s3.read(key)).toBeUndefined();
    });

    it("logs an object it could not remove as an orphan instead of throwing", async () => {
      // Prepare
      const key = imageObjectKey("dev", { ...freshEntry(), imageId: crypto.randomUUID() });
      await s3.plant(key, pngBytes(1, 1, 17));
      origin.imageFaults.failNext("delete");

      // Act
      await discardObject(key, deps());

      // Assess
      expect(await s3.read(key)).toBeDefined();
      expect(origin.logs).toContainEqual(
        expect.objectContaining({ level: "error", event: "orphan_object", object_key: key }),
      );
    });
  });
});

/** A PNG whose header parses but whose zlib stream inside IDAT is garbage (its CRC is wrong too). */
function corruptPng(): Uint8Array {
  const bytes = Buffer.from(pngBytes(8, 8, 3));
  bytes.fill(0x55, 41, 60);
  return bytes;
}
