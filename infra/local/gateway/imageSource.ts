import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";

/** One stored image as the CDN's origin describes it, before any byte is read. */
export interface ImageObject {
  readonly size: number;
  readonly contentType: string;
  /** Quoted, as S3 answers it. */
  readonly etag: string;
  readonly lastModified: Date;
  /** The object's own `Cache-Control`, which CloudFront's TTLs are clamped around. */
  readonly cacheControl?: string | undefined;
  /**
   * All of its bytes, of this version.
   *
   * @throws {HttpError} `404 not_found` when it is gone since, `502 storage_unavailable`
   */
  read(): Promise<Readable>;
}

/**
 * What answers image reads behind the played CloudFront: the image bucket, whatever keeps it on this
 * machine. The cache opens an object to keep it, and hands it the reads of what it does not keep.
 */
export interface ImageSource {
  /**
   * The object under `key`, or `undefined` when there is none.
   *
   * @throws {HttpError} `502 storage_unavailable` when the store cannot be reached
   */
  open(key: string): Promise<ImageObject | undefined>;
  /**
   * Answers a `GET` or `HEAD` of `key` itself, as S3 does (conditions, ranges, the contract's 404), with
   * `policyHeaders` laid over the object's.
   */
  serve(
    key: string,
    request: IncomingMessage,
    response: ServerResponse,
    policyHeaders: Readonly<Record<string, string>>,
  ): Promise<void>;
}
