/**
 * Every failure the client reports: the contract's `{"error": {"code", "message"}}` with the HTTP status
 * it came with. A presigned upload the gateway rejected after storage took it carries the rejection's
 * code, with the status the direct route answers that code with (`unsupported_type` is 415 either way).
 * The client's own conditions use codes of their own: `network_error` (status 0), `unexpected_response`,
 * `upload_refused` (storage refused the form), `upload_timeout`.
 */
export class ImageGatewayError extends Error {
  public constructor(
    /** The HTTP status; 0 when no answer arrived. */
    public readonly status: number,
    /** The contract's snake_case code. */
    public readonly code: string,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
    this.name = "ImageGatewayError";
  }
}

/** The status the direct route answers each rejection code with, so both routes fail alike. */
const REJECTION_STATUS: Readonly<Record<string, number>> = {
  empty_file: 400,
  too_large: 413,
  unsupported_type: 415,
  invalid_image: 422,
  expired: 410,
};

/** A presigned upload's rejection (`{"code", "message"}` of its status answer) as an error. */
export function rejectionError(error: {
  readonly code: string;
  readonly message: string;
}): ImageGatewayError {
  return new ImageGatewayError(REJECTION_STATUS[error.code] ?? 422, error.code, error.message);
}

/** The error an unsuccessful answer's body describes; a body without the contract's shape is named so. */
export function errorFromAnswer(status: number, body: string): ImageGatewayError {
  try {
    const { error } = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof error?.code === "string" && typeof error.message === "string") {
      return new ImageGatewayError(status, error.code, error.message);
    }
  } catch {
    // Not JSON: a proxy's or CDN's own error page.
  }
  return unexpected(status);
}

/** An answer the contract does not describe. */
export function unexpected(status: number): ImageGatewayError {
  return new ImageGatewayError(
    status,
    "unexpected_response",
    `The gateway answered ${status} without the contract's body.`,
  );
}
