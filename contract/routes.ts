import { ID_PATTERN, IMAGE_ID_PATTERN } from "./constants";
import { InvalidIdError, MethodNotAllowedError, NotFoundError } from "./errors";
import type { EntryRef } from "./types";

/** Every path the distribution answers, as the edge sees it. */
export type Route =
  | ({ readonly kind: "image"; readonly imageId: string } & EntryRef)
  | ({ readonly kind: "access" } & EntryRef)
  | ({ readonly kind: "api"; readonly resource: ApiResource; readonly id?: string } & EntryRef)
  | { readonly kind: "health" };

/** The origin's per-entry resources under `/api/journals/{j}/entries/{e}/`. */
export type ApiResource = "images" | "image" | "uploads" | "upload";

const API_METHODS: Record<ApiResource, readonly string[]> = {
  images: ["GET", "POST", "DELETE"],
  image: ["GET", "DELETE"],
  uploads: ["POST"],
  upload: ["GET"],
};
const IMAGE_METHODS = ["GET", "HEAD"] as const;
const ACCESS_METHODS = ["POST"] as const;
const HEALTH_METHODS = ["GET", "HEAD"] as const;

/**
 * Matches a request path (as CloudFront passes it: still percent-encoded) to a route, checking every id
 * before anything else happens. Literal segments decide the route; an id position that fails its pattern
 * (`..`, `%2F`, NUL, empty, too long, not a UUID) is `400 invalid_id`; an unknown shape is `404`.
 *
 * @throws {InvalidIdError | NotFoundError | MethodNotAllowedError}
 */
export function matchRoute(method: string, uri: string): Route {
  const segments = uri.split("/").slice(1);
  if (uri[0] !== "/") throw new NotFoundError();

  if (
    segments[0] === "journals" &&
    isEntryShape(segments, 0) &&
    segments.length === 6 &&
    segments[4] === "images"
  ) {
    const route = { kind: "image", ...entryRef(segments, 0), imageId: imageId(segments[5]) } as const;
    return allow(method, IMAGE_METHODS, route);
  }
  if (segments[0] !== "api") throw new NotFoundError();
  if (segments.length === 2 && segments[1] === "health")
    return allow(method, HEALTH_METHODS, { kind: "health" });
  if (segments[1] !== "journals" || !isEntryShape(segments, 1)) throw new NotFoundError();

  const rest = segments.slice(5);
  const [resource, id] = rest;
  if (rest.length === 1 && resource === "access") {
    return allow(method, ACCESS_METHODS, { kind: "access", ...entryRef(segments, 1) });
  }
  if ((resource === "images" || resource === "uploads") && rest.length <= 2) {
    const ref = entryRef(segments, 1);
    if (rest.length === 1) return allow(method, API_METHODS[resource], { kind: "api", resource, ...ref });
    const single = resource === "images" ? "image" : "upload";
    return allow(method, API_METHODS[single], { kind: "api", resource: single, ...ref, id: imageId(id) });
  }
  throw new NotFoundError();
}

/** `journals/{j}/entries/{e}` starting at `offset`. */
function isEntryShape(segments: readonly string[], offset: number): boolean {
  return (
    segments[offset] === "journals" && segments[offset + 2] === "entries" && segments.length > offset + 4
  );
}

function entryRef(segments: readonly string[], offset: number): EntryRef {
  return {
    journalId: entityId(segments[offset + 1], "journal"),
    entryId: entityId(segments[offset + 3], "entry"),
  };
}

function entityId(value: string | undefined, what: string): string {
  if (value === undefined || !ID_PATTERN.test(value)) throw new InvalidIdError(what);
  return value;
}

function imageId(value: string | undefined): string {
  if (value === undefined || !IMAGE_ID_PATTERN.test(value)) throw new InvalidIdError("image");
  return value;
}

function allow<R extends Route>(method: string, allowed: readonly string[], route: R): R {
  if (!allowed.includes(method)) throw new MethodNotAllowedError(allowed);
  return route;
}
