import { BadGatewayError, BadRequestError, HttpError, PayloadTooLargeError } from "../../contract/errors";

export { DirectUploadTooLargeError, PayloadTooLargeError } from "../../contract/errors";

/**
 * The origin's own HTTP errors; the shared ones (`InvalidIdError`, `BadRequestError`, ...) come from
 * `contract/errors.ts`, so both halves of the gateway answer with the same `{"error": {"code", "message"}}`.
 */

/** Above `MAX_IMAGE_BYTES`, by any route. */
export class ImageTooLargeError extends PayloadTooLargeError {
  public constructor(maxBytes: number) {
    super(`An image may be at most ${maxBytes} bytes.`);
  }
}

export class EmptyFileError extends BadRequestError {
  public constructor() {
    super("empty_file", "The file is empty.");
  }
}

export class UnsupportedTypeError extends HttpError {
  public constructor() {
    super(415, "unsupported_type", "Only PNG, JPEG, GIF, WebP and AVIF images are accepted.");
  }
}

/** The metadata store (SQLite, Bugout) failed; `cause` keeps the failure for the log, never the answer. */
export class MetadataUnavailableError extends BadGatewayError {
  public constructor(message = "The image metadata store is unavailable.", cause?: unknown) {
    super("metadata_unavailable", message);
    this.cause = cause;
  }
}

/** The object store failed; `cause` keeps the failure for the log, never the answer. */
export class StorageUnavailableError extends BadGatewayError {
  public constructor(message = "The image store is unavailable.", cause?: unknown) {
    super("storage_unavailable", message);
    this.cause = cause;
  }
}
