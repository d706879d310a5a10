import { imageObjectKey } from "../edge/authorize";
import { ID_PATTERN, IMAGE_ID_PATTERN } from "../edge/constants";
import { STAGING_PREFIX } from "./constants";
import type { ImageRecord, ImageRef, UploadRef } from "./ports";

/** The path that serves an image through the CDN: `/journals/{j}/entries/{e}/images/{i}`. */
export function imageUrl(image: ImageRef): string {
  return `/journals/${image.journalId}/entries/${image.entryId}/images/${image.imageId}`;
}

/** The image a record describes. */
export function refOf(record: ImageRecord): ImageRef {
  return { journalId: record.journal_id, entryId: record.entry_id, imageId: record.id };
}

/** The object key of a record's bytes: `{IMAGES_PREFIX}/{j}/entries/{e}/images/{i}`. */
export function objectKeyOf(imagesPrefix: string, record: ImageRecord): string {
  return imageObjectKey(imagesPrefix, refOf(record));
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
