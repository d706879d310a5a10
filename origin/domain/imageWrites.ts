import { createHash } from "node:crypto";
import { fileTypeFromBuffer } from "file-type";
import { HttpError } from "../../contract/errors";
import { imageObjectKey, imageUrl } from "../../contract/keys";
import { describeError } from "../../contract/log";
import type { EntryRef, ImageRef } from "../../contract/types";
import type { OriginDeps } from "../adapters/dependencies";
import { ALLOWED_IMAGE_TYPES, type ImageType, TYPE_SAMPLE_BYTES } from "./constants";
import { MetadataUnavailableError, UnsupportedTypeError } from "./errors";
import { cleanImage, type ImagePolicy, whenDecoded } from "./images";
import type { ImageRecord, OriginServices, PutOutcome } from "./ports";
import { objectKeyOf, refOf } from "./records";

/** What storing an image needs. */
export interface StoreImageDeps extends Pick<OriginServices, "images" | "metadata" | "log" | "now" | "uuid"> {
  readonly imagesPrefix: string;
  /** How uploads are checked and cleaned before they are stored. */
  readonly imagePolicy: ImagePolicy;
}

/** The storing dependencies of the origin's, from its configuration. */
export function storeImageDepsOf<D extends OriginDeps>(deps: D): D & StoreImageDeps {
  return {
    ...deps,
    imagesPrefix: deps.config.imagesPrefix,
    imagePolicy: { maxPixels: deps.config.maxImagePixels, stripMetadata: deps.config.stripImageMetadata },
  };
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
  /** Of the bytes as stored. */
  readonly size: number;
  /** Hex SHA-256 of the bytes as stored. */
  readonly sha256: string;
  /** Displayed pixel size, after orientation. */
  readonly width: number;
  readonly height: number;
}

/** Bytes ready to store: checked, cleaned, and described. */
export interface CheckedImage {
  /** The bytes to store: the very input array when there was nothing to strip. */
  readonly bytes: Uint8Array;
  readonly facts: ImageFacts;
}

/** `CheckedImage` whose full decode may still be running (see `CleanedImage`). */
export interface InspectedImage extends CheckedImage {
  decoded(): Promise<void>;
}

/**
 * Inspects uploaded bytes by either route and prepares what is stored: the type from the magic numbers,
 * then `cleanImage` (pixel limit from the header, metadata stripped, the full decode started); size and
 * SHA-256 are of the bytes as stored, so the same upload twice still deduplicates. The caller must see
 * `decoded()` resolve before it keeps the bytes.
 *
 * @throws {UnsupportedTypeError | InvalidImageError}
 */
export async function inspectImage(
  bytes: Uint8Array,
  name: string,
  policy: ImagePolicy,
): Promise<InspectedImage> {
  const type = await detectImageType(bytes);
  const cleaned = await cleanImage(bytes, type, policy);
  // Hashed in place while the decode runs on the thread pool (Web Crypto would first copy the bytes).
  const sha256 = createHash("sha256").update(cleaned.bytes).digest("hex");
  const facts: ImageFacts = {
    name,
    type,
    size: cleaned.bytes.byteLength,
    sha256,
    width: cleaned.width,
    height: cleaned.height,
  };
  return { bytes: cleaned.bytes, facts, decoded: cleaned.decoded };
}

/**
 * `inspectImage`, decoded in full before it answers.
 *
 * @throws {UnsupportedTypeError | InvalidImageError}
 */
export async function checkImage(
  bytes: Uint8Array,
  name: string,
  policy: ImagePolicy,
): Promise<CheckedImage> {
  return whenDecoded(inspectImage(bytes, name, policy));
}

/**
 * Stores a direct upload: inspected and cleaned by `inspectImage`, then `storeOnce` writes it under a
 * fresh id while the decode check finishes, and records it only once both are done.
 *
 * @throws {UnsupportedTypeError | InvalidImageError} when the bytes are not an allowed, valid image
 * @throws {StorageUnavailableError} when the object cannot be written (no record is written)
 * @throws {MetadataUnavailableError} when the record cannot be written (the object is removed)
 */
export async function storeImage(
  entry: EntryRef,
  upload: ImageUpload,
  deps: StoreImageDeps,
): Promise<PutOutcome> {
  const image = await inspectImage(upload.bytes, upload.name, deps.imagePolicy);
  try {
    return await storeOnce({ ...entry, imageId: deps.uuid() }, image.facts, deps, (key) =>
      putWhileDecoding(key, image, deps),
    );
  } finally {
    // No decode outlives its request: not a duplicate's (whose bytes are stored and valid already), not
    // one whose lookup failed first. Left running, it would escape the request's concurrency bound, and
    // on Lambda be frozen into a later invocation.
    await image.decoded().catch(() => undefined);
  }
}

/**
 * Writes an inspected image under a key no one else writes while its decode check finishes, so the two
 * take the time of the longer rather than the sum. Bytes that fail the check are removed again: nothing
 * recorded them and no one else knows the key. The decode's refusal wins over a failed write, since it
 * tells the uploader what to change.
 *
 * @throws {InvalidImageError} when the bytes do not decode (nothing is left at `key`)
 * @throws {StorageUnavailableError} when the object cannot be written
 */
async function putWhileDecoding(key: string, image: InspectedImage, deps: StoreImageDeps): Promise<void> {
  const [decoded, written] = await Promise.allSettled([
    image.decoded(),
    putNewObject(key, image.bytes, image.facts, deps),
  ]);
  if (decoded.status === "rejected") {
    if (written.status === "fulfilled") await discardObject(key, deps);
    throw decoded.reason;
  }
  if (written.status === "rejected") throw written.reason;
}

/**
 * Writes checked bytes to a key no one else writes. A failed write is cleaned up: it may have landed
 * before its answer was lost, and the key is this upload's alone, so removing it can only remove what
 * this failed upload left.
 */
export async function putNewObject(
  key: string,
  bytes: Uint8Array,
  facts: ImageFacts,
  deps: Pick<StoreImageDeps, "images" | "log">,
): Promise<void> {
  try {
    await deps.images.put(key, bytes, { contentType: facts.type.contentType, sha256: facts.sha256 });
  } catch (error) {
    await discardObject(key, deps);
    throw error;
  }
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
    width: facts.width,
    height: facts.height,
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
