import { createHash } from "node:crypto";
import { fileTypeFromBuffer } from "file-type";
import type { Log } from "../edge/authorize";
import { HttpError } from "../edge/errors";
import type { EntryRef } from "../edge/routes";
import { ALLOWED_IMAGE_TYPES, type ImageType } from "./constants";
import { MetadataUnavailableError, UnsupportedTypeError } from "./errors";
import { describeError } from "./logging";
import type { ImageRecord, ImageStore, MetadataStore, PutOutcome } from "./ports";
import { imageUrl, objectKeyOf, refOf } from "./records";

/** What storing an image needs. */
export interface StoreImageDeps {
  readonly imagesPrefix: string;
  readonly images: ImageStore;
  readonly metadata: MetadataStore;
  readonly log: Log;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** A new lower-case UUID. */
  readonly uuid: () => string;
}

/** Bytes to store in an entry, with their sanitized display name. */
export interface ImageUpload {
  readonly bytes: Uint8Array;
  readonly name: string;
}

/**
 * Stores an image so that bytes and record never exist one without the other: the type comes from the
 * bytes; bytes the entry already holds give back their record (`created: false`); otherwise the object is
 * written first, then the record, and the object is removed again if the record cannot be written or
 * another upload of the same bytes won the race.
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
  const existing = await deps.metadata.findBySha256(entry, sha256);
  if (existing) return { record: existing, created: false };

  const imageId = deps.uuid();
  const record: ImageRecord = {
    id: imageId,
    journal_id: entry.journalId,
    entry_id: entry.entryId,
    name: upload.name,
    extension: type.extension,
    content_type: type.contentType,
    size: upload.bytes.byteLength,
    sha256,
    created_at: new Date(deps.now()).toISOString(),
    url: imageUrl({ ...entry, imageId }),
  };
  const key = objectKeyOf(deps.imagesPrefix, record);
  await deps.images.put(key, upload.bytes, { contentType: type.contentType, sha256 });

  let outcome: PutOutcome;
  try {
    outcome = await deps.metadata.put(record);
  } catch (error) {
    await rollBack(record, key, deps);
    throw error instanceof HttpError ? error : new MetadataUnavailableError(undefined, error);
  }
  // Another upload of the same bytes recorded first: its object serves them, ours goes.
  if (!outcome.created) await discardObject(key, deps);
  return outcome;
}

/**
 * The allowed image type of `bytes`, read from their magic numbers alone.
 *
 * @throws {UnsupportedTypeError}
 */
export async function detectImageType(bytes: Uint8Array): Promise<ImageType> {
  const detected = await fileTypeFromBuffer(bytes);
  const type = detected && ALLOWED_IMAGE_TYPES[detected.mime];
  if (!type) throw new UnsupportedTypeError();
  return type;
}

/**
 * Undoes an upload whose record write failed. The write may have reached the store before failing (a
 * timeout), so the record is removed first; only when that is certain does the object go, because a
 * record must never be left without its bytes. Whatever cannot be undone is logged for `reconcile`.
 */
async function rollBack(record: ImageRecord, key: string, deps: StoreImageDeps): Promise<void> {
  try {
    await deps.metadata.delete(refOf(record));
  } catch (error) {
    deps.log({
      level: "error",
      event: "upload_rollback_incomplete",
      object_key: key,
      error: describeError(error),
    });
    return;
  }
  await discardObject(key, deps);
}

async function discardObject(key: string, deps: StoreImageDeps): Promise<void> {
  try {
    await deps.images.delete(key);
  } catch (error) {
    deps.log({ level: "error", event: "orphan_object", object_key: key, error: describeError(error) });
  }
}
