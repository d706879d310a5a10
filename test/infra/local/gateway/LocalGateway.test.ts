import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGE_CONTENT_SECURITY_POLICY } from "../../../../contract/responseHeaders";
import { type LocalGateway, startLocalGateway } from "../../../../infra/local/gateway/LocalGateway";
import { createLocalOrigin } from "../../../../infra/local/gateway/localOrigin";
import type { DemoUser } from "../../../../infra/local/gateway/localState";
import { type Bytes, noisyPng, pngBytes } from "../../../support/images";
import { type IssuedTicket, postForm, uploadForm } from "../../../support/origin";

const ORIGIN = "https://notes.example.com";
let dataDir: string;
let gateway: LocalGateway;
let alice: DemoUser;
let bob: DemoUser;
const logs: Record<string, unknown>[] = [];

async function start(): Promise<LocalGateway> {
  const env = { DATA_DIR: dataDir, CORS_ALLOWED_ORIGINS: ORIGIN, TOKEN_TTL_SECONDS: "300" };
  return startLocalGateway({
    env,
    createOrigin: createLocalOrigin,
    port: 0,
    log: (entry) => logs.push({ ...entry }),
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "gateway-"));
  gateway = await start();
  [alice, bob] = gateway.demoUsers as [DemoUser, DemoUser];
});

afterAll(async () => {
  await gateway?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const entryPath = () => `/journals/${alice.journals[0]?.id}/entries/${alice.journals[0]?.entries[0]?.id}`;
const api = (path: string, init: RequestInit & { as?: DemoUser } = {}) =>
  fetch(`${gateway.url}/api${entryPath()}${path}`, {
    ...init,
    headers: { ...(init.as ? { authorization: init.as.authorization } : {}), ...(init.headers ?? {}) },
  });

async function upload(bytes: Bytes, as = alice): Promise<Response> {
  return api("/images", { method: "POST", body: uploadForm(bytes, { filename: "holiday.png" }), as });
}

/** Every key under the staging prefix, as the bucket on disk holds them. */
async function staged(): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of gateway.storage.images.list("incoming/")) keys.push(object.key);
  return keys;
}

async function accessToken(as = alice): Promise<{ token: string; cookie: string }> {
  const response = await api("/access", { method: "POST", as });
  expect(response.status).toBe(200);
  const { token } = (await response.json()) as { token: string };
  return { token, cookie: response.headers.get("set-cookie") ?? "" };
}

describe("the local gateway, over HTTP", () => {
  const image = pngBytes(24, 16, 41);
  let record: { id: string; url: string; size: number; sha256: string };

  it("answers health without a credential", async () => {
    const response = await fetch(`${gateway.url}/api/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("issues an access token and its scoped cookie", async () => {
    const { token, cookie } = await accessToken();
    expect(token.split(".")).toHaveLength(3);
    expect(cookie).toBe(
      `image_token=${token}; Path=${entryPath()}/; Max-Age=300; HttpOnly; Secure; SameSite=None`,
    );
  });

  it("uploads an image and lists it", async () => {
    // Act
    const response = await upload(image);
    record = (await response.json()) as typeof record;
    const listing = (await (await api("/images", { as: alice })).json()) as { images: (typeof record)[] };

    // Assess
    expect(response.status).toBe(201);
    expect(record).toMatchObject({ size: image.byteLength, url: `${entryPath()}/images/${record.id}` });
    expect(listing.images).toEqual([record]);
  });

  it("serves the bytes with the policy's headers to a query token", async () => {
    // Act
    const { token } = await accessToken();
    const response = await fetch(`${gateway.url}${record.url}?token=${token}`);

    // Assess
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(image);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      "content-type": "image/png",
      "content-length": String(image.byteLength),
      "x-content-type-options": "nosniff",
      "content-security-policy": IMAGE_CONTENT_SECURITY_POLICY,
      "cache-control": "private, max-age=300",
      "accept-ranges": "bytes",
    });
    expect(response.headers.get("etag")).toMatch(/^"[0-9a-f]+"$/);
  });

  it("serves the bytes to the cookie and to the Authorization header", async () => {
    const { token } = await accessToken();
    const byCookie = await fetch(`${gateway.url}${record.url}`, {
      headers: { cookie: `image_token=${token}` },
    });
    const byAuthorization = await fetch(`${gateway.url}${record.url}`, {
      headers: { authorization: alice.authorization },
    });
    expect(byCookie.status).toBe(200);
    expect(byAuthorization.status).toBe(200);
    expect(new Uint8Array(await byCookie.arrayBuffer())).toEqual(image);
    expect(new Uint8Array(await byAuthorization.arrayBuffer())).toEqual(image);
  });

  it("answers HEAD, If-None-Match and Range as S3 does", async () => {
    // Prepare
    const { token } = await accessToken();
    const url = `${gateway.url}${record.url}?token=${token}`;
    const etag = (await fetch(url, { method: "HEAD" })).headers.get("etag") ?? "";

    // Act
    const head = await fetch(url, { method: "HEAD" });
    const notModified = await fetch(url, { headers: { "if-none-match": etag } });
    const range = await fetch(url, { headers: { range: "bytes=0-7" } });
    const unsatisfiable = await fetch(url, { headers: { range: `bytes=${image.byteLength + 10}-` } });

    // Assess
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(image.byteLength));
    expect(await head.text()).toBe("");
    expect(notModified.status).toBe(304);
    expect(range.status).toBe(206);
    expect(range.headers.get("content-range")).toBe(`bytes 0-7/${image.byteLength}`);
    expect(new Uint8Array(await range.arrayBuffer())).toEqual(image.slice(0, 8));
    expect(unsatisfiable.status).toBe(416);
  });

  it("refuses another user's credential and token", async () => {
    const byAuthorization = await fetch(`${gateway.url}${record.url}`, {
      headers: { authorization: bob.authorization },
    });
    const bobsEntry = `/api/journals/${bob.journals[0]?.id}/entries/${bob.journals[0]?.entries[0]?.id}/access`;
    const { token } = (await (
      await fetch(`${gateway.url}${bobsEntry}`, {
        method: "POST",
        headers: { authorization: bob.authorization },
      })
    ).json()) as { token: string };
    const byToken = await fetch(`${gateway.url}${record.url}?token=${token}`);
    expect(byAuthorization.status).toBe(403);
    expect(byToken.status).toBe(403);
    expect(byToken.headers.get("cache-control")).toBe("no-store");
  });

  it("answers errors with the contract's JSON and no-store", async () => {
    const response = await fetch(`${gateway.url}/journals/..%2F/entries/e/images/x`);
    expect(response.status).toBe(400);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.json()).toEqual({
      error: { code: "invalid_id", message: "The journal id is not valid." },
    });
  });

  it("answers a CORS preflight for a configured origin only", async () => {
    const preflight = (origin: string) =>
      fetch(`${gateway.url}/api${entryPath()}/images`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST" },
      });
    const allowed = await preflight(ORIGIN);
    const refused = await preflight("https://elsewhere.example");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(allowed.headers.get("access-control-allow-credentials")).toBe("true");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("adds CORS headers to image reads for a configured origin", async () => {
    const { token } = await accessToken();
    const response = await fetch(`${gateway.url}${record.url}?token=${token}`, {
      headers: { origin: ORIGIN },
    });
    expect(response.headers.get("access-control-allow-origin")).toBe(ORIGIN);
  });

  it("keeps images, records and keys across a restart", async () => {
    // Prepare
    const { token } = await accessToken();
    await gateway.close();

    // Act
    gateway = await start();
    const listing = (await (await api("/images", { as: alice })).json()) as { images: (typeof record)[] };
    const read = await fetch(`${gateway.url}${record.url}?token=${token}`);

    // Assess: the same demo users, the record, the bytes, and a token minted before the restart
    expect(gateway.demoUsers?.[0]?.authorization).toBe(alice.authorization);
    expect(listing.images).toEqual([record]);
    expect(read.status).toBe(200);
    expect(new Uint8Array(await read.arrayBuffer())).toEqual(image);
    expect((await stat(join(dataDir, "signing-keys.json"))).mode & 0o777).toBe(0o600);
  });

  it("deletes the image, which then reads as 404", async () => {
    // Act
    const deleted = await api(`/images/${record.id}`, { method: "DELETE", as: alice });
    const { token } = await accessToken();
    const read = await fetch(`${gateway.url}${record.url}?token=${token}`);
    const listing = (await (await api("/images", { as: alice })).json()) as { images: unknown[] };

    // Assess
    expect(deleted.status).toBe(204);
    expect(read.status).toBe(404);
    expect(await read.json()).toMatchObject({ error: { code: "not_found" } });
    expect(listing.images).toEqual([]);
  });

  it("never logs a credential or a token", () => {
    const logged = JSON.stringify(logs);
    expect(logs.length).toBeGreaterThan(0);
    expect(logged).not.toContain(alice.authorization.split(" ")[1]);
    expect(logged).not.toContain(bob.authorization.split(" ")[1]);
    expect(logged).not.toMatch(/eyJ[A-Za-z0-9_-]+\./);
  });
});

describe("presigned uploads through the local gateway", () => {
  const image = noisyPng(2 * 1024 * 1024);
  let ticket: IssuedTicket;

  async function requestTicket(size: number, name = "panorama"): Promise<IssuedTicket> {
    const response = await api("/uploads", {
      method: "POST",
      as: alice,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name, size }),
    });
    expect(response.status).toBe(201);
    return (await response.json()) as IssuedTicket;
  }

  /** Polls the upload's status as a client would, until the finalize step has judged it. */
  async function verdict(id: string): Promise<Record<string, unknown>> {
    for (const started = Date.now(); Date.now() - started < 10_000; ) {
      const status = (await (await api(`/uploads/${id}`, { as: alice })).json()) as Record<string, unknown>;
      if (status.status !== "pending") return status;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`upload ${id} still pending after 10 s`);
  }

  it("issues a ticket whose form goes to the gateway itself", async () => {
    // Act
    ticket = await requestTicket(image.byteLength);

    // Assess
    expect(ticket.upload.url).toBe(`${gateway.url}/_local/s3/${gateway.storage.bucket}`);
    expect(ticket.upload.url).toBe(gateway.uploadFormUrl);
    expect(ticket.max_bytes).toBe(image.byteLength);
  });

  it("takes a file above the direct limit by the form, finalizes it, and serves its bytes to a token", async () => {
    // Act
    const posted = await postForm(ticket.upload, image);
    const status = await verdict(ticket.id);
    const record = status.image as { url: string; size: number };
    const { token } = await accessToken();
    const read = await fetch(`${gateway.url}${record.url}?token=${token}`);

    // Assess
    expect(posted.status).toBe(204);
    expect(status).toMatchObject({
      status: "ready",
      id: ticket.id,
      image: { name: "panorama", size: image.byteLength },
    });
    expect(read.status).toBe(200);
    expect(read.headers.get("content-type")).toBe("image/png");
    expect(Buffer.compare(Buffer.from(await read.arrayBuffer()), image)).toBe(0);
    expect(await staged()).toEqual([]);
  });

  it("tells why an upload was rejected, leaving nothing behind", async () => {
    // Prepare
    const html = new Uint8Array(Buffer.from("<html><script>alert(1)</script></html>"));
    const rejected = await requestTicket(html.byteLength, "not really");

    // Act
    await postForm(rejected.upload, html, "photo.png");
    const status = await verdict(rejected.id);

    // Assess
    expect(status).toEqual({
      status: "rejected",
      id: rejected.id,
      error: { code: "unsupported_type", message: "Only PNG, JPEG, GIF, WebP and AVIF images are accepted." },
    });
    expect(await staged()).toEqual([]);
  });

  it("keeps an upload's status across a restart", async () => {
    // Prepare
    const before = await verdict(ticket.id);
    await gateway.close();

    // Act
    gateway = await start();
    const after = await verdict(ticket.id);

    // Assess
    expect(after).toEqual(before);
  });

  it("never logs the form's policy or signature", () => {
    const logged = JSON.stringify(logs);
    expect(logged).toContain("upload_finalized");
    expect(logged).not.toContain(ticket.upload.fields.Policy);
    expect(logged).not.toContain(ticket.upload.fields["X-Amz-Signature"]);
  });
});

describe("a local gateway whose finalize fails", () => {
  it("logs the failure as one line and goes on answering", async () => {
    // Prepare: the real origin, but its finalize throws
    const directory = await mkdtemp(join(tmpdir(), "gateway-finalize-"));
    const lines: Record<string, unknown>[] = [];
    const broken = await startLocalGateway({
      env: { DATA_DIR: directory },
      createOrigin: async (options) => ({
        ...(await createLocalOrigin(options)),
        finalize: async () => {
          throw new Error("SQLite is locked");
        },
      }),
      port: 0,
      log: (entry) => lines.push({ ...entry }),
    });
    const [user] = broken.demoUsers as [DemoUser];
    const uploads = `${broken.url}/api/journals/alice-travel/entries/lisbon-2026/uploads`;
    const headers = { authorization: user.authorization, "content-type": "application/json" };
    const ticket = (await (
      await fetch(uploads, {
        method: "POST",
        headers,
        body: JSON.stringify({ size: pngBytes(4, 4, 1).byteLength }),
      })
    ).json()) as IssuedTicket;

    try {
      // Act
      const posted = await postForm(ticket.upload, pngBytes(4, 4, 1));
      await expect.poll(() => lines.some((line) => line.event === "local_finalize_failure")).toBe(true);
      const health = await fetch(`${broken.url}/api/health`);

      // Assess
      expect(posted.status).toBe(204);
      expect(lines).toContainEqual({
        level: "error",
        event: "local_finalize_failure",
        error: "Error: SQLite is locked",
      });
      expect(health.status).toBe(200);
      const status = await fetch(`${uploads}/${ticket.id}`, { headers });
      expect(await status.json()).toMatchObject({ status: "pending" });
    } finally {
      await broken.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});
