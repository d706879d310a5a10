import { ALB_LAMBDA_BODY_LIMIT_BYTES } from "../contract/constants";
import { corsHeaders, preflight } from "../contract/cors";
import { DirectUploadTooLargeError, ForbiddenError, HttpError, UnauthorizedError } from "../contract/errors";
import type { KeyRing } from "../contract/KeyRing";
import { imageObjectKey } from "../contract/keys";
import type { Log } from "../contract/log";
import { errorResponse, type GeneratedResponse, jsonResponse } from "../contract/responses";
import { matchRoute, type Route } from "../contract/routes";
import { type AccessClaims, signAccessToken, signGrant, verifyAccessToken } from "../contract/tokens";
import type { EntryRef } from "../contract/types";
import { variantObjectKey, variantOfRequest } from "../contract/variants";
import type { BoundedCache } from "./BoundedCache";
import type { EdgeConfig } from "./config";
import { type HeaderValues, readAuthorization, readCredential } from "./credentials";
import { type AccessDecision, DecisionCache } from "./DecisionCache";
import type { JournalsClient } from "./JournalsClient";

/** A viewer request as the decision needs it, whatever carried it (CloudFront, the local gateway). */
export interface ViewerRequest {
  readonly method: string;
  /** The path, still percent-encoded, without the query string. */
  readonly uri: string;
  /** The raw query string, without `?`. */
  readonly querystring: string;
  readonly headers: HeaderValues;
}

/** What happens to a request: answered here, read from the bucket, or passed to the origin. */
export type Decision =
  | { readonly action: "respond"; readonly response: GeneratedResponse }
  /** An authorized image read: fetch this object key; the query, cookies and credentials go no further. */
  | { readonly action: "read-image"; readonly objectKey: string }
  /** An `/api/*` request for the origin, carrying the grant (none for health and the OpenAPI document). */
  | { readonly action: "forward-to-origin"; readonly grant: string | undefined };

/** What a decision may consult. Built when a container starts, and again whenever the signing keys are reloaded (every `SECRET_REFRESH_MS`). */
export interface AuthorizeDeps {
  readonly config: EdgeConfig;
  readonly keys: KeyRing;
  readonly journals: JournalsClient;
  readonly decisions: DecisionCache;
  /** Access tokens already verified in this container, until they expire: a gallery reuses one token. */
  readonly verifiedTokens: BoundedCache<AccessClaims>;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  readonly log: Log;
}

/**
 * The gateway's single access decision. An image read with a valid access token costs no network call;
 * an `Authorization` credential is checked with the journals API (or its remembered answer); everything
 * in doubt is refused with the contract's error JSON.
 */
export async function authorize(request: ViewerRequest, deps: AuthorizeDeps): Promise<Decision> {
  const started = deps.now();
  const trace: DecisionTrace = { route: null, credential: "none", journals: "not_asked" };
  const decision = await decideOrRefuse(request, deps, trace);
  deps.log(decisionLine(request, decision, trace, deps.now() - started));
  return decision;
}

/**
 * What the decision line records besides the outcome: which route, which kind of credential, whether the
 * journals API was asked. Ids and kinds only, never a credential, token, grant or header value.
 */
interface DecisionTrace {
  route: string | null;
  journalId?: string;
  entryId?: string;
  credential: "none" | "query_token" | "cookie_token" | "authorization";
  journals: "not_asked" | "remembered" | "asked";
}

async function decideOrRefuse(
  request: ViewerRequest,
  deps: AuthorizeDeps,
  trace: DecisionTrace,
): Promise<Decision> {
  const origin = request.headers.origin?.[0];
  const cors = corsHeaders(origin, deps.config.corsAllowedOrigins);
  try {
    if (request.method === "OPTIONS") {
      trace.route = "preflight";
      return respond(preflight(origin, deps.config.corsAllowedOrigins));
    }
    const route = matchRoute(request.method, request.uri);
    trace.route = route.kind === "api" ? `api:${route.resource}` : route.kind;
    if (route.kind !== "health" && route.kind !== "openapi") {
      Object.assign(trace, { journalId: route.journalId, entryId: route.entryId });
    }
    return await decide(route, request, deps, cors, trace);
  } catch (error) {
    if (!(error instanceof HttpError)) {
      deps.log({
        level: "error",
        event: "edge_failure",
        error: error instanceof Error ? error.name : "unknown",
      });
    }
    return respond(errorResponse(error, cors));
  }
}

/**
 * One JSON line per decision, for CloudWatch Logs Insights (`filter event = "edge_decision" | stats
 * count() by status`): the outcome, the route, ids, the credential's kind and the journals call.
 */
function decisionLine(
  request: ViewerRequest,
  decision: Decision,
  trace: DecisionTrace,
  ms: number,
): Record<string, unknown> {
  const refused = decision.action === "respond" ? decision.response : undefined;
  const code = refused && refused.status >= 400 ? errorCodeOf(refused.body) : null;
  return {
    level: "info",
    event: "edge_decision",
    action: decision.action,
    status: refused?.status ?? null,
    code,
    method: request.method,
    route: trace.route,
    journal_id: trace.journalId ?? null,
    entry_id: trace.entryId ?? null,
    credential: trace.credential,
    journals: trace.journals,
    ms,
  };
}

function errorCodeOf(body: string): string | null {
  try {
    const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    return typeof code === "string" ? code : null;
  } catch {
    return null;
  }
}

async function decide(
  route: Route,
  request: ViewerRequest,
  deps: AuthorizeDeps,
  cors: Record<string, string>,
  trace: DecisionTrace,
): Promise<Decision> {
  const nowSeconds = deps.now() / 1000;
  switch (route.kind) {
    case "health":
    case "openapi":
      return { action: "forward-to-origin", grant: undefined };
    case "image": {
      // Checked before any credential: a width or format nobody offers costs no network call either.
      const accept = request.headers.accept?.join(",");
      const variant = variantOfRequest(request.querystring, accept, deps.config.variantWidths);
      const credential = readCredential(request.querystring, request.headers);
      if (credential.kind === "token") {
        trace.credential = credential.source === "query" ? "query_token" : "cookie_token";
        const claims = await verifyToken(credential.token, deps);
        if (claims.journalId !== route.journalId || claims.entryId !== route.entryId) {
          throw new ForbiddenError("forbidden", "The access token is for another entry.");
        }
      } else if (credential.kind === "authorization") {
        trace.credential = "authorization";
        await checkEntryAccess(credential.value, route, deps, trace);
      } else {
        throw new UnauthorizedError(
          "missing_credentials",
          "An image read needs an access token or an Authorization header.",
        );
      }
      const prefix = deps.config.imagesPrefix;
      const objectKey = variant ? variantObjectKey(prefix, route, variant) : imageObjectKey(prefix, route);
      return { action: "read-image", objectKey };
    }
    case "access": {
      await checkEntryAccess(requireAuthorization(request, trace), route, deps, trace);
      const ttl = deps.config.tokenTtlSeconds;
      const { token, expiresAt } = await signAccessToken(deps.keys, route, ttl, nowSeconds);
      const cookie = `image_token=${token}; Path=/journals/${route.journalId}/entries/${route.entryId}/; Max-Age=${ttl}; HttpOnly; Secure; SameSite=None`;
      const body = { token, expires_at: new Date(expiresAt * 1000).toISOString(), expires_in: ttl };
      return respond(jsonResponse(200, body, { ...cors, "set-cookie": cookie }));
    }
    case "api": {
      await checkEntryAccess(requireAuthorization(request, trace), route, deps, trace);
      if (route.resource === "images" && request.method === "POST") requireFitsLoadBalancer(request, route);
      // One request's grant: this method on this very path, so it opens nothing else on the entry.
      const claims = { ...route, method: request.method, path: request.uri };
      const grant = await signGrant(deps.keys, claims, nowSeconds);
      return { action: "forward-to-origin", grant: grant.token };
    }
  }
}

/**
 * A direct upload whose declared body cannot pass the load balancer would get the ALB's own error, not the
 * contract's: refused here with the pointer to presigned uploads. (A chunked body declares no length; the
 * origin's own limit answers it.)
 *
 * @throws {DirectUploadTooLargeError}
 */
function requireFitsLoadBalancer(request: ViewerRequest, entry: EntryRef): void {
  const declared = Number(request.headers["content-length"]?.[0] ?? Number.NaN);
  if (declared > ALB_LAMBDA_BODY_LIMIT_BYTES) {
    throw new DirectUploadTooLargeError(entry, ALB_LAMBDA_BODY_LIMIT_BYTES, "A direct upload's body");
  }
}

function requireAuthorization(request: ViewerRequest, trace: DecisionTrace): string {
  const credential = readAuthorization(request.headers);
  if (credential.kind === "authorization") {
    trace.credential = "authorization";
    return credential.value;
  }
  throw new UnauthorizedError(
    "missing_credentials",
    "This request needs the notes app's Authorization header.",
  );
}

/** Allows or throws, asking the journals API only when no answer is remembered. */
async function checkEntryAccess(
  authorization: string,
  entry: EntryRef,
  deps: AuthorizeDeps,
  trace: DecisionTrace,
): Promise<void> {
  const key = DecisionCache.keyFor(authorization, entry);
  const remembered = deps.decisions.get(key, deps.now());
  if (remembered) {
    trace.journals = "remembered";
    if (remembered.allowed) return;
    throw remembered.error;
  }
  trace.journals = "asked";
  const error = await deps.journals.check(authorization, entry);
  const decision: AccessDecision = error ? { allowed: false, error } : { allowed: true };
  if (!error || error.status === 401 || error.status === 403) deps.decisions.set(key, decision, deps.now());
  if (error) {
    if (error.status >= 500) deps.log({ level: "warn", event: "journals_failure", code: error.code });
    throw error;
  }
}

/** Verifies with jose once per token and container; a remembered token still expires on time. */
async function verifyToken(token: string, deps: AuthorizeDeps): Promise<AccessClaims> {
  const nowMs = deps.now();
  const remembered = deps.verifiedTokens.get(token, nowMs);
  if (remembered) return remembered;
  const claims = await verifyAccessToken(deps.keys, token, nowMs / 1000);
  deps.verifiedTokens.set(token, claims, claims.expiresAt * 1000, nowMs);
  return claims;
}

function respond(response: GeneratedResponse): Decision {
  return { action: "respond", response };
}
