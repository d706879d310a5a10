import type { Log } from "../../contract/log";
import type { EntryRef, ImageRef, UploadRef } from "../../contract/types";

/**
 * An image's record, exactly as the contract's JSON. The keys `id`, `name`, `entry_id`, `journal_id`,
 * `extension` and `created_at` mean what they meant in the original design, whose records stay readable.
 */
export interface ImageRecord {
  /** A lower-case UUID; also the last segment of the object key and of `url`. */
  readonly id: string;
  readonly journal_id: string;
  readonly entry_id: string;
  /** The sanitized display name, without an extension. */
  readonly name: string;
  /** Of the detected type, lower-case, without a dot: `png`, `jpg`, `gif`, `webp`, `avif`. */
  readonly extension: string;
  /** The detected type, never the declared one. */
  readonly content_type: string;
  /** In bytes, as stored (after metadata stripping); `null` only on a record the original design wrote, which never stored it. */
  readonly size: number | null;
  /** Hex SHA-256 of the bytes as stored; `null` only on a record the original design wrote. */
  readonly sha256: string | null;
  /** Displayed pixel size (after orientation); `null` on a record written before it was kept. */
  readonly width: number | null;
  readonly height: number | null;
  /** ISO 8601. */
  readonly created_at: string;
  /** The path that serves the bytes: `/journals/{j}/entries/{e}/images/{id}`. */
  readonly url: string;
}

/** What the object store knows about one object. */
export interface StoredObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
  /** The version's entity tag as the store quotes it; what `ReadOptions.ifMatch` pins. */
  readonly eTag?: string;
  /** The type the object is served with, where the store tells it (`head`). */
  readonly contentType?: string;
}

/** An object with its bytes. */
export interface StoredObject extends StoredObjectInfo {
  readonly contentType: string | undefined;
  readonly bytes: Uint8Array;
}

/** What a write needs besides the bytes. */
export interface PutObjectOptions {
  /** The detected type, which the CDN serves. */
  readonly contentType: string;
  /** Hex SHA-256 of the bytes, so the store can refuse bytes damaged on the way. */
  readonly sha256: string;
}

/** Which version of an object a read or copy may see. */
export interface ReadOptions {
  /**
   * Only the version with this entity tag (from `head`): any other version reads as absent, so bytes
   * checked once cannot be swapped before they are used.
   */
  readonly ifMatch?: string;
}

/** What a copy replaces: the object is served with the detected type, never the uploader's. */
export interface CopyObjectOptions extends ReadOptions {
  readonly contentType: string;
}

/**
 * Where image bytes live (S3, or any S3-compatible server). Every failure to reach the store is a
 * `StorageUnavailableError`; an absent object is `undefined`, never an error.
 */
export interface ImageStore {
  put(key: string, bytes: Uint8Array, options: PutObjectOptions): Promise<void>;
  head(key: string): Promise<StoredObjectInfo | undefined>;
  get(key: string): Promise<StoredObject | undefined>;
  /** The first `length` bytes (all of them when the object is shorter), by a ranged read. */
  readStart(key: string, length: number, options?: ReadOptions): Promise<Uint8Array | undefined>;
  /**
   * The bytes as a stream of chunks, never whole in memory. A failure while reading is a
   * `StorageUnavailableError` thrown by the iteration.
   */
  stream(key: string, options?: ReadOptions): Promise<AsyncIterable<Uint8Array> | undefined>;
  /**
   * The whole object, which `head` measured at `size` bytes, read into one buffer of that size and
   * nothing else: what is checked whole is held once. `undefined` when it is not there (that version),
   * or turns out not to be `size` bytes long.
   */
  readAll(key: string, size: number, options?: ReadOptions): Promise<Uint8Array | undefined>;
  /**
   * Copies `from` to `to` in the same bucket, store-side, with the options' metadata and the images' cache
   * lifetime. `false` when the source (that version) is gone, and nothing was written.
   */
  copy(from: string, to: string, options: CopyObjectOptions): Promise<boolean>;
  /** Succeeds whether or not the object existed. */
  delete(key: string): Promise<void>;
  /** Every object under `prefix`, in key order. */
  list(prefix: string): AsyncIterable<StoredObjectInfo>;
}

/** The result of writing a record: the record that now holds these bytes in this entry. */
export interface PutOutcome {
  readonly record: ImageRecord;
  /** `false` when the entry already had a record with the same SHA-256; `record` is then that one. */
  readonly created: boolean;
}

/** Where a presigned upload stands. */
export type UploadStatus = "pending" | "ready" | "rejected";

/** Why an upload was rejected, as the contract's error JSON carries it. */
export interface UploadError {
  readonly code: string;
  readonly message: string;
}

/**
 * A presigned upload ticket and what became of it. Written `pending` when the ticket is issued, settled
 * once (`ready` or `rejected`) by the finalize step; kept afterwards, so its status survives restarts.
 */
export interface UploadRecord {
  /** A lower-case UUID; the last segment of the staging key. */
  readonly id: string;
  readonly journal_id: string;
  readonly entry_id: string;
  /** The sanitized display name the image will get. */
  readonly name: string;
  /** The size the client announced; the image's size comes from the stored object. */
  readonly declared_size: number;
  /** ISO 8601. */
  readonly created_at: string;
  /** ISO 8601: when the presigned form stops being accepted. */
  readonly expires_at: string;
  readonly status: UploadStatus;
  /** `ready` only: the image holding the bytes, an earlier one when the entry already had them. */
  readonly image_id: string | null;
  /** `rejected` only. */
  readonly error: UploadError | null;
}

/** How a pending upload is settled. */
export type UploadOutcome =
  | { readonly status: "ready"; readonly imageId: string }
  | { readonly status: "rejected"; readonly error: UploadError };

/**
 * Where image records live (SQLite, or Bugout's resources API). Every failure to reach the store is a
 * `MetadataUnavailableError`; an absent record is `undefined`, never an error.
 */
export interface MetadataStore {
  /**
   * Writes a record unless the entry already holds one with the same SHA-256, in which case that one is
   * returned with `created: false` and the new one is not kept, even when both writes race.
   */
  put(record: ImageRecord): Promise<PutOutcome>;
  get(image: ImageRef): Promise<ImageRecord | undefined>;
  /** Oldest first. */
  listByEntry(entry: EntryRef): Promise<ImageRecord[]>;
  findBySha256(entry: EntryRef, sha256: string): Promise<ImageRecord | undefined>;
  /** The removed record, or `undefined` if there was none. */
  delete(image: ImageRef): Promise<ImageRecord | undefined>;
  /** The removed records, oldest first. */
  deleteByEntry(entry: EntryRef): Promise<ImageRecord[]>;
  /** Every record of every entry (reconciliation). */
  listAll(): AsyncIterable<ImageRecord>;
  /** Records a new upload ticket. Upload tickets never appear among image records. */
  putUpload(upload: UploadRecord): Promise<void>;
  /** The ticket, in its entry only. */
  getUpload(upload: UploadRef): Promise<UploadRecord | undefined>;
  /**
   * Settles a pending upload. The first settlement wins, however many finalizers race: settling one
   * already settled changes nothing.
   *
   * @returns the ticket as it now stands, or `undefined` when there is none
   */
  settleUpload(upload: UploadRef, outcome: UploadOutcome): Promise<UploadRecord | undefined>;
  /**
   * Removes upload tickets long expired, where keeping them costs (Bugout lists every resource of the
   * application at every query); a store whose tickets cost nothing has none.
   *
   * @returns how many were removed
   */
  pruneUploads?(): Promise<number>;
  close(): Promise<void>;
}

/** A browser form that may create exactly one object, as S3's presigned POST answers it. */
export interface PresignedPost {
  /** Where the form goes: absolute, or a path on the gateway's own origin (the local gateway's). */
  readonly url: string;
  /** Fields to send, in this order, before the file part (named `file`). */
  readonly fields: Readonly<Record<string, string>>;
}

/** What a presigned upload allows. */
export interface UploadLimits {
  readonly maxBytes: number;
  readonly expiresInSeconds: number;
}

/** Signs browser uploads straight into the object store. */
export interface UploadSigner {
  /** A form that may create exactly `key`, of 1 to `maxBytes` bytes, until it expires. */
  presignPost(key: string, limits: UploadLimits): Promise<PresignedPost>;
}

/** Removes deleted images from the CDN's caches. */
export interface Invalidator {
  /** Paths as the CDN knows them, a trailing `*` for a prefix. */
  invalidate(paths: readonly string[]): Promise<void>;
}

/**
 * The services the origin's operations are built on, described once: each operation takes the few it
 * needs (`Pick<OriginServices, ...>`), and `OriginDeps` carries them all.
 */
export interface OriginServices {
  readonly images: ImageStore;
  readonly metadata: MetadataStore;
  /** Signs presigned uploads into the bucket's staging prefix. */
  readonly uploadSigner: UploadSigner;
  readonly invalidator: Invalidator;
  readonly log: Log;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** A new lower-case UUID. */
  readonly uuid: () => string;
}
