import { createHash } from "node:crypto";
import { fileTypeFromBuffer } from "file-type";
import { HttpError } from "../../contract/errors";
import { imageObjectKey, imageUrl } from "../../contract/keys";
import { describeError } from "../../contract/log";
import type { EntryRef, ImageRef } from "../../contract/types";
import { ALLOWED_IMAGE_TYPES, type ImageType, TYPE_SAMPLE_BYTES } from "./constants";
import { MetadataUnavailableError, UnsupportedTypeError } from "./errors";
import type { ImageRecord, OriginServices, PutOutcome } from "./ports";
import { objectKeyOf, refOf } from "./records";

/** What storing an image needs. */
export interface StoreImageDeps extends Pick<OriginServices, "images" | "metadata" | "log" | "now" | "uuid"> {
  readonly imagesPrefix: string;
}

/** Bytes to store in an entry, with their sanitized display name. */
export interface ImageUpload {
  readonly bytes: Uint8Array;
  readonly name: string;
}

/** What checked bytes are: everything their record says of them. */
export interface ImageFacts {
  readonly name: string;
  readonly type: ImageType;
  readonly size: number;
  /** Hex SHA-256 of the bytes. */
  readonly sha256: string;
}

/**
 * Stores a direct upload: its type comes from the bytes, then `storeOnce` writes it under a fresh id.
 *
 * @throws {UnsupportedTypeError} when the bytes are not an allowed image type
 * @throws {StorageUnavailableError} when the object cannot be written (no record is written)
 * @throws {MetadataUnavailableError} when the record cannot be written (the object is removed)
 */
export async function storeImage(
  entry: EntryRef,
  upload: ImageUpload,
  deps: StoreImageDeps,
): Promise<PutOutcome> {
  const type = await detectImageType(upload.bytes);
  const sha256 = createHash("sha256").update(upload.bytes).digest("hex");
  const facts: ImageFacts = { name: upload.name, type, size: upload.bytes.byteLength, sha256 };
  return storeOnce({ ...entry, imageId: deps.uuid() }, facts, deps, async (key) => {
    try {
      await deps.images.put(key, upload.bytes, { contentType: type.contentType, sha256 });
    } catch (error) {
      // The write may have landed before its answer was lost; the key is this upload's alone, so
      // removing it can only remove what this failed upload left.
      await discardObject(key, deps);
      throw error;
    }
  });
}

/**
 * Stores checked bytes so that bytes and record never exist one without the other: bytes the entry
 * already holds give back their record (`created: false`) and nothing is written; otherwise `writeObject`
 * puts them at `image`'s key, then `recordImage` records them.
 *
 * @throws whatever `writeObject` throws (no record is written)
 * @throws {MetadataUnavailableError} when the record cannot be written (the object is removed)
 */
export async function storeOnce(
  image: ImageRef,
  facts: ImageFacts,
  deps: StoreImageDeps,
  writeObject: (key: string) => Promise<void>,
): Promise<PutOutcome> {
  const existing = await deps.metadata.findBySha256(image, facts.sha256);
  if (existing) return { record: existing, created: false };
  const key = imageObjectKey(deps.imagesPrefix, image);
  await writeObject(key);
  return recordImage(image, facts, deps);
}

/**
 * Records an image whose object is already at its key, by either upload route. The object is removed
 * again when another upload of the same bytes recorded first (whose record is then the outcome), or when
 * the record write failed and certainly wrote nothing (`settleFailedRecordWrite`).
 *
 * @throws {MetadataUnavailableError} when the record cannot be written
 */
export async function recordImage(
  image: ImageRef,
  facts: ImageFacts,
  deps: StoreImageDeps,
): Promise<PutOutcome> {
  const record: ImageRecord = {
    id: image.imageId,
    journal_id: image.journalId,
    entry_id: image.entryId,
    name: facts.name,
    extension: facts.type.extension,
    content_type: facts.type.contentType,
    size: facts.size,
    sha256: facts.sha256,
    created_at: new Date(deps.now()).toISOString(),
    url: imageUrl(image),
  };
  const key = objectKeyOf(deps.imagesPrefix, record);
  let outcome: PutOutcome;
  try {
    outcome = await deps.metadata.put(record);
  } catch (error) {
    const written = await settleFailedRecordWrite(record, key, deps);
    if (written) return { record: written, created: true };
    throw error instanceof HttpError ? error : new MetadataUnavailableError(undefined, error);
  }
  // Another upload of the same bytes recorded first: its object serves them, ours goes. The same id is
  // this very image, recorded by a second delivery of the same finalize: its object is ours.
  if (!outcome.created && outcome.record.id !== record.id) await discardObject(key, deps);
  return outcome;
}

/**
 * The allowed image type of `bytes`, read from the magic numbers of their first `TYPE_SAMPLE_BYTES`
 * alone, so that a whole file and its ranged start are judged alike.
 *
 * @throws {UnsupportedTypeError}
 */
export async function detectImageType(
  bytes: Uint8Array,
  allowed: Readonly<Record<string, ImageType>> = ALLOWED_IMAGE_TYPES,
): Promise<ImageType> {
  const detected = await fileTypeFromBuffer(bytes.subarray(0, TYPE_SAMPLE_BYTES));
  const type = detected && allowed[detected.mime];
  if (!type) throw new UnsupportedTypeError();
  return type;
}

/**
 * Settles an upload whose record write failed. The write may have reached the store before its answer
 * was lost: then the record stands, with its object, and the upload succeeded after all. It is never
 * taken back, because a concurrent upload of the same bytes may already have been answered with it
 * (deduplication), and taking it back would lose an image someone was told is stored. Only when a read
 * makes it certain that no record was written does the object go. Without an answer to that either, the
 * object stays, since a record must never be left without its bytes, and is logged for `reconcile`.
 *
 * @returns the record, when it was written after all
 */
async function settleFailedRecordWrite(
  record: ImageRecord,
  key: string,
  deps: StoreImageDeps,
): Promise<ImageRecord | undefined> {
  let written: ImageRecord | undefined;
  try {
    written = await deps.metadata.get(refOf(record));
  } catch (error) {
    deps.log({
      level: "error",
      event: "upload_rollback_incomplete",
      object_key: key,
      error: describeError(error),
    });
    return undefined;
  }
  if (!written) await discardObject(key, deps);
  return written;
}

/** Removes an object nothing needs; a failure only leaves garbage, which is logged, never thrown. */
export async function discardObject(
  key: string,
  deps: Pick<StoreImageDeps, "images" | "log">,
): Promise<void> {
  try {
    await deps.images.delete(key);
  } catch (error) {
    deps.log({ level: "error", event: "orphan_object", object_key: key, error: describeError(error) });
  }
}
