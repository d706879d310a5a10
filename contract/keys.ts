import { ID_PATTERN, IMAGE_ID_PATTERN, IMAGES_PREFIX_PATTERN, STAGING_PREFIX } from "./constants";
import { ConfigurationError } from "./errors";
import type { ImageRef, UploadRef } from "./types";

/**
 * The storage layout and the public URLs of the contract, in one place: the edge maps an image URL to its
 * object key, the origin writes and deletes under the same keys, the local store and reconcile read them.
 */

/** The object key of an image: `{IMAGES_PREFIX}/{j}/entries/{e}/images/{i}`. */
export function imageObjectKey(prefix: string, image: ImageRef): string {
  return `${prefix}/${image.journalId}/entries/${image.entryId}/images/${image.imageId}`;
}

/** The path that serves an image through the CDN: `/journals/{j}/entries/{e}/images/{i}`. */
export function imageUrl(image: ImageRef): string {
  return `/journals/${image.journalId}/entries/${image.entryId}/images/${image.imageId}`;
}

/** Where a presigned upload lands: `incoming/{j}/entries/{e}/images/{upload id}`. */
export function stagingKeyOf(upload: UploadRef): string {
  return imageObjectKey(STAGING_PREFIX.slice(0, -1), { ...upload, imageId: upload.uploadId });
}

/** The upload a staging key belongs to; `undefined` for any other key. */
export function uploadOfStagingKey(key: string): UploadRef | undefined {
  const image = imageOfKey(STAGING_PREFIX.slice(0, -1), key);
  return image && { journalId: image.journalId, entryId: image.entryId, uploadId: image.imageId };
}

/** Reads `{prefix}/{j}/entries/{e}/images/{i}` back into an image, every id checked; anything else is not ours. */
export function imageOfKey(prefix: string, key: string): ImageRef | undefined {
  if (!key.startsWith(`${prefix}/`)) return undefined;
  const [journalId, entries, entryId, images, imageId, ...rest] = key.slice(prefix.length + 1).split("/");
  const wellFormed =
    rest.length === 0 &&
    entries === "entries" &&
    images === "images" &&
    ID_PATTERN.test(journalId ?? "") &&
    ID_PATTERN.test(entryId ?? "") &&
    IMAGE_ID_PATTERN.test(imageId ?? "");
  return wellFormed
    ? { journalId: journalId as string, entryId: entryId as string, imageId: imageId as string }
    : undefined;
}

/**
 * Checks `IMAGES_PREFIX`: path segments with no leading or trailing `/`, and never the staging prefix or
 * under it, where image reads would map onto unvalidated staged uploads (and the lifecycle rule and the
 * finalize notification would reach the images).
 *
 * @throws {Error} naming what is wrong
 */
export function requireImagesPrefix(prefix: string): void {
  if (!IMAGES_PREFIX_PATTERN.test(prefix)) {
    throw new ConfigurationError(
      `IMAGES_PREFIX "${prefix}" must be path segments with no leading or trailing /.`,
    );
  }
  if (`${prefix}/`.startsWith(STAGING_PREFIX)) {
    throw new ConfigurationError(
      `IMAGES_PREFIX "${prefix}" must not be ${STAGING_PREFIX.slice(0, -1)} or under it: staged uploads live there.`,
    );
  }
}
