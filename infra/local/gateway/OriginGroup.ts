import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { HttpError } from "../../../contract/errors";
import type { VariantAnswer } from "../../../origin/http/variantHandler";
import type { ImageObject, ImageSource } from "./imageSource";

/**
 * The image behaviour's origin group as the local gateway plays it: the bucket first; for a key it does
 * not have (S3's 403/404 on AWS), the failover origin, the variant generator, whose answer CloudFront
 * then treats as the origin's: an image is cached and served, a 404 is the contract's, anything else
 * (the redirect of a variant too large to answer, an error) goes to the viewer as it came.
 */
export class OriginGroup implements ImageSource {
  public constructor(
    private readonly primary: ImageSource,
    private readonly failover: (key: string) => Promise<VariantAnswer>,
  ) {}

  public async open(key: string): Promise<ImageObject | undefined> {
    const stored = await this.primary.open(key);
    if (stored) return stored;
    const answer = await this.failover(key);
    if (answer.status === 404) return undefined;
    if (answer.status !== 200 || typeof answer.body === "string") throw new FailoverAnswer(answer);
    const body = Buffer.from(answer.body);
    return {
      size: body.byteLength,
      contentType: answer.headers["content-type"] ?? "application/octet-stream",
      // As S3 tags what the generator stored: the MD5 of its bytes, quoted.
      etag: `"${createHash("md5").update(body).digest("hex")}"`,
      lastModified: new Date(),
      cacheControl: answer.headers["cache-control"],
      read: async () => Readable.from([body]),
    };
  }

  /** What the cache does not keep is read from the bucket: `open` stored it there first. */
  public serve(
    key: string,
    request: IncomingMessage,
    response: ServerResponse,
    policyHeaders: Readonly<Record<string, string>>,
  ): Promise<void> {
    return this.primary.serve(key, request, response, policyHeaders);
  }
}

/** The failover origin's answer, neither an image nor a 404, passed to the viewer with its headers. */
class FailoverAnswer extends HttpError {
  public constructor(answer: VariantAnswer) {
    const body = typeof answer.body === "string" ? parseError(answer.body) : undefined;
    const { "content-type": _type, "content-length": _length, ...headers } = answer.headers;
    super(
      answer.status,
      body?.code ?? "variant_redirect",
      body?.message ?? "The variant is stored; ask for the same URL again.",
      headers,
    );
  }
}

function parseError(body: string): { code: string; message: string } | undefined {
  try {
    return (JSON.parse(body) as { error?: { code: string; message: string } }).error;
  } catch {
    return undefined;
  }
}
