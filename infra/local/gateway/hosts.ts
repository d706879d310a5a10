import type { IncomingMessage } from "node:http";
import { BadRequestError } from "../../../contract/errors";

/**
 * The authority of every URL the origin app is handed: fixed, as the ALB's own name is on AWS, so nothing
 * a viewer sends in `Host` can change what the origin parses as the path or the query.
 */
export const ORIGIN_AUTHORITY = "http://origin.internal";

/**
 * A `Host` header as RFC 9110 allows it: a DNS name or IPv4 address (labels of letters, digits, `-`,
 * `_`), or a bracketed IPv6 address, with an optional port; nothing else.
 */
const HOST =
  /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * Why a request's `Host` is refused, or `undefined` when it is fine: HTTP/1.1 needs exactly one, and it
 * must be a host (and port), never a path, a query or white space.
 */
export function hostError(request: IncomingMessage): BadRequestError | undefined {
  let count = 0;
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    if (request.rawHeaders[index]?.toLowerCase() === "host") count += 1;
  }
  const host = request.headers.host;
  if (count > 1) return invalidHost("A request carries one Host header.");
  if (host === undefined) {
    return request.httpVersion === "1.0"
      ? undefined
      : invalidHost("An HTTP/1.1 request needs a Host header.");
  }
  return HOST.test(host) ? undefined : invalidHost("The Host header is not a host name.");
}

/** The URL the origin app is handed: the fixed authority, the path as the edge left it, the raw query. */
export function originUrl(uri: string, query: string): string {
  return `${ORIGIN_AUTHORITY}${uri}${query}`;
}

/**
 * `PUBLIC_URL` checked, without a trailing `/`, or `fallback` (the listen address) when it is unset: the
 * origin where viewers reach the gateway, which presigned form URLs are built from.
 *
 * @throws {Error} when `PUBLIC_URL` is not an http(s) origin
 */
export function publicUrlOf(configured: string | undefined, fallback: string): string {
  if (!configured) return fallback;
  let url: URL;
  try {
    url = new URL(configured);
  } catch {
    throw new Error(`PUBLIC_URL "${configured}" is not a URL.`);
  }
  const bare = url.pathname === "/" && !url.search && !url.hash && !url.username && !url.password;
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !bare) {
    throw new Error(
      `PUBLIC_URL must be an http(s) origin such as https://images.example.com, not "${configured}".`,
    );
  }
  return url.origin;
}

function invalidHost(message: string): BadRequestError {
  return new BadRequestError("invalid_host", message);
}
