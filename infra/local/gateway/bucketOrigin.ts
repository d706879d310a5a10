import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import send from "send";
import { HttpError, NotFoundError } from "../../../contract/errors";
import type { FileImageStore } from "../../../origin/adapters/FileImageStore";
import { writeError } from "./errorAnswer";
import type { ImageObject, ImageSource } from "./imageSource";

/** Headers CloudFront forwards to S3 on a miss: conditions and ranges, nothing of the viewer's identity. */
const FORWARDED_REQUEST_HEADERS = [
  "range",
  "if-range",
  "if-none-match",
  "if-modified-since",
  "if-match",
  "if-unmodified-since",
] as const;

/**
 * The S3 origin of the local distribution: the objects of the file store, read from disk as S3 answers
 * them. The played CloudFront cache opens an object to keep it; what it does not keep is served here by
 * `send`, which answers conditional and range requests (`ETag`/`If-None-Match` 304, `If-Match` 412,
 * `Range` 206/416, `Last-Modified`/`If-Modified-Since`) with the ETag and type the store keeps.
 */
export class BucketOrigin implements ImageSource {
  public constructor(private readonly store: FileImageStore) {}

  public async open(key: string): Promise<ImageObject | undefined> {
    const object = await this.store.locate(key).catch(() => null);
    if (object === null) throw storageUnavailable();
    if (!object) return undefined;
    return {
      size: object.size,
      contentType: object.contentType,
      etag: object.eTag,
      lastModified: object.lastModified,
      // S3 keeps none with the images the origin writes (S3ImageStore), so CloudFront uses its default TTL.
      cacheControl: undefined,
      read: async () => {
        // This very version: bytes written since under the same key are another object.
        const chunks = await this.store.stream(key, { ifMatch: object.eTag }).catch(() => null);
        if (chunks === null) throw storageUnavailable();
        if (!chunks) throw new NotFoundError("No such image.");
        return Readable.from(chunks);
      },
    };
  }

  /**
   * Serves one object to `GET` or `HEAD`, with the response-headers policy's headers laid over the
   * store's. A missing object is the contract's `404 not_found` JSON rather than S3's XML.
   */
  public async serve(
    key: string,
    request: IncomingMessage,
    response: ServerResponse,
    policyHeaders: Readonly<Record<string, string>>,
  ): Promise<void> {
    const object = await this.store.locate(key).catch(() => null);
    if (object === null) return writeError(response, storageUnavailable(), policyHeaders);
    if (!object) return writeError(response, new NotFoundError("No such image."), policyHeaders);
    // Set before `send` runs: it keeps a type and an ETag already there and compares conditions with them.
    response.setHeader("content-type", object.contentType);
    response.setHeader("etag", object.eTag);
    response.setHeader("last-modified", object.lastModified.toUTCString());
    for (const [name, value] of Object.entries(policyHeaders)) response.setHeader(name, value);
    // Only what reaches S3 on AWS: a viewer's `Cache-Control: no-cache` (fetch adds it to every
    // conditional request) must not turn S3's 304 into a 200.
    const forwarded = { method: request.method, headers: pick(request.headers, FORWARDED_REQUEST_HEADERS) };
    await new Promise<void>((resolve) => {
      send(forwarded as IncomingMessage, encodeURI(key), {
        root: this.store.root,
        etag: false,
        lastModified: false,
        cacheControl: false,
        acceptRanges: true,
        index: false,
        dotfiles: "deny",
      })
        .on("error", (error: { status?: number }) => {
          // A read that fails once the bytes have begun can only be cut, as S3 cuts it.
          if (response.headersSent) {
            response.destroy();
            return resolve();
          }
          for (const name of response.getHeaderNames()) response.removeHeader(name);
          writeError(response, toHttpError(error.status ?? 500), policyHeaders);
          resolve();
        })
        .on("end", resolve)
        .pipe(response)
        .once("close", resolve);
    });
  }
}

function pick(headers: IncomingHttpHeaders, names: readonly string[]): IncomingHttpHeaders {
  return Object.fromEntries(
    names.flatMap((name) => (headers[name] === undefined ? [] : [[name, headers[name]]])),
  );
}

function toHttpError(status: number): HttpError {
  // The file went away between the lookup and the read: as S3 answers a key deleted meanwhile.
  if (status === 404) return new NotFoundError("No such image.");
  if (status === 416)
    return new HttpError(416, "range_not_satisfiable", "The requested range is not satisfiable.");
  if (status === 412) return new HttpError(412, "precondition_failed", "A precondition failed.");
  return storageUnavailable();
}

function storageUnavailable(): HttpError {
  return new HttpError(502, "storage_unavailable", "The image store could not be reached.");
}
