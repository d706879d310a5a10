import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  createImageGatewayClient,
  type ImageGatewayClient,
  ImageGatewayError,
  type ImageRecord,
  type UploadProgress,
} from "../../client/index.ts";
import { CLOCK_TOLERANCE_SECONDS } from "../../contract/tokens";
import { type LocalGateway, startLocalGateway } from "../../infra/local/gateway/LocalGateway";
import { createLocalOrigin } from "../../infra/local/gateway/localOrigin";
import type { DemoUser } from "../../infra/local/gateway/localState";
import { LOCAL_UPLOAD_PATH } from "../../infra/local/storage/UploadDoor";
import { type Bytes, noisyPng, png, pngBytes } from "../support/images";
import { ContractChecker } from "../support/openapi";

/** Small, so a presigned upload takes a few hundred KB; short-lived tokens, so expiry is seen within the test. */
const DIRECT_LIMIT = 64 * 1024;
const TOKEN_TTL_SECONDS = 2;

let dataDir: string;
let gateway: LocalGateway;
let alice: DemoUser;
let bob: DemoUser;
/** Every request the client made: method, path and status. */
const requests: { method: string; path: string; status: number }[] = [];
let gw: ImageGatewayClient;
/** The gateway's own OpenAPI document, from the first answer (the client reads it first of all). */
let contract: ContractChecker | undefined;
const consoleCalls = vi.fn();

/** The client as an app builds it, with a `fetch` that notes what went over the wire. */
function clientFor(user: DemoUser): ImageGatewayClient {
  return createImageGatewayClient({
    baseUrl: gateway.url,
    authorization: () => user.authorization,
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      const url = new URL(String(input));
      const method = init?.method ?? "GET";
      requests.push({ method, path: url.pathname, status: response.status });
      // Every answer of the gateway's own API matches its OpenAPI document (the form goes to storage).
      if (!url.pathname.startsWith(LOCAL_UPLOAD_PATH)) {
        contract ??= new ContractChecker((await response.clone().json()) as Record<string, unknown>);
        await contract.check(method, url.href, response.clone());
      }
      return response;
    },
  });
}

/** A PNG of exactly `bytes` bytes, padded with a private chunk. */
function pngOfSize(bytes: number): Bytes {
  const rgb = new Uint8Array(8 * 8 * 3).fill(90);
  const bare = png({ width: 8, height: 8, rgb, chunks: [{ type: "prVt", data: new Uint8Array() }] });
  return png({
    width: 8,
    height: 8,
    rgb,
    chunks: [{ type: "prVt", data: new Uint8Array(bytes - bare.length) }],
  });
}

/** Every file the local bucket holds on disk: originals, staged uploads, and any half-written file. */
async function storedKeys(): Promise<string[]> {
  const entries = await readdir(gateway.storage.directory, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(gateway.storage.directory, join(entry.parentPath, entry.name)))
    .sort();
}

function sha256(bytes: ArrayBuffer): string {
  return createHash("sha256").update(new Uint8Array(bytes)).digest("hex");
}

/** The paths the client called since `from`, as `METHOD path`, ids replaced by `{id}`. */
function calledSince(from: number): string[] {
  return requests
    .slice(from)
    .map(({ method, path }) => `${method} ${path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, "{id}")}`);
}

beforeAll(async () => {
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, method).mockImplementation(consoleCalls);
  }
  dataDir = await mkdtemp(join(tmpdir(), "client-"));
  gateway = await startLocalGateway({
    env: {
      DATA_DIR: dataDir,
      MAX_DIRECT_UPLOAD_BYTES: String(DIRECT_LIMIT),
      TOKEN_TTL_SECONDS: String(TOKEN_TTL_SECONDS),
    },
    createOrigin: createLocalOrigin,
    port: 0,
    log: () => undefined,
  });
  [alice, bob] = gateway.demoUsers as [DemoUser, DemoUser];
  gw = clientFor(alice);
});

afterAll(async () => {
  vi.restoreAllMocks();
  await gateway?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("the client against the local gateway, in Node", () => {
  const [journal, entry] = ["alice-travel", "lisbon-2026"];
  const entryApi = `/api/journals/${journal}/entries/${entry}`;

  it.each([
    ["at the direct limit", DIRECT_LIMIT, ["POST /images"]],
    ["one byte above it", DIRECT_LIMIT + 1, ["POST /uploads", "POST /_local/s3", "GET /uploads/{id}"]],
    ["far above it", 5 * DIRECT_LIMIT, ["POST /uploads", "POST /_local/s3", "GET /uploads/{id}"]],
  ])(
    "uploads a file %s by the gateway's own limit, reporting progress up to the total",
    async (_, size, route) => {
      // Prepare
      const bytes = size === 5 * DIRECT_LIMIT ? noisyPng(size) : pngOfSize(size);
      const file = new File([bytes], "harbour.png", { type: "image/png" });
      const progress: UploadProgress[] = [];
      const from = requests.length;

      // Act
      const record = await gw.upload(journal, entry, file, { onProgress: (event) => progress.push(event) });

      // Assess: the route the limit chose, never the other one
      const called = calledSince(from).map((call) =>
        call.replace(entryApi, "").replace(`/_local/s3/${gateway.storage.bucket}`, "/_local/s3"),
      );
      expect(called.filter((call) => !call.startsWith("GET /api/openapi.json"))).toEqual(
        expect.arrayContaining(route),
      );
      expect(called.some((call) => call === "POST /images")).toBe(route.includes("POST /images"));
      // Progress: in the file's bytes, only ever growing, ending exactly at the total
      expect(progress.at(-1)).toEqual({ loaded: bytes.byteLength, total: bytes.byteLength });
      expect(
        progress.every((event, index) => index === 0 || event.loaded > (progress[index - 1]?.loaded ?? 0)),
      ).toBe(true);
      if (size > DIRECT_LIMIT) expect(progress.length).toBeGreaterThan(1);
      // The record, named from the file, is what the gateway lists and serves
      expect(record).toMatchObject({
        journal_id: journal,
        entry_id: entry,
        name: "harbour",
        content_type: "image/png",
      });
      expect(await gw.get(journal, entry, record.id)).toEqual(record);
      const served = await fetch(await gw.imageUrl(record));
      expect(served.status).toBe(200);
      expect(sha256(await served.arrayBuffer())).toBe(record.sha256);
    },
  );

  it("reads the direct limit from the gateway once, not from a copy of its own", async () => {
    const documents = requests.filter((request) => request.path === "/api/openapi.json");
    expect(documents).toHaveLength(1);
  });

  it("gives back the existing record for bytes the entry already holds, by either route", async () => {
    const small = pngBytes(20, 10, 5);
    const large = noisyPng(3 * DIRECT_LIMIT);
    const first = [await gw.upload(journal, entry, small), await gw.upload(journal, entry, large)];
    const again = [await gw.upload(journal, entry, small), await gw.upload(journal, entry, large.slice())];
    expect(again).toEqual(first);
  });

  it.each([
    ["direct", pngOfSize(DIRECT_LIMIT - 1)],
    ["presigned", noisyPng(32 * DIRECT_LIMIT)],
  ])("stores nothing when a %s upload is aborted while its bytes travel", async (_, bytes) => {
    // Prepare
    await gw.deleteAll(journal, entry);
    const before = await storedKeys();
    const controller = new AbortController();
    const reason = new DOMException("The person cancelled.", "AbortError");

    // Act: abort once the first bytes of the file have gone
    const upload = gw.upload(journal, entry, bytes, {
      signal: controller.signal,
      onProgress: ({ loaded, total }) => {
        if (loaded > 0 && loaded < total) controller.abort(reason);
      },
    });

    // Assess
    await expect(upload).rejects.toBe(reason);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await gw.list(journal, entry)).toEqual([]);
    expect(await storedKeys()).toEqual(before);
  });

  it("lists oldest first, gets one, deletes one and then all", async () => {
    // Prepare
    await gw.deleteAll(journal, entry);
    const first = await gw.upload(journal, entry, pngBytes(12, 12, 1), { name: "first" });
    const second = await gw.upload(journal, entry, pngBytes(12, 12, 2), { name: "second" });
    const third = await gw.upload(journal, entry, noisyPng(2 * DIRECT_LIMIT), { name: "third" });

    // Act + Assess
    expect((await gw.list(journal, entry)).map((image) => image.name)).toEqual(["first", "second", "third"]);
    expect(await gw.get(journal, entry, second.id)).toEqual(second);
    await gw.delete(journal, entry, second.id);
    expect(await gw.list(journal, entry)).toEqual([first, third]);
    const missing = await gw.get(journal, entry, second.id).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(ImageGatewayError);
    expect(missing).toMatchObject({ status: 404, code: "not_found" });
    await gw.deleteAll(journal, entry);
    expect(await gw.list(journal, entry)).toEqual([]);
    expect((await storedKeys()).filter((key) => key.includes(`/${entry}/`))).toEqual([]);
    await gw.deleteAll(journal, entry);
  });

  it("rejects a presigned upload the gateway refused with the refusal's code", async () => {
    // Prepare: a page of HTML posing as a PNG, above the direct limit
    const html = new TextEncoder().encode(
      `<html><script>alert(1)</script>${" ".repeat(2 * DIRECT_LIMIT)}</html>`,
    );
    const from = requests.length;

    // Act
    const error = await gw
      .upload(journal, entry, html, { name: "trojan" })
      .catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(ImageGatewayError);
    expect(error).toMatchObject({
      code: "unsupported_type",
      status: 415,
      message: "Only PNG, JPEG, GIF, WebP and AVIF images are accepted.",
    });
    expect(calledSince(from)).toContain(`POST /_local/s3/${gateway.storage.bucket}`);
    expect((await gw.list(journal, entry)).map((image) => image.name)).not.toContain("trojan");
  });

  it("renews an expired access token without the caller noticing", { timeout: 30_000 }, async () => {
    // Prepare
    const record = await gw.upload(journal, entry, pngBytes(30, 20, 9));
    const accessCalls = () => requests.filter((request) => request.path.endsWith("/access")).length;
    const before = accessCalls();

    // Act: two URLs at once share one token; after it has expired, the next URL carries a new one
    const [first, same] = await Promise.all([gw.imageUrl(record), gw.imageUrl(record)]);
    expect(accessCalls() - before).toBe(1);
    expect(same).toBe(first);
    expect((await fetch(first)).status).toBe(200);
    // The edge accepts a token for a few seconds past its expiry, for clocks that disagree.
    await new Promise((resolve) =>
      setTimeout(resolve, (TOKEN_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS) * 1000 + 1100),
    );
    const stale = await fetch(first);
    const renewed = await gw.imageUrl(record);

    // Assess
    expect(stale.status).toBe(401);
    expect(((await stale.json()) as { error: { code: string } }).error.code).toBe("token_expired");
    expect(renewed).not.toBe(first);
    expect((await fetch(renewed)).status).toBe(200);
    expect(accessCalls() - before).toBe(2);
  });

  it("makes srcsets of variants described by their true widths, each URL opening", async () => {
    // Prepare: a record as the gateway gives it once it knows the image's width
    const record = await gw.upload(journal, entry, pngBytes(40, 30, 11));
    const wide: ImageRecord = { ...record, width: 1000, height: 750 };

    // Act
    const srcset = await gw.srcset(wide);
    const small = await gw.srcset({ ...record, width: 160 });
    const unknown = await gw.srcset({ ...record, width: null });

    // Assess: every width below 1000, then the next one, which the gateway answers at 1000
    const candidates = srcset.split(", ").map((candidate) => candidate.split(" "));
    expect(candidates.map(([, descriptor]) => descriptor)).toEqual(["160w", "320w", "640w", "1000w"]);
    expect(candidates.map(([url]) => new URL(url ?? "").searchParams.get("w"))).toEqual([
      "160",
      "320",
      "640",
      "1280",
    ]);
    expect(srcset).toMatch(
      new RegExp(`^${gateway.url}${record.url}\\?w=160&token=eyJ[^ ]+ 160w, `.replaceAll("/", "\\/")),
    );
    for (const [url] of candidates) expect((await fetch(url ?? "")).status).toBe(200);
    expect(small).toBe("");
    expect(unknown).toBe("");
    const variant = new URL(await gw.imageUrl(record, { width: 640, format: "webp" }));
    expect([...variant.searchParams.keys()]).toEqual(["w", "format", "token"]);
  });

  it("reports the contract's code, status and message for every refusal", async () => {
    const [image] = await gw.list(journal, entry);
    const refusals = await Promise.all(
      [
        clientFor(bob).list(journal, entry),
        clientFor(bob).upload(journal, entry, pngBytes(10, 10, 3)),
        clientFor(bob).upload(journal, entry, noisyPng(2 * DIRECT_LIMIT)),
        gw.list("../etc", entry),
        gw.upload(journal, entry, new Uint8Array()),
        gw.imageUrl(image as ImageRecord, { width: 333 }),
        createImageGatewayClient({ baseUrl: gateway.url, authorization: () => "Bearer nobody" }).list(
          journal,
          entry,
        ),
      ].map((call) =>
        call.then(
          () => undefined,
          (error: unknown) => error,
        ),
      ),
    );
    expect(refusals.map((error) => error instanceof ImageGatewayError && [error.status, error.code])).toEqual(
      [
        [403, "forbidden"],
        [403, "forbidden"],
        [403, "forbidden"],
        [400, "invalid_id"],
        [400, "empty_file"],
        [400, "invalid_variant"],
        [401, "unauthorized"],
      ],
    );
    expect((refusals[0] as ImageGatewayError).message).toBe("The credential does not open this entry.");
    expect((refusals[5] as ImageGatewayError).message).toBe(
      "The width must be one of 160, 320, 640, 1280, 1920.",
    );
  });

  it("fails with network_error, naming only the host, when the gateway cannot be reached", async () => {
    const offline = createImageGatewayClient({
      baseUrl: "http://127.0.0.1:9",
      authorization: () => "Bearer x",
    });
    const error = await offline.list(journal, entry).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      status: 0,
      code: "network_error",
      message: "127.0.0.1:9 could not be reached.",
    });
  });

  it("got only answers its OpenAPI document describes, for every call above", () => {
    expect(contract?.seen.length).toBe(
      requests.filter(({ path }) => !path.startsWith(LOCAL_UPLOAD_PATH)).length,
    );
  });

  it("wrote nothing to the console, so no token or credential was ever logged", () => {
    expect(consoleCalls).not.toHaveBeenCalled();
  });
});
