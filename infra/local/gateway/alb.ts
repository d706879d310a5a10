import type { IncomingMessage } from "node:http";
import { ALB_LAMBDA_BODY_LIMIT_BYTES } from "../../../contract/constants";
import { PayloadTooLargeError } from "../../../origin/domain/errors";

/**
 * The ALB's `413` for a body above what it passes to a Lambda target, as the contract's JSON. On AWS the
 * load balancer refuses such a request before the function runs; locally it is refused at the same
 * point, so a limit the origin would accept but the ALB would not fails here rather than in production.
 */
export function albBodyTooLarge(maxBytes = ALB_LAMBDA_BODY_LIMIT_BYTES): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `A request to the API carries at most ${maxBytes} bytes; upload larger images with ` +
      "POST /api/journals/{journal}/entries/{entry}/uploads.",
  );
}

/**
 * Reads a request body whole, as the ALB does before it invokes a Lambda target (the body travels inside
 * the invocation's JSON event), or stops as soon as it is known to be above `maxBytes`: at once when the
 * declared `Content-Length` is, or once more arrived. The rest is left for the server to drain after the
 * answer.
 *
 * @returns the body, or `undefined` when it is too large
 * @throws when the client goes away before the body is complete
 */
export function readLambdaBody(
  request: IncomingMessage,
  maxBytes = ALB_LAMBDA_BODY_LIMIT_BYTES,
): Promise<Buffer<ArrayBuffer> | undefined> {
  if (Number(request.headers["content-length"] ?? 0) > maxBytes) return Promise.resolve(undefined);
  return new Promise<Buffer<ArrayBuffer> | undefined>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const stop = () => {
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("close", onClose);
      request.pause();
    };
    const onData = (chunk: Buffer) => {
      length += chunk.byteLength;
      if (length <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      stop();
      resolve(undefined);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, length));
    };
    const onClose = () => {
      stop();
      reject(new Error("The client went away before the request body was complete."));
    };
    request.on("data", onData);
    request.once("end", onEnd);
    request.once("close", onClose);
  });
}
