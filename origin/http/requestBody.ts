import type { HttpError } from "../../contract/errors";

/** How a body that cannot be taken is answered. */
export interface BodyRefusals {
  /** Above the limit. */
  readonly tooLarge: () => HttpError;
  /** Cut off before its end: the client went away, or the stream failed. */
  readonly unreadable: () => HttpError;
}

/**
 * The whole body of `request`, refused with `tooLarge()` when its declared length is above `maxBytes`,
 * or as soon as more than `maxBytes` actually arrived: Content-Length may be absent (chunked) or wrong.
 * Read straight from the body's reader, with no stream in between: a body that arrives in one chunk (the
 * ALB hands a Lambda target the whole body) is given back as that very chunk, never copied.
 *
 * @throws `tooLarge()` when the declared or the received length is above `maxBytes` (reading stops)
 * @throws `unreadable()` when reading the body fails
 */
export async function readLimitedBody(
  request: Request,
  maxBytes: number,
  refusals: BodyRefusals,
): Promise<Buffer> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) throw refusals.tooLarge();
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Buffer[] = [];
  let received = 0;
  const next = () => reader.read().catch(() => Promise.reject(refusals.unreadable()));
  for (let read = await next(); !read.done; read = await next()) {
    received += read.value.byteLength;
    if (received > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw refusals.tooLarge();
    }
    chunks.push(Buffer.from(read.value.buffer, read.value.byteOffset, read.value.byteLength));
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received);
}
