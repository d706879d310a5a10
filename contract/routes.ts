import { ID_PATTERN, IMAGE_ID_PATTERN } from "./constants";
import { InvalidIdError, MethodNotAllowedError, NotFoundError } from "./errors";
import type { EntryRef } from "./types";

/** Who answers a route: the bucket (through the CDN), the edge function itself, or the origin behind the ALB. */
export type AnsweredBy = "bucket" | "edge" | "origin";

/**
 * What a route needs from the caller: `viewer` an access token (query or cookie) or the app's
 * `Authorization`; `authorization` the app's `Authorization` alone; `none` nothing.
 */
export type RouteCredential = "viewer" | "authorization" | "none";

/** The origin's per-entry resources under `/api/journals/{j}/entries/{e}/`. */
export type ApiResource = "images" | "image" | "uploads" | "upload";

/** One endpoint of the contract. `path` uses the contract's `{param}` notation. */
export interface RouteSpec {
  /** A stable name for the endpoint: what the origin keys its handlers by, and an OpenAPI operationId. */
  readonly operation: string;
  readonly methods: readonly string[];
  readonly path: string;
  readonly answeredBy: AnsweredBy;
  readonly credential: RouteCredential;
  /** How the edge treats it (see `Route`). */
  readonly kind: Route["kind"];
  /** For `kind: "api"`: the origin resource it addresses. */
  readonly resource?: ApiResource;
  /** One line for people (README, OpenAPI). */
  readonly summary: string;
}

const ENTRY = "/journals/{journalId}/entries/{entryId}";

/**
 * Every endpoint the distribution answers, in one place (shared/ARCHITECTURE.md, "URLs"). The edge's
 * matcher and the origin's hono routes are both built from it: adding an endpoint is one entry here plus
 * its handler.
 */
export const ROUTES = [
  {
    operation: "readImage",
    methods: ["GET", "HEAD"],
    path: `${ENTRY}/images/{imageId}`,
    answeredBy: "bucket",
    credential: "viewer",
    kind: "image",
    summary: "The image bytes.",
  },
  {
    operation: "createAccessToken",
    methods: ["POST"],
    path: `/api${ENTRY}/access`,
    answeredBy: "edge",
    credential: "authorization",
    kind: "access",
    summary: "An access token (and cookie) that opens this entry's images for reading.",
  },
  {
    operation: "listImages",
    methods: ["GET"],
    path: `/api${ENTRY}/images`,
    answeredBy: "origin",
    credential: "authorization",
    kind: "api",
    resource: "images",
    summary: "The entry's image records, oldest first.",
  },
  {
    operation: "uploadImage",
    methods: ["POST"],
    path: `/api${ENTRY}/images`,
    answeredBy: "origin",
    credential: "authorization",
    kind: "api",
    resource: "images",
    summary: "A direct multipart upload, up to the direct limit.",
  },
  {
    operation: "deleteEntryImages",
    methods: ["DELETE"],
    path: `/api${ENTRY}/images`,
    answeredBy: "origin",
    credential: "authorization",
    kind: "api",
    resource: "images",
    summary: "Deletes every image of the entry.",
  },
  {
    operation: "getImage",
    methods: ["GET"],
    path: `/api${ENTRY}/images/{imageId}`,
    answeredBy: "origin",
    credential: "authorization",
    kind: "api",
    resource: "image",
    summary: "One image record.",
  },
  {
    operation: "deleteImage",
    methods: ["DELETE"],
    path: `/api${ENTRY}/images/{imageId}`,
    answeredBy: "origin",
    credential: "authorization",
    kind: "api",
    resource: "image",
    summary: "Deletes one image, then invalidates it on the CDN.",
  },
  {
    operation: "createUpload",
    methods: ["POST"],
    path: `/api${ENTRY}/uploads`,
    answeredBy: "origin",
    credential: "authorization",
    kind: "api",
    resource: "uploads",
    summary: "A presigned upload straight to storage, for files above the direct limit.",
  },
  {
    operation: "getUpload",
    methods: ["GET"],
    path: `/api${ENTRY}/uploads/{uploadId}`,
    answeredBy: "origin",
    credential: "authorization",
    kind: "api",
    resource: "upload",
    summary: "Where a presigned upload stands: pending, ready or rejected.",
  },
  {
    operation: "health",
    methods: ["GET", "HEAD"],
    path: "/api/health",
    answeredBy: "origin",
    credential: "none",
    kind: "health",
    summary: "Whether the origin answers; no credential.",
  },
  {
    operation: "openApiDocument",
    methods: ["GET", "HEAD"],
    path: "/api/openapi.json",
    answeredBy: "origin",
    credential: "none",
    kind: "openapi",
    summary: "This contract as an OpenAPI 3.1 document, with the deployment's limits; no credential.",
  },
] as const satisfies readonly RouteSpec[];

/** The name of an endpoint in `ROUTES`. */
export type Operation = (typeof ROUTES)[number]["operation"];

/** The endpoints the origin answers, by operation. */
export type OriginOperation = Extract<(typeof ROUTES)[number], { answeredBy: "origin" }>["operation"];

/** Every path the distribution answers, as the edge sees it. */
export type Route =
  | ({ readonly kind: "image"; readonly imageId: string } & EntryRef)
  | ({ readonly kind: "access" } & EntryRef)
  | ({ readonly kind: "api"; readonly resource: ApiResource; readonly id?: string } & EntryRef)
  /** Answered by the origin without any credential, like health. */
  | { readonly kind: "health" }
  | { readonly kind: "openapi" };

/** `ROUTES[i].path` turned into hono's `:param` notation. */
export function honoPath(spec: Pick<RouteSpec, "path">): string {
  return spec.path.replace(/\{(\w+)\}/g, ":$1");
}

/** How each path parameter is checked, and what an invalid one is called in the `400 invalid_id`. */
const PARAMETERS: Readonly<Record<string, { readonly pattern: RegExp; readonly what: string }>> = {
  journalId: { pattern: ID_PATTERN, what: "journal" },
  entryId: { pattern: ID_PATTERN, what: "entry" },
  imageId: { pattern: IMAGE_ID_PATTERN, what: "image" },
  uploadId: { pattern: IMAGE_ID_PATTERN, what: "image" },
};

/** A path template split once: a literal string, or a parameter name. */
type Segment = { readonly literal: string } | { readonly parameter: string };

interface CompiledRoute {
  readonly spec: (typeof ROUTES)[number];
  readonly segments: readonly Segment[];
}

const COMPILED: readonly CompiledRoute[] = ROUTES.map((spec) => ({
  spec,
  segments: spec.path
    .split("/")
    .slice(1)
    .map((part) => {
      const parameter = /^\{(\w+)\}$/.exec(part)?.[1];
      if (parameter === undefined) return { literal: part };
      if (!PARAMETERS[parameter]) throw new Error(`Route ${spec.operation}: unknown parameter ${parameter}.`);
      return { parameter };
    }),
}));

/** A request matched to its endpoint, every path parameter checked. */
export interface MatchedRoute {
  readonly spec: (typeof ROUTES)[number];
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Matches a request path (as CloudFront passes it: still percent-encoded) to its endpoint, checking every
 * id before anything else happens. Literal segments decide the endpoint; an id position that fails its
 * pattern (`..`, `%2F`, NUL, empty, too long, not a UUID) is `400 invalid_id`; an unknown shape is `404`;
 * a known path with another method `405` with the `Allow` list.
 *
 * @throws {InvalidIdError | NotFoundError | MethodNotAllowedError}
 */
export function matchEndpoint(method: string, uri: string): MatchedRoute {
  if (uri[0] !== "/") throw new NotFoundError();
  const parts = uri.split("/").slice(1);
  const candidates = COMPILED.filter(
    ({ segments }) =>
      segments.length === parts.length &&
      segments.every((segment, index) => !("literal" in segment) || segment.literal === parts[index]),
  );
  const [shape] = candidates;
  if (!shape) throw new NotFoundError();
  const params: Record<string, string> = {};
  shape.segments.forEach((segment, index) => {
    if (!("parameter" in segment)) return;
    const value = parts[index] ?? "";
    const rule = PARAMETERS[segment.parameter] as (typeof PARAMETERS)[string];
    if (!rule.pattern.test(value)) throw new InvalidIdError(rule.what);
    params[segment.parameter] = value;
  });
  const match = candidates.find(({ spec }) => (spec.methods as readonly string[]).includes(method));
  if (!match) throw new MethodNotAllowedError(candidates.flatMap(({ spec }) => spec.methods));
  return { spec: match.spec, params };
}

/**
 * The edge's view of a request: which kind of endpoint, and its ids.
 *
 * @throws {InvalidIdError | NotFoundError | MethodNotAllowedError}
 */
export function matchRoute(method: string, uri: string): Route {
  const { spec, params } = matchEndpoint(method, uri);
  const entry = { journalId: params.journalId as string, entryId: params.entryId as string };
  switch (spec.kind) {
    case "image":
      return { kind: "image", ...entry, imageId: params.imageId as string };
    case "access":
      return { kind: "access", ...entry };
    case "api": {
      const id = params.imageId ?? params.uploadId;
      return { kind: "api", resource: spec.resource, ...entry, ...(id === undefined ? {} : { id }) };
    }
    case "health":
      return { kind: "health" };
    case "openapi":
      return { kind: "openapi" };
  }
}
