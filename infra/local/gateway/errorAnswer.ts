import type { ServerResponse } from "node:http";
import { errorResponse } from "../../../contract/responses";

/**
 * Writes the contract's error JSON for any thrown value (anything not an `HttpError` is a bare 500). Of
 * the response headers policy's headers only CORS applies to an error; `extra` adds headers of its own
 * (`Content-Range` on a 416, `Connection: close`).
 */
export function writeError(
  response: ServerResponse,
  error: unknown,
  policyHeaders: Readonly<Record<string, string>> = {},
  extra: Readonly<Record<string, string>> = {},
): void {
  const cors = Object.fromEntries(
    Object.entries(policyHeaders).filter(([name]) => name.startsWith("access-control-") || name === "vary"),
  );
  const generated = errorResponse(error, { ...cors, ...extra });
  response.writeHead(generated.status, {
    ...generated.headers,
    "content-length": Buffer.byteLength(generated.body),
  });
  response.end(generated.body);
}
