import { imageObjectKey } from "../edge/authorize";
import type { ImageRecord, ImageRef } from "./ports";

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
