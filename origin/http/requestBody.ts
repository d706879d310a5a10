import type { HttpError } from "../../contract/errors";

/**
 * The whole body of `request`, refused with `tooLarge()` when its declared length is above `maxBytes`,
 * or as soon as more than `maxBytes` actually arrived: Content-Length may be absent (chunked) or wrong.
 * Read straight from the body's reader, with no stream in between: a body that arrives in one chunk (the
 * ALB hands a Lambda target the whole body) is given back as that very chunk, never copied.
 *
 * @throws the limit's error when the declared or the received length is above `maxBytes` (reading stops)
 * @throws whatever reading the body throws (the client went away)
 */
export async function readLimitedBody(
  request: Request,
  maxBytes: number,
  tooLarge: () => HttpError,
): Promise<Buffer> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) throw tooLarge();
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Buffer[] = [];
  let received = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    received += read.value.byteLength;
    if (received > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(Buffer.from(read.value.buffer, read.value.byteOffset, read.value.byteLength));
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received);
}
