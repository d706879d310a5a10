import { errors, type JWTPayload, jwtVerify, SignJWT } from "jose";
import {
  GRANT_TTL_SECONDS,
  ID_PATTERN,
  MAX_TOKEN_TTL_SECONDS,
  ORIGIN_AUDIENCE,
  TOKEN_ISSUER,
  VIEWER_AUDIENCE,
} from "./constants";
import { UnauthorizedError } from "./errors";
import type { KeyRing } from "./KeyRing";
import type { EntryRef } from "./types";

/** A verified access token: it opens image reads of this one entry until `expiresAt` (epoch seconds). */
export interface AccessClaims extends EntryRef {
  readonly expiresAt: number;
}

/**
 * What a grant says the edge allowed: one request, the method on the exact path (still percent-encoded,
 * no query) it was minted for, on that path's entry.
 */
export interface GrantClaims extends EntryRef {
  readonly method: string;
  readonly path: string;
}

/** A freshly signed token and when it stops opening anything. */
export interface SignedToken {
  readonly token: string;
  readonly expiresAt: number;
}

const ALGORITHM = "HS256";
// Small allowance for clock differences between the edge locations that sign and verify.
export const CLOCK_TOLERANCE_SECONDS = 5;

/** Signs a viewer access token for one entry. `ttlSeconds` is clamped to the contract's 3600 s. */
export async function signAccessToken(
  keys: KeyRing,
  entry: EntryRef,
  ttlSeconds: number,
  nowSeconds: number,
): Promise<SignedToken> {
  const ttl = Math.min(Math.max(1, Math.floor(ttlSeconds)), MAX_TOKEN_TTL_SECONDS);
  return sign(keys, VIEWER_AUDIENCE, { jid: entry.journalId, eid: entry.entryId }, ttl, nowSeconds);
}

/** Signs the edge's grant for the origin: this method on this path of this entry, for at most 60 s. */
export async function signGrant(keys: KeyRing, grant: GrantClaims, nowSeconds: number): Promise<SignedToken> {
  const claims = { jid: grant.journalId, eid: grant.entryId, method: grant.method, path: grant.path };
  return sign(keys, ORIGIN_AUDIENCE, claims, GRANT_TTL_SECONDS, nowSeconds);
}

/**
 * Verifies a viewer access token: HS256 only, our issuer and viewer audience, a known `kid`, not expired,
 * and a lifetime no longer than the contract allows.
 *
 * @throws {UnauthorizedError} `token_expired` or `invalid_token`
 */
export async function verifyAccessToken(
  keys: KeyRing,
  token: string,
  nowSeconds: number,
): Promise<AccessClaims> {
  const payload = await verify(keys, token, VIEWER_AUDIENCE, MAX_TOKEN_TTL_SECONDS, nowSeconds, "token");
  return { journalId: payload.jid, entryId: payload.eid, expiresAt: payload.exp };
}

/**
 * Verifies the `x-image-gateway-grant` the edge put on an origin request, and that it was issued for
 * exactly this request: its entry, its method and its path. A grant for deleting one image never deletes
 * the entry's others. The origin calls this on every request but health.
 *
 * @throws {UnauthorizedError} `invalid_grant`
 */
export async function verifyGrant(
  keys: KeyRing,
  grant: string | undefined,
  expected: GrantClaims,
  nowSeconds: number = Date.now() / 1000,
): Promise<GrantClaims> {
  if (!grant) throw new UnauthorizedError("invalid_grant", "The request carries no grant from the edge.");
  let payload: VerifiedPayload & { method?: unknown; path?: unknown };
  try {
    payload = await verify(keys, grant, ORIGIN_AUDIENCE, GRANT_TTL_SECONDS, nowSeconds, "grant");
  } catch {
    throw new UnauthorizedError("invalid_grant", "The edge's grant is not valid.");
  }
  if (
    payload.jid !== expected.journalId ||
    payload.eid !== expected.entryId ||
    payload.method !== expected.method ||
    payload.path !== expected.path
  ) {
    throw new UnauthorizedError("invalid_grant", "The edge's grant is for another request.");
  }
  return expected;
}

interface VerifiedPayload extends JWTPayload {
  readonly jid: string;
  readonly eid: string;
  readonly exp: number;
  readonly iat: number;
}

async function sign(
  keys: KeyRing,
  audience: string,
  claims: Record<string, string>,
  ttlSeconds: number,
  nowSeconds: number,
): Promise<SignedToken> {
  const iat = Math.floor(nowSeconds);
  const expiresAt = iat + ttlSeconds;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: ALGORITHM, kid: keys.signingKid, typ: "JWT" })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(expiresAt)
    .sign(keys.signingKey);
  return { token, expiresAt };
}

async function verify(
  keys: KeyRing,
  token: string,
  audience: string,
  maxLifetimeSeconds: number,
  nowSeconds: number,
  what: string,
): Promise<VerifiedPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(
      token,
      (header) => {
        const key = keys.verificationKey(header.kid);
        if (!key) throw new errors.JWKSNoMatchingKey();
        return key;
      },
      {
        algorithms: [ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience,
        requiredClaims: ["jid", "eid", "iat", "exp"],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(nowSeconds * 1000),
      },
    ));
  } catch (error) {
    if (error instanceof errors.JWTExpired)
      throw new UnauthorizedError("token_expired", `The ${what} has expired.`);
    throw new UnauthorizedError("invalid_token", `The ${what} is not valid.`);
  }
  const { jid, eid, iat, exp } = payload;
  const wellFormed =
    typeof jid === "string" &&
    typeof eid === "string" &&
    ID_PATTERN.test(jid) &&
    ID_PATTERN.test(eid) &&
    typeof iat === "number" &&
    typeof exp === "number" &&
    exp - iat <= maxLifetimeSeconds &&
    iat <= nowSeconds + CLOCK_TOLERANCE_SECONDS;
  if (!wellFormed) throw new UnauthorizedError("invalid_token", `The ${what} is not valid.`);
  return payload as VerifiedPayload;
}
