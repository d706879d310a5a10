import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { HttpError, NotFoundError } from "../../../contract/errors";
import { errorResponse } from "../../../contract/responses";

/** Headers CloudFront forwards to S3 on a miss: conditions and ranges, nothing of the viewer's identity. */
const FORWARDED_REQUEST_HEADERS = [
  "range",
  "if-none-match",
  "if-modified-since",
  "if-match",
  "if-unmodified-since",
];
/** Headers of S3's answer that reach the viewer. */
const FORWARDED_RESPONSE_HEADERS = [
  "content-type",
  "content-length",
  "content-range",
  "etag",
  "last-modified",
  "accept-ranges",
];

/** The S3 origin of the local distribution: one bucket on an S3-compatible server. */
export class BucketOrigin {
  // CloudFront keeps its origin connections open; so does the local gateway.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly base: URL;

  public constructor(endpoint: string, bucket: string) {
    this.base = new URL(`${endpoint.replace(/\/+$/, "")}/${bucket}/`);
  }

  /**
   * Serves one object as CloudFront's S3 origin would: `GET` and `HEAD`, `ETag`/`If-None-Match` (304),
   * `Range` (206, 416), with the response-headers policy's headers laid over S3's. A missing object is
   * the contract's `404 not_found` JSON rather than S3's XML.
   */
  public async serve(
    key: string,
    request: IncomingMessage,
    response: ServerResponse,
    policyHeaders: Readonly<Record<string, string>>,
  ): Promise<void> {
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers[name];
      if (typeof value === "string") headers[name] = value;
    }
    const method = request.method === "HEAD" ? "HEAD" : "GET";
    const answer = await new Promise<IncomingMessage>((resolve, reject) => {
      httpRequest(new URL(key, this.base), { method, headers, agent: this.agent }, resolve)
        .on("error", reject)
        .end();
    }).catch(() => undefined);
    if (!answer) return writeError(response, storageUnavailable(), policyHeaders);

    const status = answer.statusCode ?? 502;
    if (status !== 200 && status !== 206 && status !== 304) {
      answer.resume();
      return writeError(response, toHttpError(status), policyHeaders);
    }
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = answer.headers[name];
      if (value !== undefined) response.setHeader(name, value);
    }
    for (const [name, value] of Object.entries(policyHeaders)) response.setHeader(name, value);
    response.statusCode = status;
    await pipeline(answer, response);
  }

  public close(): void {
    this.agent.destroy();
  }
}

function toHttpError(status: number): HttpError {
  // With Origin Access Control and no list permission, S3 answers 403 for a missing key, like 404.
  if (status === 404 || status === 403) return new NotFoundError("No such image.");
  if (status === 416)
    return new HttpError(416, "range_not_satisfiable", "The requested range is not satisfiable.");
  if (status === 412) return new HttpError(412, "precondition_failed", "A precondition failed.");
  return storageUnavailable();
}

function storageUnavailable(): HttpError {
  return new HttpError(502, "storage_unavailable", "The image store could not be reached.");
}

/** Writes the contract's error JSON; of the policy's headers only CORS applies to it. */
export function writeError(
  response: ServerResponse,
  error: unknown,
  policyHeaders: Readonly<Record<string, string>> = {},
): void {
  const cors = Object.fromEntries(
    Object.entries(policyHeaders).filter(([name]) => name.startsWith("access-control-") || name === "vary"),
  );
  const generated = errorResponse(error, cors);
  response.writeHead(generated.status, {
    ...generated.headers,
    "content-length": Buffer.byteLength(generated.body),
  });
  response.end(generated.body);
}
