import { beforeEach, describe, expect, it } from "vitest";
import { imageObjectKey } from "../../../contract/keys";
import type { EntryRef } from "../../../contract/types";
import { type DeleteImagesDeps, deleteEntryImages, deleteImage } from "../../../origin/domain/deletions";
import { StorageUnavailableError } from "../../../origin/domain/errors";
import { type StoreImageDeps, storeImage, storeImageDepsOf } from "../../../origin/domain/imageWrites";
import type { ImageRecord } from "../../../origin/domain/ports";
import { refOf } from "../../../origin/domain/records";
import { pngBytes } from "../../support/images";
import { freshEntry, useOriginStack } from "../../support/origin";

let seed = 0;

describe("deletions over a real S3-compatible server and SQLite", () => {
  const { s3, metadata, origin } = useOriginStack("sqlite");

  beforeEach(() => {
    origin.logs.length = 0;
    origin.invalidations.length = 0;
    origin.imageFaults.reset();
    origin.invalidatorFaults.reset();
    metadata.resetFaults();
  });

  /** What the app hands both deletes and uploads: the origin's own services under its prefix. */
  function deps(): DeleteImagesDeps & StoreImageDeps {
    return storeImageDepsOf(origin.deps);
  }

  /** Stores `count` different images in `entry`, one millisecond apart, oldest first. */
  async function stored(entry: EntryRef, count: number): Promise<ImageRecord[]> {
    const records: ImageRecord[] = [];
    for (let index = 0; index < count; index += 1) {
      seed += 1;
      const { record } = await storeImage(
        entry,
        { bytes: pngBytes(2, 2, seed), name: `image ${index}` },
        deps(),
      );
      records.push(record);
      origin.clock.advance(0.001);
    }
    return records;
  }

  const keyOf = (record: ImageRecord) => imageObjectKey("dev", refOf(record));
  const objectsOf = (entry: EntryRef) => s3.keys(`dev/${entry.journalId}/entries/${entry.entryId}/`);
  const listed = async (entry: EntryRef) =>
    (await metadata.store.listByEntry(entry)).map((record) => record.id);

  describe("deleteImage", () => {
    it("removes the record and the bytes of that one image, then invalidates its URL and its key", async () => {
      // Prepare
      const entry = freshEntry();
      const [gone, kept] = (await stored(entry, 2)) as [ImageRecord, ImageRecord];

      // Act
      const removed = await deleteImage(refOf(gone), deps());

      // Assess
      expect(removed).toEqual(gone);
      expect(await listed(entry)).toEqual([kept.id]);
      expect(await objectsOf(entry)).toEqual([keyOf(kept)]);
      expect(origin.invalidations).toEqual([[gone.url, `/${keyOf(gone)}*`]]);
    });

    it("answers undefined for an image the entry does not have, and invalidates nothing", async () => {
      // Prepare: an image of another entry under the same id
      const [other] = (await stored(freshEntry(), 1)) as [ImageRecord];
      const entry = freshEntry();

      // Act
      const removed = await deleteImage({ ...entry, imageId: other.id }, deps());

      // Assess
      expect(removed).toBeUndefined();
      expect(await s3.read(keyOf(other))).toBeDefined();
      expect(origin.invalidations).toEqual([]);
    });

    it("puts the record back when its object is certainly kept, and invalidates nothing", async () => {
      // Prepare
      const entry = freshEntry();
      const [image] = (await stored(entry, 1)) as [ImageRecord];
      origin.imageFaults.failNext("delete");

      // Act
      const outcome = await deleteImage(refOf(image), deps()).catch((error: unknown) => error);

      // Assess
      expect(outcome).toBeInstanceOf(StorageUnavailableError);
      expect((outcome as Error).message).toBe("The image could not be deleted; it is kept. Try again.");
      expect(await metadata.store.listByEntry(entry)).toEqual([image]);
      expect(await objectsOf(entry)).toEqual([keyOf(image)]);
      expect(origin.invalidations).toEqual([]);
    });

    it("counts a delete that landed but answered a failure as done", async () => {
      // Prepare
      const entry = freshEntry();
      const [image] = (await stored(entry, 1)) as [ImageRecord];
      origin.imageFaults.failNext("delete", 1, "after");

      // Act
      const removed = await deleteImage(refOf(image), deps());

      // Assess
      expect(removed).toEqual(image);
      expect(await listed(entry)).toEqual([]);
      expect(await objectsOf(entry)).toEqual([]);
      expect(origin.invalidations).toEqual([[image.url, `/${keyOf(image)}*`]]);
    });

    it("lists the image no more when its delete cannot be confirmed, leaving the bytes to reconcile", async () => {
      // Prepare: the delete fails and so does the look that would tell
      const entry = freshEntry();
      const [image] = (await stored(entry, 1)) as [ImageRecord];
      origin.imageFaults.failNext("delete");
      origin.imageFaults.failNext("head");

      // Act
      const outcome = await deleteImage(refOf(image), deps()).catch((error: unknown) => error);

      // Assess
      expect(outcome).toBeInstanceOf(StorageUnavailableError);
      expect((outcome as Error).message).toMatch(/did not confirm/);
      expect(await listed(entry)).toEqual([]);
      expect(origin.logs).toContainEqual(
        expect.objectContaining({
          event: "orphan_object",
          object_key: keyOf(image),
          error: "delete unconfirmed",
        }),
      );
      expect(origin.invalidations).toEqual([[image.url, `/${keyOf(image)}*`]]);
    });

    it("still deletes when the invalidation fails, and logs the paths", async () => {
      // Prepare
      const entry = freshEntry();
      const [image] = (await stored(entry, 1)) as [ImageRecord];
      origin.invalidatorFaults.failNext("invalidate");

      // Act
      const removed = await deleteImage(refOf(image), deps());

      // Assess
      expect(removed).toEqual(image);
      expect(await objectsOf(entry)).toEqual([]);
      expect(origin.logs).toContainEqual(
        expect.objectContaining({
          level: "warn",
          event: "invalidation_failed",
          paths: [image.url, `/${keyOf(image)}*`],
        }),
      );
    });
  });

  describe("deleteEntryImages", () => {
    it("removes every record and object of the entry, oldest first, with one wildcard per CDN path", async () => {
      // Prepare
      const entry = freshEntry();
      const images = await stored(entry, 3);
      const other = freshEntry();
      const [neighbour] = (await stored(other, 1)) as [ImageRecord];

      // Act
      const removed = await deleteEntryImages(entry, deps());

      // Assess
      expect(removed).toEqual(images);
      expect(await listed(entry)).toEqual([]);
      expect(await objectsOf(entry)).toEqual([]);
      const prefix = `${entry.journalId}/entries/${entry.entryId}/images`;
      expect(origin.invalidations).toEqual([[`/journals/${prefix}/*`, `/dev/${prefix}/*`]]);
      expect(await listed(other)).toEqual([neighbour.id]);
      expect(await objectsOf(other)).toEqual([keyOf(neighbour)]);
    });

    it("does nothing for an entry without images, so a retry is harmless", async () => {
      expect(await deleteEntryImages(freshEntry(), deps())).toEqual([]);
      expect(origin.invalidations).toEqual([]);
    });

    it("deletes what it can, keeps listing what stayed, and says how many", async () => {
      // Prepare: the first object's delete fails; the object certainly stays
      const entry = freshEntry();
      const images = await stored(entry, 3);
      origin.imageFaults.failNext("delete");

      // Act
      const outcome = await deleteEntryImages(entry, deps()).catch((error: unknown) => error);

      // Assess
      expect(outcome).toBeInstanceOf(StorageUnavailableError);
      expect((outcome as Error).message).toBe(
        "1 of 3 images could not be deleted; they are kept. Try again.",
      );
      const remaining = await metadata.store.listByEntry(entry);
      expect(remaining).toHaveLength(1);
      expect(images).toContainEqual(remaining[0]);
      expect(await objectsOf(entry)).toEqual([keyOf(remaining[0] as ImageRecord)]);
      expect(origin.invalidations).toHaveLength(1);
    });
  });
});
