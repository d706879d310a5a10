/** Names and limits of the origin fixed by the contract (shared/ARCHITECTURE.md) or by AWS. */

import { ALB_LAMBDA_BODY_LIMIT_BYTES } from "../../contract/constants";

/** What a multipart body may carry beyond the file itself: boundaries, part headers, the `name` part. */
export const MULTIPART_OVERHEAD_BYTES = 16 * 1024;
/**
 * The largest file whose multipart body (file plus the overhead allowed) still fits the 1 MB an ALB
 * passes to a Lambda target: 983,616 bytes. `MAX_DIRECT_UPLOAD_BYTES` may not be larger.
 */
export const MAX_FITTING_DIRECT_UPLOAD_BYTES = ALB_LAMBDA_BODY_LIMIT_BYTES - MULTIPART_OVERHEAD_BYTES;
/** `MAX_DIRECT_UPLOAD_BYTES` default: as large as fits. */
export const DEFAULT_MAX_DIRECT_UPLOAD_BYTES = MAX_FITTING_DIRECT_UPLOAD_BYTES;
/** `MAX_IMAGE_BYTES` default: 20 MiB. */
export const DEFAULT_MAX_IMAGE_BYTES = 20 * 1024 * 1024;
/** `MAX_IMAGE_PIXELS` default: 100 million, a 12,000 × 8,000 panorama; a decoded RGBA frame of 400 MB. */
export const DEFAULT_MAX_IMAGE_PIXELS = 100_000_000;
export const DEFAULT_DATA_DIR = ".data";
export const DEFAULT_BUGOUT_API_URL = "https://auth.bugout.dev";
export const DEFAULT_REGION = "us-east-1";

/** Longest image name kept, in characters. */
export const MAX_NAME_LENGTH = 200;
/** The name of an image whose upload carried neither a `name` part nor a usable file name. */
export const FALLBACK_IMAGE_NAME = "image";

/** How long a presigned upload form is accepted: S3 refuses it afterwards. At most 15 minutes. */
export const UPLOAD_TICKET_TTL_SECONDS = 15 * 60;
/** Leading bytes the type is detected from, by either upload route: `file-type`'s own sample size. */
export const TYPE_SAMPLE_BYTES = 4100;
/** Largest JSON body `POST …/uploads` reads: a name and a size need far less. */
export const MAX_UPLOAD_REQUEST_BYTES = 4 * 1024;

/** Where `IMAGE_STORE=file` keeps the objects under `DATA_DIR`: one file per key, under its key. */
export const OBJECTS_DIRECTORY_NAME = "objects";

/** The SQLite metadata file under `DATA_DIR`. */
export const SQLITE_FILE_NAME = "metadata.sqlite";

/** An image type the gateway stores: what `file-type` detects, and how it is recorded. */
export interface ImageType {
  readonly extension: string;
  readonly contentType: string;
}

const PNG: ImageType = { extension: "png", contentType: "image/png" };
const JPEG: ImageType = { extension: "jpg", contentType: "image/jpeg" };
const GIF: ImageType = { extension: "gif", contentType: "image/gif" };
const WEBP: ImageType = { extension: "webp", contentType: "image/webp" };
const AVIF: ImageType = { extension: "avif", contentType: "image/avif" };

/**
 * The allowlist, keyed by the MIME type `file-type` detects: raster formats a browser only displays,
 * never SVG or anything it may run. An animated PNG is a PNG and is served as one.
 */
export const ALLOWED_IMAGE_TYPES: Readonly<Record<string, ImageType>> = {
  "image/png": PNG,
  "image/apng": PNG,
  "image/jpeg": JPEG,
  "image/gif": GIF,
  "image/webp": WEBP,
  "image/avif": AVIF,
};

const BMP: ImageType = { extension: "bmp", contentType: "image/bmp" };

/**
 * What an object of the original design may be served as: the allowlist, and BMP, which it accepted (a
 * raster format browsers only display). Never accepted for upload here.
 */
export const LEGACY_IMAGE_TYPES: Readonly<Record<string, ImageType>> = {
  ...ALLOWED_IMAGE_TYPES,
  "image/bmp": BMP,
};

/** Content types by recorded extension, for records that carry only an extension (the original design's). */
export const CONTENT_TYPES_BY_EXTENSION: Readonly<Record<string, string>> = {
  bmp: BMP.contentType,
  png: PNG.contentType,
  jpg: JPEG.contentType,
  jpeg: JPEG.contentType,
  gif: GIF.contentType,
  webp: WEBP.contentType,
  avif: AVIF.contentType,
};

export { SECRET_REFRESH_MS } from "../../contract/constants";
