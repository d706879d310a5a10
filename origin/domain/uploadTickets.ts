import { BadRequestError, NotFoundError } from "../../contract/errors";
import { stagingKeyOf } from "../../contract/keys";
import type { EntryRef, UploadRef } from "../../contract/types";
import { readLimitedBody } from "../http/requestBody";
import { MAX_UPLOAD_REQUEST_BYTES, UPLOAD_TICKET_TTL_SECONDS } from "./constants";
import { EmptyFileError, ImageTooLargeError, PayloadTooLargeError } from "./errors";
import { imageName } from "./names";
import type { ImageRecord, OriginServices, PresignedPost, UploadError, UploadRecord } from "./ports";

/** What issuing and reading upload tickets needs. */
export interface UploadTicketDeps
  extends Pick<OriginServices, "images" | "metadata" | "uploadSigner" | "now" | "uuid"> {
  readonly maxImageBytes: number;
}

/** What a client asks a presigned upload for: `{"name", "size"}`. */
export interface UploadRequest {
  /** Sanitized, never empty. */
  readonly name: string;
  /** The size announced, in bytes. */
  readonly size: number;
}

/** The contract's answer to `POST …/uploads`. */
export interface UploadTicket {
  readonly id: string;
  readonly upload: PresignedPost;
  /** ISO 8601: when the form stops being accepted. */
  readonly expires_at: string;
  /** The largest file the form takes: the size declared, never more. */
  readonly max_bytes: number;
}

/**
 * The contract's answer to `GET …/uploads/{i}`: pending until the finalize step has judged the file, then
 * ready with the image that holds it (`null` once that image has been deleted), or rejected with why.
 */
export type UploadStatusAnswer =
  | { readonly status: "pending"; readonly id: string; readonly expires_at: string }
  | { readonly status: "ready"; readonly id: string; readonly image: ImageRecord | null }
  | { readonly status: "rejected"; readonly id: string; readonly error: UploadError };

/** What a ticket whose form expired unused reads as. */
export const EXPIRED_UPLOAD: UploadError = {
  code: "expired",
  message: "The upload form expired before a file arrived; ask for a new one.",
};

/**
 * Reads `{"name": "...", "size": N}`. The name is sanitized as a direct upload's `name` part is (absent:
 * `image`); the size decides at once whether the image may be stored at all.
 *
 * @throws {BadRequestError} `invalid_upload` for another shape
 * @throws {PayloadTooLargeError} `too_large` for a body above `MAX_UPLOAD_REQUEST_BYTES`
 * @throws {EmptyFileError} for a size of 0
 * @throws {ImageTooLargeError} for a size above `maxImageBytes`
 */
export async function readUploadRequest(request: Request, maxImageBytes: number): Promise<UploadRequest> {
  const tooLarge = () =>
    new PayloadTooLargeError(`The request body may be at most ${MAX_UPLOAD_REQUEST_BYTES} bytes.`);
  const notJson = () => invalid('The request body must be JSON {"name", "size"}.');
  const body = await readLimitedBody(request, MAX_UPLOAD_REQUEST_BYTES, { tooLarge, unreadable: notJson });
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw notJson();
  }
  const { name, size } = (typeof parsed === "object" && parsed !== null ? parsed : {}) as {
    name?: unknown;
    size?: unknown;
  };
  if (name !== undefined && typeof name !== "string") throw invalid("name must be a string.");
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw invalid("size must be the file's size in bytes, a whole number.");
  }
  if (size === 0) throw new EmptyFileError();
  if (size > maxImageBytes) throw new ImageTooLargeError(maxImageBytes);
  return { name: imageName(name, undefined), size };
}

/**
 * Issues a presigned upload: a form that may create exactly this upload's staging key, of 1 byte to the
 * size the client declared (S3 refuses a larger file at the form), for `UPLOAD_TICKET_TTL_SECONDS`; the ticket is recorded `pending` before the
 * form is handed out, so every staged object the finalize step sees has its ticket.
 *
 * @throws {StorageUnavailableError} when the form cannot be signed
 * @throws {MetadataUnavailableError} when the ticket cannot be recorded
 */
export async function issueUploadTicket(
  entry: EntryRef,
  request: UploadRequest,
  deps: UploadTicketDeps,
): Promise<UploadTicket> {
  const id = deps.uuid();
  const now = deps.now();
  const expiresAt = new Date(now + UPLOAD_TICKET_TTL_SECONDS * 1000).toISOString();
  const upload = await deps.uploadSigner.presignPost(stagingKeyOf({ ...entry, uploadId: id }), {
    maxBytes: request.size,
    expiresInSeconds: UPLOAD_TICKET_TTL_SECONDS,
  });
  await deps.metadata.putUpload({
    id,
    journal_id: entry.journalId,
    entry_id: entry.entryId,
    name: request.name,
    declared_size: request.size,
    created_at: new Date(now).toISOString(),
    expires_at: expiresAt,
    status: "pending",
    image_id: null,
    error: null,
  });
  return { id, upload, expires_at: expiresAt, max_bytes: request.size };
}

/**
 * Where an upload stands, from its ticket; the same after a restart, on any container. A pending ticket
 * whose form has expired with nothing staged reads as rejected `expired`.
 *
 * @throws {NotFoundError} when the entry has no such upload
 */
export async function readUploadStatus(
  upload: UploadRef,
  deps: UploadTicketDeps,
): Promise<UploadStatusAnswer> {
  const ticket = await deps.metadata.getUpload(upload);
  if (!ticket) throw new NotFoundError("No such upload.");
  if (ticket.status !== "pending" || deps.now() <= Date.parse(ticket.expires_at)) return answer(ticket, deps);
  if (await deps.images.head(stagingKeyOf(upload))) return answer(ticket, deps);
  // The finalize step settles a ticket before it removes the staged object: read again, in case it just did.
  const again = (await deps.metadata.getUpload(upload)) ?? ticket;
  if (again.status !== "pending") return answer(again, deps);
  return { status: "rejected", id: ticket.id, error: EXPIRED_UPLOAD };
}

async function answer(ticket: UploadRecord, deps: UploadTicketDeps): Promise<UploadStatusAnswer> {
  switch (ticket.status) {
    case "pending":
      return { status: "pending", id: ticket.id, expires_at: ticket.expires_at };
    case "ready": {
      const image =
        ticket.image_id === null
          ? undefined
          : await deps.metadata.get({
              journalId: ticket.journal_id,
              entryId: ticket.entry_id,
              imageId: ticket.image_id,
            });
      return { status: "ready", id: ticket.id, image: image ?? null };
    }
    case "rejected":
      return {
        status: "rejected",
        id: ticket.id,
        error: ticket.error ?? { code: "rejected", message: "The upload was rejected." },
      };
  }
}

function invalid(message: string): BadRequestError {
  return new BadRequestError("invalid_upload", message);
}
