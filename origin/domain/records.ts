import { imageObjectKey } from "../../contract/keys";
import type { ImageRef } from "../../contract/types";
import type { ImageRecord } from "./ports";

/** The image a record describes. */
export function refOf(record: ImageRecord): ImageRef {
  return { journalId: record.journal_id, entryId: record.entry_id, imageId: record.id };
}

/** The object key of a record's bytes: `{IMAGES_PREFIX}/{j}/entries/{e}/images/{i}`. */
export function objectKeyOf(imagesPrefix: string, record: ImageRecord): string {
  return imageObjectKey(imagesPrefix, refOf(record));
}
