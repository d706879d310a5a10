import { ForbiddenError } from "./errors";
import { emptyResponse, type GeneratedResponse } from "./responses";

const ALLOWED_METHODS = "GET, HEAD, POST, DELETE, OPTIONS";
const ALLOWED_HEADERS = "Authorization, Content-Type, Range, If-None-Match";
const PREFLIGHT_MAX_AGE_SECONDS = "600";

/**
 * CORS headers for a request from `origin`: only for an exact configured origin, never a wildcard,
 * because the `image_token` cookie makes every answer credentialed. Other origins get none.
 */
export function corsHeaders(origin: string | undefined, allowed: readonly string[]): Record<string, string> {
  if (!origin || !allowed.includes(origin)) return {};
  return {
    "access-control-allow-origin": origin,
    "access-control-allow-credentials": "true",
    "access-control-expose-headers": "Content-Length, Content-Range, ETag",
    vary: "Origin",
  };
}

/**
 * Answers an `OPTIONS` request. A preflight from a configured origin gets `204` and the CORS grant; one
 * from any other origin a `403` without CORS headers; a plain `OPTIONS` just the `Allow` list.
 *
 * @throws {ForbiddenError} `cors_origin_not_allowed`
 */
export function preflight(origin: string | undefined, allowed: readonly string[]): GeneratedResponse {
  if (!origin) return emptyResponse(204, { allow: ALLOWED_METHODS });
  const headers = corsHeaders(origin, allowed);
  if (!headers["access-control-allow-origin"]) {
    throw new ForbiddenError("cors_origin_not_allowed", "This origin may not call the image gateway.");
  }
  return emptyResponse(204, {
    ...headers,
    "access-control-allow-methods": ALLOWED_METHODS,
    "access-control-allow-headers": ALLOWED_HEADERS,
    "access-control-max-age": PREFLIGHT_MAX_AGE_SECONDS,
  });
}
