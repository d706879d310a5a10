/** The shapes of the gateway's HTTP contract as the client hands them to an app. */

/** An image as the gateway records it. */
export interface ImageRecord {
  /** A lower-case UUID the gateway assigned. */
  readonly id: string;
  readonly journal_id: string;
  readonly entry_id: string;
  readonly name: string;
  readonly extension: string;
  /** Detected from the bytes, never from the file name. */
  readonly content_type: string;
  /** Bytes as stored. */
  readonly size: number;
  readonly sha256: string;
  /** Displayed pixel width; `null` for records written before the gateway measured images. */
  readonly width: number | null;
  readonly height: number | null;
  /** ISO 8601. */
  readonly created_at: string;
  /** `/journals/{j}/entries/{e}/images/{id}` on the gateway; it needs an access token (see `imageUrl`). */
  readonly url: string;
}

/** How far an upload's file has gone, in bytes of the file. */
export interface UploadProgress {
  readonly loaded: number;
  readonly total: number;
}

/** What an upload may be given: a `File` (its name is used), a `Blob`, or raw bytes. */
export type UploadBody = Blob | ArrayBuffer | ArrayBufferView;

export interface UploadOptions {
  /** The image's name; by default the file's name without its extension (or the gateway's fallback). */
  readonly name?: string;
  /** Called as the file's bytes leave, ending with `loaded === total`. */
  readonly onProgress?: (progress: UploadProgress) => void;
  /** Aborting rejects with the signal's reason; an upload aborted while its bytes travel stores nothing. */
  readonly signal?: AbortSignal;
}

/** The formats a variant may be asked for; by default the gateway negotiates from the browser's `Accept`. */
export type VariantFormat = "avif" | "webp" | "jpeg" | "png";

/** The original (no options), or a variant: one of the gateway's widths, in a format if wanted. */
export type ImageUrlOptions =
  | { readonly width?: undefined; readonly format?: undefined }
  | {
      /** One of the gateway's variant widths (`VARIANT_WIDTHS`). */
      readonly width: number;
      /** Without it, the browser's `Accept` decides (AVIF, else WebP, else the original's format). */
      readonly format?: VariantFormat;
    };

export interface SrcsetOptions {
  readonly format?: VariantFormat;
}

export interface ImageGatewayClientOptions {
  /**
   * The gateway: the distribution (`https://images.example.com`) or `http://localhost:8080`. Empty (the
   * default) means the page's own origin, in a browser: URLs are then root-relative.
   */
  readonly baseUrl?: string;
  /** The notes app's own credential, asked for on every call, sent as the `Authorization` header. */
  readonly authorization: () => string | Promise<string>;
  /** Another `fetch` (a test's, an instrumented one); the global one by default. */
  readonly fetch?: typeof fetch;
}

/** The limits a client takes from the gateway itself, so it never carries copies of them. */
export interface GatewaySettings {
  /** Files up to this size go as one multipart POST; larger ones by presigned upload. */
  readonly maxDirectUploadBytes: number;
  /** Largest image the gateway stores by any route. */
  readonly maxImageBytes: number;
  /** The widths `?w=` accepts, ascending. */
  readonly variantWidths: readonly number[];
}

/** The gateway, as an app calls it. */
export interface ImageGatewayClient {
  /**
   * Stores an image in an entry: as one multipart POST at or under the gateway's direct limit, by
   * presigned upload straight to storage above it. Resolves with the record once the image is ready
   * (for bytes the entry already had, with the existing record).
   *
   * @throws {ImageGatewayError} with the contract's code (`unsupported_type`, `too_large`, ...)
   */
  upload(journalId: string, entryId: string, file: UploadBody, options?: UploadOptions): Promise<ImageRecord>;
  /** The entry's images, oldest first. */
  list(journalId: string, entryId: string): Promise<ImageRecord[]>;
  /** One image's record; `404 not_found` when the entry has no such image. */
  get(journalId: string, entryId: string, imageId: string): Promise<ImageRecord>;
  /** Deletes one image (and its variants); `404 not_found` when the entry has no such image. */
  delete(journalId: string, entryId: string, imageId: string): Promise<void>;
  /** Deletes every image of the entry; harmless when it has none. */
  deleteAll(journalId: string, entryId: string): Promise<void>;
  /** The image's (or a variant's) absolute URL with a fresh access token, for `<img src>`. */
  imageUrl(record: ImageRecord, options?: ImageUrlOptions): Promise<string>;
  /**
   * A `srcset` of the image's variants (`…?w=160&token=… 160w, …`), each described by its true width, so
   * never wider than the image itself; empty when no variant is narrower than the image or its width is
   * unknown (`src` then serves).
   */
  srcset(record: ImageRecord, options?: SrcsetOptions): Promise<string>;
}
