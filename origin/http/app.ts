import { type Handler, Hono, type MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { GRANT_HEADER } from "../../contract/constants";
import { HttpError, NotFoundError } from "../../contract/errors";
import { describeError } from "../../contract/log";
import { openApiDocument } from "../../contract/openapi";
import { errorResponse } from "../../contract/responses";
import { honoPath, matchEndpoint, type OriginOperation, ROUTES } from "../../contract/routes";
import { verifyGrant } from "../../contract/tokens";
import type { EntryRef, ImageRef, UploadRef } from "../../contract/types";
import type { OriginDeps } from "../adapters/dependencies";
import { ALLOWED_IMAGE_TYPES } from "../domain/constants";
import { deleteEntryImages, deleteImage } from "../domain/deletions";
import { DirectUploadTooLargeError } from "../domain/errors";
import { storeImage, storeImageDepsOf } from "../domain/imageWrites";
import { issueUploadTicket, readUploadRequest, readUploadStatus } from "../domain/uploadTickets";
import { readUploadForm } from "./multipart";

interface OriginEnv {
  /** `params`: the path parameters as the route table matched and checked them. */
  Variables: { requestId: string; params: Readonly<Record<string, string>> };
}

const MAX_REQUEST_ID_LENGTH = 128;

/**
 * The origin: the `/api/*` routes of the contract as one hono app, the same behind the ALB (`handler.ts`),
 * in the local gateway and in tests (`app.request`). Every route but health needs the edge's grant for
 * exactly its entry and method; every answer is JSON that no cache keeps.
 *
 * - `GET /api/health` → `200 {"status": "ok"}`
 * - `GET /api/openapi.json` → `200` the OpenAPI 3.1 document of the contract, with this deployment's limits
 * - `GET …/images` → `200 {"images": [record, ...]}`, oldest first
 * - `POST …/images` (multipart) → `201` the new record, or `200` the record that already holds these bytes
 * - `DELETE …/images` → `204`, whether or not the entry had images (a retry is harmless)
 * - `GET …/images/{i}` → `200` the record, or `404 not_found`
 * - `DELETE …/images/{i}` → `204`, or `404 not_found`
 * - `POST …/uploads` (JSON `{"name", "size"}`) → `201 {"id", "upload": {"url", "fields"}, "expires_at",
 *   "max_bytes"}`: a presigned POST straight to the bucket's staging prefix; `413` at once for a size
 *   above `MAX_IMAGE_BYTES`
 * - `GET …/uploads/{i}` → `200 {"status": "pending", "id", "expires_at"}`, then
 *   `{"status": "ready", "id", "image": record | null}` (`null` once the image is deleted) or
 *   `{"status": "rejected", "id", "error": {"code", "message"}}` (`expired` for a form never used); `404`
 */
export function createApp(deps: OriginDeps): Hono<OriginEnv> {
  const app = new Hono<OriginEnv>();
  const storage = storeImageDepsOf(deps);
  const tickets = { ...deps, maxImageBytes: deps.config.maxImageBytes };

  app.use(logRequests(deps));
  app.use("/api/*", verifyAccess(deps));

  const openApi = openApiDocument({
    maxDirectUploadBytes: deps.config.maxDirectUploadBytes,
    maxImageBytes: deps.config.maxImageBytes,
    variantWidths: deps.config.variantWidths,
    imageContentTypes: [...new Set(Object.values(ALLOWED_IMAGE_TYPES).map((type) => type.contentType))],
  });
  const handlers: Record<OriginOperation, Handler<OriginEnv>> = {
    health: (c) => c.json({ status: "ok" }),
    openApiDocument: (c) => c.json(openApi),
    listImages: async (c) => c.json({ images: await deps.metadata.listByEntry(entryOf(c.get("params"))) }),
    uploadImage: async (c) => {
      const entry = entryOf(c.get("params"));
      const form = await readUploadForm(c.req.raw, {
        maxFileBytes: deps.config.maxDirectUploadBytes,
        tooLarge: () => new DirectUploadTooLargeError(entry, deps.config.maxDirectUploadBytes),
      });
      const { record, created } = await storeImage(entry, form, storage);
      return c.json(record, created ? 201 : 200);
    },
    deleteEntryImages: async (c) => {
      await deleteEntryImages(entryOf(c.get("params")), storage);
      return c.body(null, 204);
    },
    getImage: async (c) => {
      const record = await deps.metadata.get(imageOf(c.get("params")));
      if (!record) throw new NotFoundError("No such image.");
      return c.json(record);
    },
    deleteImage: async (c) => {
      if (!(await deleteImage(imageOf(c.get("params")), storage))) throw new NotFoundError("No such image.");
      return c.body(null, 204);
    },
    createUpload: async (c) => {
      const request = await readUploadRequest(c.req.raw, deps.config.maxImageBytes);
      const ticket = await issueUploadTicket(entryOf(c.get("params")), request, tickets);
      // A signer may answer a path on the gateway itself (the local one's): made absolute from the URL called.
      const upload = { ...ticket.upload, url: new URL(ticket.upload.url, c.req.url).href };
      return c.json({ ...ticket, upload }, 201);
    },
    getUpload: async (c) => c.json(await readUploadStatus(uploadOf(c.get("params")), tickets)),
  };
  for (const spec of ROUTES) {
    if (spec.answeredBy !== "origin") continue;
    // hono answers HEAD with its GET route.
    const methods = spec.methods.filter((method) => method !== "HEAD");
    app.on(methods, honoPath(spec), handlers[spec.operation]);
  }

  app.notFound(() => errorAnswer(new NotFoundError()));
  app.onError((error, c) => {
    if (!(error instanceof HttpError) || error.status >= 500) {
      deps.log({
        level: "error",
        event: "request_failed",
        request_id: c.get("requestId"),
        error: describeError(error),
      });
    }
    return errorAnswer(error);
  });
  return app;
}

/**
 * Refuses what the edge would refuse (ids, shapes, methods), then checks the edge's grant: signed with our
 * keys, fresh, and for exactly this request (journal, entry, method and path). The origin never asks the
 * journals API.
 */
function verifyAccess(deps: OriginDeps): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    const path = new URL(c.req.url).pathname;
    const { spec, params } = matchEndpoint(c.req.method, path);
    c.set("params", params);
    if (spec.credential !== "none") {
      // Exactly this request: a grant for one image's path never opens the entry's collection.
      const expected = {
        journalId: params.journalId as string,
        entryId: params.entryId as string,
        method: c.req.method,
        path,
      };
      await verifyGrant(await deps.keys(), c.req.header(GRANT_HEADER), expected, deps.now() / 1000);
    }
    await next();
  };
}

/**
 * One JSON line per request: method, route pattern, status, duration and request id (the ALB's trace id
 * when there is one). Never a header, a body, a credential or a grant.
 */
function logRequests(deps: OriginDeps): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    const started = performance.now();
    const requestId = c.req.header("x-amzn-trace-id")?.slice(0, MAX_REQUEST_ID_LENGTH) || deps.uuid();
    c.set("requestId", requestId);
    c.header("cache-control", "no-store");
    await next();
    deps.log({
      level: "info",
      event: "request",
      method: c.req.method,
      route: routePattern(c),
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      request_id: requestId,
    });
  };
}

/** The pattern of the route that answered (`app.use` middleware is registered for method `ALL`). */
function routePattern(c: Parameters<typeof matchedRoutes>[0]): string | null {
  return matchedRoutes(c).findLast((route) => route.method !== "ALL")?.path ?? null;
}

/** The contract's error JSON for any thrown value, as the edge renders it; anything unknown is a bare 500. */
export function errorAnswer(error: unknown): Response {
  const { status, headers, body } = errorResponse(error);
  return new Response(body, { status, headers });
}

/** Path parameters by name, as `matchEndpoint` checked them. */
type Params = Readonly<Record<string, string>>;

function entryOf(params: Params): EntryRef {
  return { journalId: params.journalId as string, entryId: params.entryId as string };
}

function uploadOf(params: Params): UploadRef {
  return { ...entryOf(params), uploadId: params.uploadId as string };
}

function imageOf(params: Params): ImageRef {
  return { ...entryOf(params), imageId: params.imageId as string };
}
