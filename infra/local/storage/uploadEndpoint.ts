import { createHmac, timingSafeEqual } from "node:crypto";
import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { CORS_GRANT } from "../../../contract/cors";

/**
 * Where the local gateway takes presigned POSTs: `/_local/s3/{bucket}`, on the gateway's own origin.
 *
 * Why a path on the gateway rather than the S3-compatible server's own address: the browser reaches the
 * gateway under whatever host and port it was opened with (localhost, 127.0.0.1, a LAN name), while the
 * server listens on a loopback port of its own. The form then goes to the page's own origin and needs no
 * CORS; the origin hands out this path, made absolute from the URL each client called. On AWS the form
 * goes to the bucket's endpoint, whose CORS rule (infra/aws/constructs/ImageBucket.ts) this path also plays.
 */
export const LOCAL_UPLOAD_PATH = "/_local/s3";

/** What the endpoint checks and where it forwards. */
export interface UploadEndpointOptions {
  /** The S3-compatible server, e.g. `http://127.0.0.1:4568`. */
  readonly endpoint: string;
  readonly bucket: string;
  /** The credentials presigned forms are signed with. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Origins the bucket's CORS rule admits (`CORS_ALLOWED_ORIGINS`). */
  readonly corsAllowedOrigins: readonly string[];
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
}

/** Largest run of form fields before the file part: a policy, its signature and a few names. */
const MAX_FORM_HEAD_BYTES = 64 * 1024;
/** Fields S3 never expects a policy condition for. */
const UNCONDITIONED_FIELDS = new Set(["policy", "x-amz-signature", "file"]);
const ALGORITHM = "AWS4-HMAC-SHA256";

/** A refusal, as S3 words it. */
class S3Refusal extends Error {
  public constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The bucket's presigned-POST door on the local gateway. The S3-compatible server accepts any form,
 * signed or not, for any key; this door lets through only what S3 would: a form whose policy our
 * credentials signed, not expired, every field matching a condition (so the key is the one signed). Size
 * and type are left to the finalize step, which checks them on AWS too. The body is streamed, never held.
 */
export class LocalUploadEndpoint {
  /** The form's path on the gateway. */
  public readonly path: string;
  private readonly agent = new Agent({ keepAlive: true });
  private readonly now: () => number;

  public constructor(private readonly options: UploadEndpointOptions) {
    this.path = `${LOCAL_UPLOAD_PATH}/${options.bucket}`;
    this.now = options.now ?? Date.now;
  }

  /** Answers one request to `path`: a CORS preflight, or a form POST forwarded to the bucket. */
  public async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const origin = request.headers.origin;
    const allowed = origin !== undefined && this.options.corsAllowedOrigins.includes(origin);
    const cors: Record<string, string> = allowed
      ? { "access-control-allow-origin": origin, "access-control-allow-credentials": "true", vary: "Origin" }
      : {};
    try {
      if (request.method === "OPTIONS") return preflight(request, response, cors);
      if (request.method !== "POST")
        throw new S3Refusal(405, "MethodNotAllowed", "Only POST is allowed here.");
      await this.forward(request, response, cors);
    } catch (error) {
      if (!(error instanceof S3Refusal)) throw error;
      request.resume();
      writeRefusal(response, error, cors);
    }
  }

  public close(): void {
    this.agent.destroy();
  }

  private async forward(
    request: IncomingMessage,
    response: ServerResponse,
    cors: Record<string, string>,
  ): Promise<void> {
    const contentType = request.headers["content-type"] ?? "";
    const boundary = /^multipart\/form-data;.*\bboundary="?([^";]+)"?/i.exec(contentType)?.[1];
    if (!boundary) {
      throw new S3Refusal(
        412,
        "PreconditionFailed",
        "Bucket POST must be of the enclosure-type multipart/form-data.",
      );
    }
    const { fields, head } = await readFormHead(request, boundary);
    this.verify(fields);

    const headers: Record<string, string> = { "content-type": contentType };
    if (request.headers["content-length"]) headers["content-length"] = request.headers["content-length"];
    const target = new URL(`${this.options.endpoint.replace(/\/+$/, "")}/${this.options.bucket}`);
    const upstream = httpRequest(target, { method: "POST", headers, agent: this.agent });
    const answered = new Promise<IncomingMessage>((resolve, reject) => {
      upstream.once("response", resolve).once("error", reject);
    });
    // Its failure surfaces through the pipeline below first; this one is awaited only after it.
    answered.catch(() => undefined);
    upstream.write(head);
    await pipeline(request, upstream);
    const answer = await answered;
    const out: Record<string, string | string[]> = { ...cors };
    for (const name of ["content-type", "content-length", "etag", "location"]) {
      const value = answer.headers[name];
      if (value !== undefined) out[name] = value;
    }
    response.writeHead(answer.statusCode ?? 502, out);
    await pipeline(answer, response);
  }

  /**
   * What S3 checks of a presigned POST before it takes the file: a SigV4 signature over the policy by our
   * credentials, the policy's expiry, and every field against the policy's conditions.
   *
   * @throws {S3Refusal} 403 as S3 answers
   */
  private verify(fields: ReadonlyMap<string, string>): void {
    const policy = fields.get("policy");
    const signature = fields.get("x-amz-signature") ?? "";
    const [accessKeyId, date, region, service] = (fields.get("x-amz-credential") ?? "").split("/");
    if (!policy || fields.get("x-amz-algorithm") !== ALGORITHM || !date || !region || !service) {
      throw new S3Refusal(403, "AccessDenied", "The form is not signed with a SigV4 POST policy.");
    }
    if (accessKeyId !== this.options.credentials.accessKeyId) {
      throw new S3Refusal(403, "InvalidAccessKeyId", "The form is signed with an unknown access key.");
    }
    const key = [date, region, service, "aws4_request"].reduce<Buffer>(
      (signing, part) => createHmac("sha256", signing).update(part).digest(),
      Buffer.from(`AWS4${this.options.credentials.secretAccessKey}`),
    );
    const expected = createHmac("sha256", key).update(policy).digest();
    const given = Buffer.from(signature, "hex");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new S3Refusal(403, "SignatureDoesNotMatch", "The form's signature does not match its policy.");
    }

    let document: { expiration?: unknown; conditions?: unknown };
    try {
      document = JSON.parse(Buffer.from(policy, "base64").toString("utf8")) as typeof document;
    } catch {
      throw new S3Refusal(400, "InvalidPolicyDocument", "The policy is not JSON.");
    }
    if (!(Date.parse(String(document.expiration)) > this.now())) {
      throw new S3Refusal(403, "AccessDenied", "Invalid according to Policy: Policy expired.");
    }
    const conditioned = new Set<string>();
    for (const condition of Array.isArray(document.conditions) ? document.conditions : []) {
      const [operator, field, value] = Array.isArray(condition)
        ? (condition as unknown[])
        : ["eq", ...(Object.entries(condition as object)[0] ?? [])];
      // content-length-range concerns the file: its size is the finalize step's to check.
      if (operator === "content-length-range") continue;
      const name = String(field).replace(/^\$/, "").toLowerCase();
      conditioned.add(name);
      const actual = name === "bucket" ? this.options.bucket : (fields.get(name) ?? "");
      const holds = operator === "starts-with" ? actual.startsWith(String(value)) : actual === String(value);
      if (!holds) {
        throw new S3Refusal(
          403,
          "AccessDenied",
          `Invalid according to Policy: Policy Condition failed: ${name}`,
        );
      }
    }
    const extra = [...fields.keys()].filter(
      (name) => !conditioned.has(name) && !UNCONDITIONED_FIELDS.has(name) && !name.startsWith("x-ignore-"),
    );
    if (extra.length > 0) {
      throw new S3Refusal(
        403,
        "AccessDenied",
        `Invalid according to Policy: Extra input fields: ${extra.join(", ")}`,
      );
    }
  }
}

/**
 * Reads the form up to the start of its file part (S3 takes the file as the last field it reads) and
 * parses the text fields before it, names lower-cased as S3 compares them. The request is left paused
 * right after, to be piped on.
 *
 * @returns the fields, and every byte read, to be sent on before the rest
 */
function readFormHead(
  request: IncomingMessage,
  boundary: string,
): Promise<{ fields: Map<string, string>; head: Buffer }> {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const settle = (outcome: () => void) => {
      request.off("data", onData).off("end", onEnd).off("error", reject);
      request.pause();
      outcome();
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      let fields: Map<string, string> | undefined;
      try {
        fields = fieldsBeforeFile(head, boundary);
      } catch (error) {
        return settle(() => reject(error));
      }
      if (fields) settle(() => resolve({ fields, head }));
      else if (head.length > MAX_FORM_HEAD_BYTES) settle(() => reject(noFile()));
    };
    const onEnd = () => settle(() => reject(noFile()));
    request.on("data", onData).once("end", onEnd).once("error", reject);
  });
}

function noFile(): S3Refusal {
  return new S3Refusal(
    400,
    "InvalidArgument",
    "POST requires exactly one file field, after the other fields.",
  );
}

/** The fields before the `file` part, or `undefined` while that part's headers have not all arrived. */
function fieldsBeforeFile(buffer: Buffer, boundary: string): Map<string, string> | undefined {
  const delimiter = Buffer.from(`--${boundary}`);
  const fields = new Map<string, string>();
  let at = buffer.indexOf(delimiter);
  while (at >= 0) {
    const headersStart = at + delimiter.length + 2;
    const headersEnd = buffer.indexOf("\r\n\r\n", headersStart);
    if (headersEnd < 0) return undefined;
    const headers = buffer.subarray(headersStart, headersEnd).toString("utf8");
    const name = /;\s*name="([^"]*)"/i.exec(headers)?.[1]?.toLowerCase();
    if (name === "file") return fields;
    const next = buffer.indexOf(delimiter, headersEnd + 4);
    if (next < 0) return undefined;
    if (name === undefined || fields.has(name)) {
      throw new S3Refusal(400, "InvalidArgument", "Every form field must be named, and named once.");
    }
    fields.set(name, buffer.subarray(headersEnd + 4, next - 2).toString("utf8"));
    at = next;
  }
  return undefined;
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

function writeRefusal(response: ServerResponse, refusal: S3Refusal, cors: Record<string, string>): void {
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code>` +
    `<Message>${refusal.message.replace(/[<>&]/g, "")}</Message></Error>`;
  response.writeHead(refusal.status, {
    ...cors,
    "content-type": "application/xml",
    "content-length": Buffer.byteLength(body),
  });
  response.end(body);
}
