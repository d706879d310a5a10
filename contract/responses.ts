import { HttpError } from "./errors";

/** A response the edge writes itself, independent of CloudFront's event format. */
export interface GeneratedResponse {
  readonly status: number;
  /** Lower-case header names, one value each. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const NO_STORE = "no-store";

/** A JSON response the browser and CloudFront must not keep. */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): GeneratedResponse {
  return {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": NO_STORE, ...headers },
    body: JSON.stringify(body),
  };
}

/** The contract's error JSON for any thrown value; anything that is not an `HttpError` is a bare 500. */
export function errorResponse(
  error: unknown,
  headers: Readonly<Record<string, string>> = {},
): GeneratedResponse {
  const httpError =
    error instanceof HttpError
      ? error
      : new HttpError(500, "internal_error", "The gateway could not answer.");
  return jsonResponse(httpError.status, httpError.toJSON(), { ...headers, ...httpError.headers });
}

/** An empty answer (CORS preflight). */
export function emptyResponse(status: number, headers: Readonly<Record<string, string>>): GeneratedResponse {
  return { status, headers: { "cache-control": NO_STORE, ...headers }, body: "" };
}
