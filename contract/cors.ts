import { ForbiddenError } from "./errors";
import { emptyResponse, type GeneratedResponse } from "./responses";

/**
 * What the gateway grants a configured origin, in one place: the edge answers preflights from it, and
 * CloudFront's response-headers policy (infra/) adds the same to bucket and origin responses.
 */
export const CORS_GRANT = {
  allowCredentials: true,
  allowMethods: ["GET", "HEAD", "POST", "DELETE", "OPTIONS"],
  allowHeaders: ["Authorization", "Content-Type", "Range", "If-None-Match"],
  exposeHeaders: ["Content-Length", "Content-Range", "ETag"],
  maxAgeSeconds: 600,
} as const;

/**
 * CORS headers for a request from `origin`: only for an exact configured origin, never a wildcard,
 * because the `image_token` cookie makes every answer credentialed. Other and absent origins get only
 * `Vary: Origin`, so a browser never reuses an answer made without CORS headers for a CORS request.
 */
export function corsHeaders(origin: string | undefined, allowed: readonly string[]): Record<string, string> {
  if (!origin || !allowed.includes(origin)) return { vary: "Origin" };
  return {
    "access-control-allow-origin": origin,
    "access-control-allow-credentials": String(CORS_GRANT.allowCredentials),
    "access-control-expose-headers": CORS_GRANT.exposeHeaders.join(", "),
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
  const methods = CORS_GRANT.allowMethods.join(", ");
  if (!origin) return emptyResponse(204, { allow: methods });
  const headers = corsHeaders(origin, allowed);
  if (!headers["access-control-allow-origin"]) {
    throw new ForbiddenError("cors_origin_not_allowed", "This origin may not call the image gateway.");
  }
  return emptyResponse(204, {
    ...headers,
    "access-control-allow-methods": methods,
    "access-control-allow-headers": CORS_GRANT.allowHeaders.join(", "),
    "access-control-max-age": String(CORS_GRANT.maxAgeSeconds),
  });
}
