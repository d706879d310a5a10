import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MethodNotAllowedError } from "../../contract/errors";
import { OPENAPI_PATH, openApiDocument } from "../../contract/openapi";
import { matchRoute, ROUTES } from "../../contract/routes";
import { type LocalGateway, startLocalGateway } from "../../infra/local/gateway/LocalGateway";
import { createLocalOrigin } from "../../infra/local/gateway/localOrigin";
import type { DemoUser } from "../../infra/local/gateway/localState";
import { noisyPng, pngBytes } from "../support/images";
import { ContractChecker } from "../support/openapi";
import { postForm, uploadForm } from "../support/origin";

const DIRECT_LIMIT = 64 * 1024;
const APP_ORIGIN = "https://notes.example.com";
const IMAGE_ID = "3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71";

let dataDir: string;
let gateway: LocalGateway;
let alice: DemoUser;
let bob: DemoUser;
let document: Record<string, unknown>;
let contract: ContractChecker;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "openapi-"));
  gateway = await startLocalGateway({
    env: {
      DATA_DIR: dataDir,
      MAX_DIRECT_UPLOAD_BYTES: String(DIRECT_LIMIT),
      CORS_ALLOWED_ORIGINS: APP_ORIGIN,
    },
    createOrigin: createLocalOrigin,
    port: 0,
    log: () => undefined,
  });
  [alice, bob] = gateway.demoUsers as [DemoUser, DemoUser];
  document = (await (await fetch(`${gateway.url}${OPENAPI_PATH}`)).json()) as Record<string, unknown>;
  contract = new ContractChecker(document);
});

afterAll(async () => {
  await gateway?.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** A concrete path for a template: alice's entry, and an image id of the right shape. */
function concrete(template: string): string {
  return template
    .replace("{journalId}", "alice-travel")
    .replace("{entryId}", "lisbon-2026")
    .replace(/\{(imageId|uploadId)\}/, IMAGE_ID);
}

describe("the OpenAPI document at GET /api/openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("states the deployment's own limits, and is what the origin builds from its configuration", () => {
    expect(document["x-image-gateway"]).toEqual({
      max_direct_upload_bytes: DIRECT_LIMIT,
      max_image_bytes: 20 * 1024 * 1024,
      variant_widths: [160, 320, 640, 1280, 1920],
    });
    const built = openApiDocument({
      maxDirectUploadBytes: DIRECT_LIMIT,
      maxImageBytes: 20 * 1024 * 1024,
      variantWidths: [160, 320, 640, 1280, 1920],
      imageContentTypes: ["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"],
    });
    expect(document).toEqual(built);
  });

  it("describes exactly the routes the edge matches, with their methods", () => {
    const methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
    const templates = [...new Set(contract.operations().map((operation) => operation.split(" ")[1] ?? ""))];
    for (const template of templates) {
      for (const method of methods) {
        const documented = contract.operationOf(method, concrete(template)) !== undefined;
        let matched = true;
        try {
          matchRoute(method, concrete(template));
        } catch (error) {
          if (!(error instanceof MethodNotAllowedError)) throw error;
          matched = false;
        }
        expect(`${method} ${template}: ${documented}`).toBe(`${method} ${template}: ${matched}`);
      }
      expect(contract.operationOf("OPTIONS", concrete(template))).toBeDefined();
    }
    expect(templates).toHaveLength(8);
  });

  it("names every operation of the route table, by its operation name", () => {
    const paths = document.paths as Record<string, Record<string, { operationId: string; summary: string }>>;
    for (const spec of ROUTES) {
      const get = paths[spec.path]?.[spec.methods[0].toLowerCase()];
      expect(get, spec.operation).toMatchObject({ operationId: spec.operation, summary: spec.summary });
    }
  });

  it("declares the three credential kinds as security schemes", () => {
    const components = document.components as { securitySchemes: Record<string, unknown> };
    expect(components.securitySchemes).toEqual({
      accessToken: expect.objectContaining({ type: "apiKey", in: "query", name: "token" }),
      accessTokenCookie: expect.objectContaining({ type: "apiKey", in: "cookie", name: "image_token" }),
      appAuthorization: expect.objectContaining({ type: "apiKey", in: "header", name: "Authorization" }),
    });
  });
});

describe("every answer of a full flow matches the document", () => {
  const entry = "/api/journals/alice-travel/entries/lisbon-2026";
  const imageBase = "/journals/alice-travel/entries/lisbon-2026/images";

  /** Sends one request to the gateway and checks its answer; the status and the body read. */
  async function call(
    method: string,
    path: string,
    init: RequestInit & { as?: DemoUser | null } = {},
  ): Promise<{ status: number; body: unknown; headers: Headers }> {
    const { as = alice, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (as) headers.set("authorization", as.authorization);
    const url = `${gateway.url}${path}`;
    const response = await fetch(url, { ...rest, method, headers });
    const body = await contract.check(method, url, response);
    return { status: response.status, body, headers: response.headers };
  }

  it("for every route, its successes and its refusals", { timeout: 60_000 }, async () => {
    // Public routes
    expect((await call("GET", "/api/health", { as: null })).status).toBe(200);
    expect((await call("HEAD", "/api/health", { as: null })).status).toBe(200);
    expect((await call("GET", OPENAPI_PATH, { as: null })).status).toBe(200);
    expect((await call("HEAD", OPENAPI_PATH, { as: null })).status).toBe(200);
    expect((await call("PUT", "/api/health", { as: null })).status).toBe(405);

    // CORS preflights, on every path: granted, refused, and the plain Allow answer
    for (const template of Object.keys(document.paths as object)) {
      const path = concrete(template);
      const preflight = { "access-control-request-method": "POST" };
      expect(
        (await call("OPTIONS", path, { as: null, headers: { origin: APP_ORIGIN, ...preflight } })).status,
      ).toBe(204);
      expect(
        (await call("OPTIONS", path, { as: null, headers: { origin: "https://evil.example", ...preflight } }))
          .status,
      ).toBe(403);
      expect((await call("OPTIONS", path, { as: null })).status).toBe(204);
    }

    // An access token
    const access = await call("POST", `${entry}/access`);
    expect(access.status).toBe(200);
    const { token } = access.body as { token: string };
    const cookie = (access.headers.get("set-cookie") ?? "").split(";")[0] ?? "";

    // Direct uploads: created, then the same bytes again, then every refusal
    expect((await call("GET", `${entry}/images`)).body).toEqual({ images: [] });
    const bytes = pngBytes(48, 32, 3);
    const created = await call("POST", `${entry}/images`, { body: uploadForm(bytes, { name: "harbour" }) });
    expect(created.status).toBe(201);
    const record = created.body as { id: string; url: string };
    expect((await call("POST", `${entry}/images`, { body: uploadForm(bytes) })).status).toBe(200);
    const refusals = [
      [uploadForm(noisyPng(2 * DIRECT_LIMIT)), 413],
      [uploadForm(new TextEncoder().encode("<svg xmlns='http://www.w3.org/2000/svg'/>")), 415],
      [uploadForm(new Uint8Array()), 400],
      [new URLSearchParams({ file: "x" }), 400],
    ] as const;
    for (const [body, status] of refusals) {
      expect((await call("POST", `${entry}/images`, { body })).status).toBe(status);
    }

    // Records
    expect((await call("GET", `${entry}/images/${record.id}`)).status).toBe(200);
    expect((await call("GET", `${entry}/images/${IMAGE_ID}`)).status).toBe(404);
    expect(((await call("GET", `${entry}/images`)).body as { images: unknown[] }).images).toHaveLength(1);

    // Image reads, by each credential kind, with conditions and ranges, and variants
    const imagePath = `${record.url}?token=${token}`;
    const read = await call("GET", imagePath, { as: null });
    expect(read.status).toBe(200);
    const etag = read.headers.get("etag") ?? "";
    expect((await call("HEAD", imagePath, { as: null })).status).toBe(200);
    expect((await call("GET", record.url, { as: null, headers: { cookie } })).status).toBe(200);
    expect((await call("GET", record.url)).status).toBe(200);
    expect((await call("GET", imagePath, { as: null, headers: { "if-none-match": etag } })).status).toBe(304);
    expect((await call("GET", imagePath, { as: null, headers: { range: "bytes=0-9" } })).status).toBe(206);
    expect((await call("GET", imagePath, { as: null, headers: { range: "bytes=999999-" } })).status).toBe(
      416,
    );
    for (const variant of ["w=160", "w=320&format=webp", "w=333"]) {
      await call("GET", `${record.url}?${variant}&token=${token}`, { as: null });
    }
    expect((await call("GET", `${imageBase}/${IMAGE_ID}?token=${token}`, { as: null })).status).toBe(404);
    expect((await call("GET", record.url, { as: null })).status).toBe(401);
    expect((await call("GET", `${record.url}?token=nonsense`, { as: null })).status).toBe(401);
    expect(
      (
        await call("GET", `/journals/alice-travel/entries/kyoto-2026/images/${record.id}?token=${token}`, {
          as: null,
        })
      ).status,
    ).toBe(403);
    expect((await call("POST", record.url, { as: null })).status).toBe(405);

    // Presigned uploads: a ticket, the form, pending, ready; a rejected one; one never used
    const ticketFor = async (size: number) => {
      const answer = await call("POST", `${entry}/uploads`, {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "panorama", size }),
      });
      expect(answer.status).toBe(201);
      return answer.body as { id: string; upload: { url: string; fields: Record<string, string> } };
    };
    const large = noisyPng(3 * DIRECT_LIMIT);
    const good = await ticketFor(large.byteLength);
    expect(((await call("GET", `${entry}/uploads/${good.id}`)).body as { status: string }).status).toBe(
      "pending",
    );
    expect((await postForm(good.upload, large)).ok).toBe(true);
    const html = new TextEncoder().encode(`<html>${" ".repeat(2 * DIRECT_LIMIT)}</html>`);
    const bad = await ticketFor(html.byteLength);
    expect((await postForm(bad.upload, html)).ok).toBe(true);
    const settled = async (id: string) => {
      for (let attempt = 0; attempt < 200; attempt += 1) {
        const answer = (await call("GET", `${entry}/uploads/${id}`)).body as { status: string };
        if (answer.status !== "pending") return answer;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`upload ${id} never settled`);
    };
    expect(await settled(good.id)).toMatchObject({ status: "ready", image: { name: "panorama" } });
    expect(await settled(bad.id)).toMatchObject({ status: "rejected", error: { code: "unsupported_type" } });
    expect((await call("GET", `${entry}/uploads/${IMAGE_ID}`)).status).toBe(404);
    const json = { "content-type": "application/json" };
    expect(
      (await call("POST", `${entry}/uploads`, { headers: json, body: JSON.stringify({ size: 1e12 }) }))
        .status,
    ).toBe(413);
    expect((await call("POST", `${entry}/uploads`, { headers: json, body: "{" })).status).toBe(400);

    // Refusals at the edge
    expect((await call("GET", `${entry}/images`, { as: null })).status).toBe(401);
    expect((await call("GET", `${entry}/images`, { as: bob })).status).toBe(403);
    expect((await call("GET", "/api/journals/..%2F/entries/lisbon-2026/images")).status).toBe(400);
    expect((await call("PUT", `${entry}/images`)).status).toBe(405);
    expect((await call("GET", `${entry}/access`)).status).toBe(405);
    expect(
      (await call("GET", `${entry}/images`, { as: { ...alice, authorization: "Bearer nobody" } })).status,
    ).toBe(401);

    // Deletes
    expect((await call("DELETE", `${entry}/images/${record.id}`)).status).toBe(204);
    expect((await call("DELETE", `${entry}/images/${record.id}`)).status).toBe(404);
    expect((await call("DELETE", `${entry}/images`)).status).toBe(204);
    expect((await call("GET", `${entry}/images`)).body).toEqual({ images: [] });

    // Every operation the document describes was answered at least once, and matched
    const answered = new Set(contract.seen.map(({ operation }) => operation));
    expect(contract.operations().filter((operation) => !answered.has(operation))).toEqual([]);
  });

  it("answers an unknown route or method with the document's shared error responses", async () => {
    for (const [method, path, status] of [
      ["GET", "/api/nothing-here", 404],
      ["GET", "/elsewhere", 404],
      ["PATCH", "/api/journals/alice-travel/entries/lisbon-2026/uploads", 405],
    ] as const) {
      const url = `${gateway.url}${path}`;
      const response = await fetch(url, { method, headers: { authorization: alice.authorization } });
      expect(response.status).toBe(status);
      await contract.check(method, url, response);
    }
  });
});
