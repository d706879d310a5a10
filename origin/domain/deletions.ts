import { imageObjectKey, imageUrl } from "../../contract/keys";
import { describeError } from "../../contract/log";
import type { EntryRef, ImageRef } from "../../contract/types";
import { settleEach } from "./concurrency";
import { StorageUnavailableError } from "./errors";
import type { ImageRecord, OriginServices } from "./ports";
import { objectKeyOf } from "./records";

/** What deleting images needs. */
export interface DeleteImagesDeps
  extends Pick<OriginServices, "images" | "metadata" | "invalidator" | "log"> {
  readonly imagesPrefix: string;
}

const OBJECT_CONCURRENCY = 8;

/**
 * Deletes one image: its record first (so it is never listed without bytes), then its object, then the
 * CDN's copies.
 *
 * @returns the removed record, or `undefined` when the entry has no such image
 * @throws {StorageUnavailableError} when the object stays; its record is then put back
 */
export async function deleteImage(image: ImageRef, deps: DeleteImagesDeps): Promise<ImageRecord | undefined> {
  const record = await deps.metadata.delete(image);
  if (!record) return undefined;
  // One wildcard path covers the original's key and every variant's (their keys start with it).
  await removeObjects([record], deps, () => [
    imageUrl(image),
    `/${imageObjectKey(deps.imagesPrefix, image)}*`,
  ]);
  return record;
}

/**
 * Deletes every image of an entry, in the same order as `deleteImage`. Deleting an entry without images
 * does nothing, so a retry is harmless.
 *
 * @returns the removed records, oldest first
 * @throws {StorageUnavailableError} when some objects stay; their records are then put back
 */
export async function deleteEntryImages(entry: EntryRef, deps: DeleteImagesDeps): Promise<ImageRecord[]> {
  const records = await deps.metadata.deleteByEntry(entry);
  if (records.length === 0) return [];
  const everyImage = { ...entry, imageId: "*" };
  await removeObjects(records, deps, () => [
    imageUrl(everyImage),
    `/${imageObjectKey(deps.imagesPrefix, everyImage)}`,
  ]);
  return records;
}

/**
 * Deletes the objects of records already removed, then invalidates what went. The edge rewrites an image
 * path to its object key before the cache lookup, so both the viewer's path and the key are invalidated,
 * as CloudFront advises for rewritten URIs.
 */
async function removeObjects(
  records: readonly ImageRecord[],
  deps: DeleteImagesDeps,
  invalidationPaths: () => string[],
): Promise<void> {
  const settled = await settleEach(records, OBJECT_CONCURRENCY, async (record) => {
    const key = objectKeyOf(deps.imagesPrefix, record);
    const outcome = await deleteObject(key, deps);
    if (outcome.fate === "deleted") await deleteVariants(key, deps);
    return outcome;
  });
  const outcomes = settled.map((result) =>
    result.status === "fulfilled" ? result.value : { fate: "unknown" as const, error: result.reason },
  );
  const kept = records.filter((_record, index) => outcomes[index]?.fate === "kept");
  const unconfirmed = records.filter((_record, index) => outcomes[index]?.fate === "unknown");
  if (kept.length < records.length) await invalidate(invalidationPaths(), deps);
  if (kept.length === 0 && unconfirmed.length === 0) return;
  await settleEach(kept, OBJECT_CONCURRENCY, (record) => restoreRecord(record, deps));
  for (const record of unconfirmed) {
    // Not put back: a record must never be listed without its bytes. Reconcile removes what stayed.
    const key = objectKeyOf(deps.imagesPrefix, record);
    deps.log({ level: "error", event: "orphan_object", object_key: key, error: "delete unconfirmed" });
  }
  const cause = outcomes.find((outcome) => outcome.fate !== "deleted")?.error;
  throw new StorageUnavailableError(
    kept.length === 0
      ? "The image store did not confirm the delete; the images are no longer listed."
      : kept.length === 1 && records.length === 1
        ? "The image could not be deleted; it is kept. Try again."
        : `${kept.length} of ${records.length} images could not be deleted; they are kept. Try again.`,
    cause,
  );
}

/** What became of an object whose record was removed: gone, still there, or unknown. */
interface ObjectOutcome {
  readonly fate: "deleted" | "kept" | "unknown";
  readonly error?: unknown;
}

/**
 * Deletes one object. A delete the store answered with a failure may still have landed (its answer lost
 * on the way), so the object is looked up before it counts as kept: putting its record back over bytes
 * that are gone would list an image that cannot be read.
 */
async function deleteObject(key: string, deps: DeleteImagesDeps): Promise<ObjectOutcome> {
  try {
    await deps.images.delete(key);
    return { fate: "deleted" };
  } catch (error) {
    try {
      return { fate: (await deps.images.head(key)) ? "kept" : "deleted", error };
    } catch {
      return { fate: "unknown", error };
    }
  }
}

/**
 * Deletes the variants stored beside an original that is gone. A variant left behind is only garbage:
 * nothing lists it, the CDN's copies are invalidated with the original's, and reconcile finds it (a
 * variant without its image's record), so a failure is logged, never thrown.
 */
async function deleteVariants(imageKey: string, deps: DeleteImagesDeps): Promise<void> {
  try {
    const variants: string[] = [];
    for await (const object of deps.images.list(`${imageKey}.`)) variants.push(object.key);
    await settleEach(variants, OBJECT_CONCURRENCY, async (key) => {
      try {
        await deps.images.delete(key);
      } catch (error) {
        deps.log({ level: "error", event: "orphan_object", object_key: key, error: describeError(error) });
      }
    });
  } catch (error) {
    deps.log({ level: "error", event: "orphan_variants", object_key: imageKey, error: describeError(error) });
  }
}

/** Puts back the record of an object that could not be deleted, so it is neither hidden nor lost. */
async function restoreRecord(record: ImageRecord, deps: DeleteImagesDeps): Promise<void> {
  const key = objectKeyOf(deps.imagesPrefix, record);
  try {
    const { created } = await deps.metadata.put(record);
    if (!created)
      deps.log({ level: "error", event: "orphan_object", object_key: key, error: "duplicate record" });
  } catch (error) {
    deps.log({ level: "error", event: "orphan_object", object_key: key, error: describeError(error) });
  }
}

/** A failed invalidation only delays the CDN; the delete itself is done. */
async function invalidate(paths: readonly string[], deps: DeleteImagesDeps): Promise<void> {
  try {
    await deps.invalidator.invalidate(paths);
  } catch (error) {
    deps.log({ level: "warn", event: "invalidation_failed", paths, error: describeError(error) });
  }
}
