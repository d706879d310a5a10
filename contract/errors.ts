/**
 * HTTP errors of the contract. Each class only fixes a status and a code; `HttpError` knows how to
 * render itself as `{"error": {"code", "message"}}`, the shape the edge and the origin share.
 */
export class HttpError extends Error {
  public constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** The contract's error body. */
  public toJSON(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export class InvalidIdError extends HttpError {
  public constructor(what: string) {
    super(400, "invalid_id", `The ${what} id is not valid.`);
  }
}

export class BadRequestError extends HttpError {
  public constructor(code: string, message: string) {
    super(400, code, message);
  }
}

export class UnauthorizedError extends HttpError {
  public constructor(code: string, message: string) {
    super(401, code, message);
  }
}

export class ForbiddenError extends HttpError {
  public constructor(code: string, message: string) {
    super(403, code, message);
  }
}

export class NotFoundError extends HttpError {
  public constructor(message = "No such resource.") {
    super(404, "not_found", message);
  }
}

export class PayloadTooLargeError extends HttpError {
  public constructor(message: string) {
    super(413, "too_large", message);
  }
}

/**
 * A direct upload above what its route takes, pointing at the presigned route that takes it. `what` is
 * what `maxBytes` counts: the file (the origin's limit) or the whole body (the load balancer's).
 */
export class DirectUploadTooLargeError extends PayloadTooLargeError {
  public constructor(
    entry: { readonly journalId: string; readonly entryId: string },
    maxBytes: number,
    what = "A direct upload",
  ) {
    super(
      `${what} takes at most ${maxBytes} bytes; upload larger images with ` +
        `POST /api/journals/${entry.journalId}/entries/${entry.entryId}/uploads.`,
    );
  }
}

export class MethodNotAllowedError extends HttpError {
  public constructor(allowed: readonly string[]) {
    super(405, "method_not_allowed", `Allowed methods: ${allowed.join(", ")}.`, {
      allow: allowed.join(", "),
    });
  }
}

export class BadGatewayError extends HttpError {
  public constructor(code: string, message: string) {
    super(502, code, message);
  }
}

export class ServiceUnavailableError extends HttpError {
  public constructor(code: string, message: string) {
    super(503, code, message);
  }
}

export class GatewayTimeoutError extends HttpError {
  public constructor(code: string, message: string) {
    super(504, code, message);
  }
}

/**
 * A setting or a secret's content is wrong: retrying will not help until someone changes it. Its message
 * names what is wrong and never holds a secret's value.
 */
export class ConfigurationError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** What Secrets Manager answers when the secret is missing, unreadable by this role, or undecryptable. */
const MISCONFIGURED_AWS_ERRORS = new Set([
  "AccessDeniedException",
  "ResourceNotFoundException",
  "DecryptionFailure",
  "InvalidRequestException",
]);

/**
 * The `503` for a gateway whose configuration or secrets could not be loaded: `gateway_misconfigured`
 * when retrying cannot help (the logs say what is wrong), `gateway_unavailable` when it may.
 */
export function unavailableAnswer(error: unknown): ServiceUnavailableError {
  const misconfigured =
    error instanceof ConfigurationError ||
    (error instanceof Error && MISCONFIGURED_AWS_ERRORS.has(error.name));
  return misconfigured
    ? new ServiceUnavailableError(
        "gateway_misconfigured",
        "The gateway is misconfigured; its operator can read what is wrong in its logs.",
      )
    : new ServiceUnavailableError(
        "gateway_unavailable",
        "The gateway could not load its configuration; try again.",
      );
}
