import type { IncomingMessage, ServerResponse } from "node:http";
import type { S3Event } from "aws-lambda";
import busboy from "busboy";
import { STAGING_PREFIX } from "../../../contract/constants";
import { CORS_GRANT } from "../../../contract/cors";
import {
  FileImageStore,
  ObjectTooLargeError,
  type PendingObject,
} from "../../../origin/adapters/FileImageStore";
import { objectCreatedEvent } from "./objectCreatedEvent";
import { formBoundary, partHeaderGuard } from "./partHeaderGuard";
import { type AllowedPost, checkPostPolicy, type StorageCredentials } from "./postPolicy";
import { S3Refusal, writeS3Refusal } from "./S3Refusal";

/**
 * Where the local gateway takes presigned POSTs: `/_local/s3/{bucket}`, on the gateway's own origin.
 *
 * Why a path on the gateway: the browser reaches the gateway under whatever host and port it was opened
 * with (localhost, 127.0.0.1, a LAN name), so the form goes to the page's own origin and needs no CORS; the
 * origin hands out this path, made absolute from the URL each client called. On AWS the form goes to the
 * bucket's endpoint, whose CORS rule (infra/constructs/ImageBucket.ts) this path also plays.
 */
export const LOCAL_UPLOAD_PATH = "/_local/s3";

/** What the door checks and where it writes. */
export interface UploadDoorOptions {
  readonly store: FileImageStore;
  readonly bucket: string;
  /** The bucket's region: the one a form's credential scope must name. */
  readonly region: string;
  /** What forms must be signed with (`storageCredentials.ts`). */
  readonly credentials: StorageCredentials;
  /** Origins the bucket's CORS rule admits (`CORS_ALLOWED_ORIGINS`). */
  readonly corsAllowedOrigins: readonly string[];
  /** The largest file any form may carry, whatever its policy says: the largest image. */
  readonly maxBytes: number;
  /** Called with S3's notification of each object a form created, after the answer. */
  readonly onObjectCreated: (event: S3Event) => void;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
}

/** Text fields before the file: a policy, its signature, the key and a few names need far fewer. */
const MAX_FIELDS = 32;
const MAX_FIELD_BYTES = 16 * 1024;
/** What S3 stores as the type of an object whose form names none; the finalize step sets the real one. */
const FORM_CONTENT_TYPE = "binary/octet-stream";

/**
 * The bucket's presigned-POST door on the local gateway, written on the file store. Each form is parsed
 * once, by busboy, and that one parse is what is checked and what is written: the text fields before
 * the file part are checked against the policy as S3 checks them (signature with this `DATA_DIR`'s
 * credentials, expiry, every condition including `content-length-range`, no extra field); the file is
 * streamed to a temporary file, never more than the policy's range; only when the whole form has been
 * read and found right does it become the object the policy's key names, under the staging prefix. Then
 * the object-created notification goes to the finalize code, as S3 sends it.
 *
 * Ambiguous forms are refused rather than read one way: a repeated field, a second file, a part header
 * with two names (`partHeaderGuard`), a Content-Type with two boundaries. Refusals are S3's XML; the rest
 * of a refused body is read and dropped, so the answer reaches the client and the connection stays usable.
 */
export class UploadDoor {
  /** The form's path on the gateway. */
  public readonly path: string;
  private readonly now: () => number;

  public constructor(private readonly options: UploadDoorOptions) {
    this.path = `${LOCAL_UPLOAD_PATH}/${options.bucket}`;
    this.now = options.now ?? Date.now;
  }

  /** Answers one request to `path`: a CORS preflight, or a form POST. */
  public async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const origin = request.headers.origin;
    const allowed = origin !== undefined && this.options.corsAllowedOrigins.includes(origin);
    const cors: Record<string, string> = allowed
      ? { "access-control-allow-origin": origin, "access-control-allow-credentials": "true", vary: "Origin" }
      : {};
    try {
      if (request.method === "OPTIONS") return preflight(request, response, cors);
      if (request.method !== "POST") {
        throw new S3Refusal(
          405,
          "MethodNotAllowed",
          "The specified method is not allowed against this resource.",
        );
      }
      const { allowed: post, pending } = await this.receive(request);
      await this.store(post, pending, request, response, cors);
    } catch (error) {
      if (!(error instanceof S3Refusal)) throw error;
      // Read and drop the rest of the body, so the answer is not cut off by a reset.
      request.resume();
      writeS3Refusal(response, error, cors);
    }
  }

  /** Commits the checked file as its key, answers as S3 does (204), then notifies. */
  private async store(
    post: AllowedPost,
    pending: PendingObject,
    request: IncomingMessage,
    response: ServerResponse,
    cors: Record<string, string>,
  ): Promise<void> {
    if (pending.size < post.minBytes) {
      await pending.discard();
      throw new S3Refusal(
        400,
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed size",
      );
    }
    await pending.commit(post.key, FORM_CONTENT_TYPE);
    const encodedKey = post.key.split("/").map(encodeURIComponent).join("/");
    response.writeHead(204, { ...cors, etag: pending.eTag, location: `${this.path}/${encodedKey}` });
    response.end();
    this.options.onObjectCreated(
      objectCreatedEvent({
        bucket: this.options.bucket,
        region: this.options.region,
        key: post.key,
        size: pending.size,
        eTag: pending.eTag,
        sourceIp: request.socket.remoteAddress ?? "127.0.0.1",
        time: new Date(this.now()),
      }),
    );
  }

  /**
   * Parses the form once: the fields before the file are checked against the policy when the file part
   * begins; the file goes to a temporary file within the policy's size range. Resolves once the whole
   * form has been read and found well-formed.
   *
   * @throws {S3Refusal} as S3 answers; nothing is kept
   */
  private receive(request: IncomingMessage): Promise<{ allowed: AllowedPost; pending: PendingObject }> {
    const boundary = formBoundary(request.headers["content-type"] ?? "");
    if (!boundary) {
      return Promise.reject(
        new S3Refusal(
          412,
          "PreconditionFailed",
          "Bucket POST must be of the enclosure-type multipart/form-data.",
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const fields = new Map<string, string>();
      let allowed: AllowedPost | undefined;
      let writing: Promise<PendingObject> | undefined;
      let settled = false;
      const guard = partHeaderGuard(boundary);
      const parser = busboy({
        // The boundary as the guard reads it: one boundary, the same for both.
        headers: { "content-type": `multipart/form-data; boundary="${boundary}"` },
        limits: { fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, parts: MAX_FIELDS + 1 },
      });
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        request.unpipe(guard);
        guard.unpipe(parser);
        guard.destroy();
        parser.destroy();
        // Answered once the file written so far is gone: a refused form leaves nothing behind. The
        // destroyed parser ends the file stream, so the write settles.
        const written = writing?.then(
          (pending) => pending.discard(),
          () => undefined,
        );
        void Promise.resolve(written).finally(() => reject(error instanceof S3Refusal ? error : malformed()));
      };
      parser.on("field", (name, value, info) => {
        // S3 ignores what follows the file; nothing after it can change what is written.
        if (allowed || settled) return;
        const field = name.toLowerCase();
        if (info.nameTruncated || info.valueTruncated) return fail(malformed());
        if (fields.has(field)) {
          return fail(
            new S3Refusal(400, "InvalidArgument", `The form gives the field ${field} more than once.`),
          );
        }
        fields.set(field, value);
      });
      parser.on("file", (name, stream, _info) => {
        // A refused form's parts end in errors once the parser is destroyed; they are answered already.
        stream.on("error", () => undefined);
        if (settled) return stream.resume();
        if (name.toLowerCase() !== "file" || allowed) {
          stream.resume();
          return fail(
            new S3Refusal(400, "InvalidArgument", "POST requires exactly one file field, named file."),
          );
        }
        try {
          allowed = this.check(fields);
        } catch (error) {
          stream.resume();
          return fail(error);
        }
        const maxBytes = allowed.maxBytes;
        writing = this.options.store.prepareFrom(stream, maxBytes);
        writing.catch((error: unknown) =>
          fail(
            error instanceof ObjectTooLargeError
              ? new S3Refusal(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
              : error,
          ),
        );
      });
      for (const limit of ["partsLimit", "filesLimit", "fieldsLimit"])
        parser.on(limit, () => fail(malformed()));
      // `on`, not `once`: a destroyed parser may report again, and an unheard error would throw.
      parser.on("error", fail);
      guard.on("error", fail);
      parser.once("close", () => {
        if (settled) return;
        if (!allowed || !writing) {
          return fail(
            new S3Refusal(400, "InvalidArgument", "POST requires exactly one file upload per request."),
          );
        }
        const checked = allowed;
        writing.then((pending) => {
          if (settled) return void pending.discard();
          settled = true;
          resolve({ allowed: checked, pending });
        }, fail);
      });
      // The client went away before the body ended: nothing of it is kept.
      request.once("close", () => {
        if (!request.complete) fail(malformed());
      });
      request.once("error", fail);
      request.pipe(guard).pipe(parser);
    });
  }

  /** The policy check, and what this door adds: it writes only staging keys the file store can hold. */
  private check(fields: ReadonlyMap<string, string>): AllowedPost {
    const allowed = checkPostPolicy(fields, {
      bucket: this.options.bucket,
      region: this.options.region,
      credentials: this.options.credentials,
      now: this.now(),
      maxBytes: this.options.maxBytes,
    });
    if (!allowed.key.startsWith(STAGING_PREFIX) || !FileImageStore.isValidKey(allowed.key)) {
      throw new S3Refusal(403, "AccessDenied", `Forms may only create keys under ${STAGING_PREFIX}.`);
    }
    return allowed;
  }
}

function malformed(): S3Refusal {
  return new S3Refusal(
    400,
    "MalformedPOSTRequest",
    "The body of your POST request is not well-formed multipart/form-data.",
  );
}

/** The bucket's CORS rule: POST from the configured origins, any request header. */
function preflight(request: IncomingMessage, response: ServerResponse, cors: Record<string, string>): void {
  request.resume();
  if (!cors["access-control-allow-origin"] || request.headers["access-control-request-method"] !== "POST") {
    throw new S3Refusal(403, "AccessForbidden", "CORSResponse: This CORS request is not allowed.");
  }
  const requested = request.headers["access-control-request-headers"];
  response.writeHead(200, {
    ...cors,
    "access-control-allow-methods": "POST",
    ...(requested ? { "access-control-allow-headers": requested } : {}),
    "access-control-max-age": String(CORS_GRANT.maxAgeSeconds),
    vary: "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
  });
  response.end();
}
