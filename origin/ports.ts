import type { EntryRef } from "../edge/routes";

/** One image of an entry: the entry and the id the gateway assigned. */
export interface ImageRef extends EntryRef {
  readonly imageId: string;
}

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
  /** In bytes; `null` only on a record the original design wrote, which never stored it. */
  readonly size: number | null;
  /** Hex SHA-256 of the bytes; `null` only on a record the original design wrote. */
  readonly sha256: string | null;
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

/**
 * Where image bytes live (S3, or any S3-compatible server). Every failure to reach the store is a
 * `StorageUnavailableError`; an absent object is `undefined`, never an error.
 */
export interface ImageStore {
  put(key: string, bytes: Uint8Array, options: PutObjectOptions): Promise<void>;
  head(key: string): Promise<StoredObjectInfo | undefined>;
  get(key: string): Promise<StoredObject | undefined>;
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
  close(): Promise<void>;
}

/** Removes deleted images from the CDN's caches. */
export interface Invalidator {
  /** Paths as the CDN knows them, a trailing `*` for a prefix. */
  invalidate(paths: readonly string[]): Promise<void>;
}
