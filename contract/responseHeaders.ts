/**
 * The contract's image headers (shared/ARCHITECTURE.md, "Responses"), in one place: CloudFront's response
 * headers policy is built from them on AWS, and the local gateway sends them itself.
 */

/** Forbids a browser from running anything an image response might carry, even opened on its own. */
export const IMAGE_CONTENT_SECURITY_POLICY =
  "default-src 'none'; img-src 'self'; style-src 'none'; script-src 'none'; sandbox";

/** Lower-case header names and values every image response carries. */
export function imageResponseHeaders(tokenTtlSeconds: number): Record<string, string> {
  return {
    "x-content-type-options": "nosniff",
    "content-security-policy": IMAGE_CONTENT_SECURITY_POLICY,
    // Browsers keep an image privately, never longer than the token that opened it lives.
    "cache-control": `private, max-age=${tokenTtlSeconds}`,
    // A variant's format follows the viewer's Accept under one URL, and the same URL answers with or
    // without CORS headers by the request's Origin: a browser must mix up neither.
    vary: "Accept, Origin",
  };
}
