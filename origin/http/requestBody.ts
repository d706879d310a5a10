import type { HttpError } from "../../contract/errors";

/** A request body that stops at a size limit. */
export interface LimitedBody {
  /** The bytes as they arrive; errors with the limit's error once more than the limit arrived. */
  readonly stream: ReadableStream<Uint8Array>;
  /** Whether more than the limit arrived: a read that failed failed because of it. */
  exceeded(): boolean;
}

/**
 * The body of `request`, refused with `tooLarge()` when its declared length is above `maxBytes`, or once
 * more than `maxBytes` actually arrive: Content-Length may be absent (chunked) or wrong.
 *
 * @throws the limit's error when the declared length is already too large
 */
export function limitedBody(request: Request, maxBytes: number, tooLarge: () => HttpError): LimitedBody {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) throw tooLarge();
  let received = 0;
  const stream = (request.body ?? new Blob().stream()).pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        received += chunk.byteLength;
        if (received > maxBytes) controller.error(tooLarge());
        else controller.enqueue(chunk);
      },
    }),
  );
  return { stream, exceeded: () => received > maxBytes };
}
