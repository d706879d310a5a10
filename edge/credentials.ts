import { TOKEN_COOKIE, TOKEN_QUERY_PARAMETER } from "../contract/constants";
import { BadRequestError } from "../contract/errors";

/** Header values by lower-case name; a header sent several times keeps every value, in order. */
export type HeaderValues = Readonly<Record<string, readonly string[] | undefined>>;

/** What the caller presented, after the contract's precedence: `?token=`, cookie, `Authorization`. */
export type Credential =
  | { readonly kind: "token"; readonly token: string; readonly source: "query" | "cookie" }
  | { readonly kind: "authorization"; readonly value: string }
  | { readonly kind: "none" };

/**
 * Picks the caller's credential. The first one present decides; a weaker one behind it is not tried,
 * so a bad token is refused rather than silently replaced. Two different `Authorization` values or two
 * `token` parameters are ambiguous and refused.
 *
 * @throws {BadRequestError} `ambiguous_credentials`
 */
export function readCredential(querystring: string, headers: HeaderValues): Credential {
  const queryTokens = querystring ? new URLSearchParams(querystring).getAll(TOKEN_QUERY_PARAMETER) : [];
  if (queryTokens.length > 1) throw ambiguous("token query parameter");
  if (queryTokens[0]) return { kind: "token", token: queryTokens[0], source: "query" };

  const cookieToken = readCookie(headers.cookie, TOKEN_COOKIE);
  if (cookieToken) return { kind: "token", token: cookieToken, source: "cookie" };

  return readAuthorization(headers);
}

/**
 * RFC 9110's field-value: visible ASCII, space, tab and obs-text (0x80-0xFF). Anything else (CR, LF, NUL,
 * other controls, characters above Latin-1) cannot be forwarded: `fetch` refuses such a header.
 */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The `Authorization` header alone: what `/api/*` accepts.
 *
 * @throws {BadRequestError} `ambiguous_credentials`, or `invalid_credentials` for a value that is no
 *   HTTP header value and so could never reach the journals API
 */
export function readAuthorization(headers: HeaderValues): Credential {
  const values = new Set((headers.authorization ?? []).map((value) => value.trim()).filter(Boolean));
  if (values.size > 1) throw ambiguous("Authorization header");
  const [value] = values;
  if (value !== undefined && !FIELD_VALUE.test(value)) {
    throw new BadRequestError(
      "invalid_credentials",
      "The Authorization header holds characters an HTTP header may not carry.",
    );
  }
  return value ? { kind: "authorization", value } : { kind: "none" };
}

/**
 * The first cookie called `name` across every `Cookie` header (HTTP/2 clients send one header per
 * cookie). Browsers send the most specific path first, which is the entry's own token.
 */
export function readCookie(cookieHeaders: readonly string[] | undefined, name: string): string | undefined {
  for (const header of cookieHeaders ?? []) {
    for (const pair of header.split(";")) {
      const separator = pair.indexOf("=");
      if (separator > 0 && pair.slice(0, separator).trim() === name) {
        const value = pair.slice(separator + 1).trim();
        if (value) return value;
      }
    }
  }
  return undefined;
}

function ambiguous(what: string): BadRequestError {
  return new BadRequestError("ambiguous_credentials", `More than one ${what} was sent.`);
}
