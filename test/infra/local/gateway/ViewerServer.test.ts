import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALB_LAMBDA_BODY_LIMIT_BYTES } from "../../../../contract/constants";
import { type LocalGateway, startLocalGateway } from "../../../../infra/local/gateway/LocalGateway";
import { createLocalOrigin } from "../../../../infra/local/gateway/localOrigin";
import type { DemoUser } from "../../../../infra/local/gateway/localState";
import { DRAIN_LIMIT_BYTES } from "../../../../infra/local/gateway/ViewerServer";
import { DEFAULT_MAX_DIRECT_UPLOAD_BYTES } from "../../../../origin/domain/constants";
import { firstAnswer, formBytes, OneConnection, rawConnection } from "../../../support/http1";
import { pngBytes } from "../../../support/images";
import { type IssuedTicket, uploadForm } from "../../../support/origin";

const PUBLIC_URL = "https://images.example.test";
const TIMEOUTS = { headersMs: 600, requestMs: 1_500, keepAliveMs: 5_000 };
const ENTRY = "/api/journals/alice-travel/entries/lisbon-2026";
let dataDir: string;
let gateway: LocalGateway;
let alice: DemoUser;
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "viewer-connections-"));
  gateway = await startLocalGateway({
    env: { DATA_DIR: dataDir, PUBLIC_URL },
    createOrigin: createLocalOrigin,
    port: 0,
    timeouts: TIMEOUTS,
    log: (entry) => logs.push({ ...entry }),
  });
  [alice] = gateway.demoUsers as [DemoUser];
});

afterAll(async () => {
  await gateway?.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** An image of exactly `size` bytes: a real PNG, padded after its end. */
function imageOf(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  bytes.set(pngBytes(3, 3, seed));
  return bytes;
}

async function upload(connection: OneConnection, seed: number): Promise<{ id: string; url: string }> {
  const { body, contentType } = await formBytes(uploadForm(pngBytes(4, 4, seed)));
  const answer = await connection.send({
    method: "POST",
    path: `${ENTRY}/images`,
    headers: { authorization: alice.authorization, "content-type": contentType },
    body,
  });
  expect(answer.status).toBe(201);
  return JSON.parse(answer.body.toString()) as { id: string; url: string };
}

async function listed(connection: OneConnection): Promise<string[]> {
  const answer = await connection.send({
    path: `${ENTRY}/images`,
    headers: { authorization: alice.authorization },
  });
  return (JSON.parse(answer.body.toString()) as { images: { id: string }[] }).images.map((image) => image.id);
}

describe("early answers reach the client whole (finding 4)", () => {
  it("answers 100 over-limit uploads on one keep-alive connection, each followed by an answered request", async () => {
    // Prepare: a body above the ALB's limit, which is answered before a byte of it is read
    const connection = new OneConnection(gateway.url);
    const oversized = Buffer.alloc(2 * 1024 * 1024, 7);
    const statuses: number[] = [];
    const codes: unknown[] = [];

    try {
      // Act
      for (let round = 0; round < 100; round += 1) {
        const refused = await connection.send({
          method: "POST",
          path: `${ENTRY}/images`,
          headers: {
            authorization: alice.authorization,
            "content-type": "multipart/form-data; boundary=x",
            "content-length": String(oversized.byteLength),
          },
          body: oversized,
        });
        const next = await connection.send({ path: "/api/health" });
        statuses.push(refused.status, next.status);
        codes.push((JSON.parse(refused.body.toString()) as { error: { code: string } }).error.code);
      }

      // Assess
      expect(statuses).toEqual(Array.from({ length: 100 }, () => [413, 200]).flat());
      expect(new Set(codes)).toEqual(new Set(["too_large"]));
      expect(connection.sockets).toBe(1);
    } finally {
      connection.close();
    }
  }, 60_000);

  it("drains the body after every other early answer and serves the next request on the same connection", async () => {
    // Prepare
    const connection = new OneConnection(gateway.url);
    const body = Buffer.alloc(512 * 1024, 1);
    const json = { "content-type": "application/json", authorization: alice.authorization };
    const early: { method: string; path: string; headers: Record<string, string>; status: number }[] = [
      // the edge's refusal: no credential, answered before the origin (or the body) is reached
      { method: "POST", path: `${ENTRY}/images`, headers: { "content-type": "image/png" }, status: 401 },
      // the origin's: not multipart
      { method: "POST", path: `${ENTRY}/images`, headers: { ...json }, status: 400 },
      // the origin's: an uploads request far above what it reads (413, as any body too large)
      { method: "POST", path: `${ENTRY}/uploads`, headers: { ...json }, status: 413 },
      // an image read with a body, refused at the edge without a credential
      {
        method: "GET",
        path: `/journals/alice-travel/entries/lisbon-2026/images/x`,
        headers: {},
        status: 400,
      },
    ];

    try {
      for (const request of early) {
        // Act
        const answer = await connection.send({ ...request, body });
        const next = await connection.send({ path: "/api/health" });

        // Assess
        expect(answer.status).toBe(request.status);
        expect(JSON.parse(answer.body.toString())).toMatchObject({ error: { code: expect.any(String) } });
        expect(next.status).toBe(200);
        expect(next.reusedSocket).toBe(true);
      }
      expect(connection.sockets).toBe(1);
    } finally {
      connection.close();
    }
  });

  it("answers the origin's 413 for a file above the direct limit whose form the ALB passes, and keeps the connection", async () => {
    // Prepare: above MAX_DIRECT_UPLOAD_BYTES, within the ALB's limit
    const connection = new OneConnection(gateway.url);
    const { body, contentType } = await formBytes(
      uploadForm(imageOf(DEFAULT_MAX_DIRECT_UPLOAD_BYTES + 8 * 1024, 3)),
    );

    try {
      // Act
      const refused = await connection.send({
        method: "POST",
        path: `${ENTRY}/images`,
        headers: { authorization: alice.authorization, "content-type": contentType },
        body,
      });
      const next = await connection.send({ path: "/api/health" });

      // Assess
      expect(body.byteLength).toBeLessThanOrEqual(ALB_LAMBDA_BODY_LIMIT_BYTES);
      expect(refused.status).toBe(413);
      expect(JSON.parse(refused.body.toString())).toMatchObject({
        error: { code: "too_large", message: expect.stringContaining("A direct upload takes at most") },
      });
      expect(next.status).toBe(200);
      expect(connection.sockets).toBe(1);
    } finally {
      connection.close();
    }
  });

  it("answers a chunked body above the ALB's limit once it passes the limit, and keeps the connection", async () => {
    // Prepare: no Content-Length, so the limit is found only while reading
    const connection = new OneConnection(gateway.url);
    const chunk = Buffer.alloc(256 * 1024, 2);

    try {
      // Act
      const refused = await connection.send({
        method: "POST",
        path: `${ENTRY}/images`,
        headers: { authorization: alice.authorization, "content-type": "multipart/form-data; boundary=x" },
        body: (write, end) => {
          for (let sent = 0; sent < 3 * 1024 * 1024; sent += chunk.byteLength) write(chunk);
          end();
        },
      });
      const next = await connection.send({ path: "/api/health" });

      // Assess
      expect(refused.status).toBe(413);
      expect(next.status).toBe(200);
      expect(connection.sockets).toBe(1);
    } finally {
      connection.close();
    }
  });

  it("closes gracefully after answering a body above what it drains: the answer arrives, no reset", async () => {
    // Prepare: a declared length above the drain limit, sent in full as a careless client would
    const { socket, received } = await rawConnection(gateway.url);
    const length = DRAIN_LIMIT_BYTES + 4 * 1024 * 1024;
    socket.on("error", () => undefined);

    // Act
    socket.write(
      `POST ${ENTRY}/images HTTP/1.1\r\nhost: localhost\r\nauthorization: ${alice.authorization}\r\n` +
        `content-type: multipart/form-data; boundary=x\r\ncontent-length: ${length}\r\n\r\n`,
    );
    const piece = Buffer.alloc(1024 * 1024, 3);
    for (let sent = 0; sent < length && socket.writable; sent += piece.byteLength) {
      if (!socket.write(piece))
        await new Promise((resolve) => socket.once("drain", resolve).once("close", resolve));
    }
    const bytes = await received;

    // Assess: the whole answer, then the server's orderly close (`end`, not `ECONNRESET`)
    const answer = firstAnswer(bytes);
    expect(answer.status).toBe(413);
    expect(answer.json).toMatchObject({ error: { code: "too_large" } });
  }, 30_000);
});

describe("the ALB, played", () => {
  it("passes a direct upload of exactly the default MAX_DIRECT_UPLOAD_BYTES, form and all", async () => {
    // Prepare: the default limit must fit inside what the ALB passes, or production refuses it
    const { body, contentType } = await formBytes(uploadForm(imageOf(DEFAULT_MAX_DIRECT_UPLOAD_BYTES, 1)));
    const connection = new OneConnection(gateway.url);

    try {
      // Act
      const answer = await connection.send({
        method: "POST",
        path: `${ENTRY}/images`,
        headers: { authorization: alice.authorization, "content-type": contentType },
        body,
      });

      // Assess
      expect(body.byteLength).toBeLessThanOrEqual(ALB_LAMBDA_BODY_LIMIT_BYTES);
      expect(answer.status).toBe(201);
    } finally {
      connection.close();
    }
  });

  it("refuses a body above its limit with the contract's 413 JSON, before the origin runs", async () => {
    // Prepare
    const { body, contentType } = await formBytes(uploadForm(imageOf(ALB_LAMBDA_BODY_LIMIT_BYTES, 2)));
    const before = logs.filter((line) => line.event === "request").length;

    // Act
    const response = await fetch(`${gateway.url}${ENTRY}/images`, {
      method: "POST",
      headers: { authorization: alice.authorization, "content-type": contentType },
      body: new Uint8Array(body),
    });

    // Assess
    expect(response.status).toBe(413);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("too_large");
    expect(error.message).toContain(`${ALB_LAMBDA_BODY_LIMIT_BYTES} bytes`);
    expect(error.message).toContain("/uploads");
    expect(logs.filter((line) => line.event === "request").length).toBe(before);
  });
});

describe("request timeouts (finding 7)", () => {
  it("answers slow headers with 408 JSON and closes, within the headers timeout", async () => {
    // Prepare
    const { socket, received } = await rawConnection(gateway.url);
    const started = Date.now();

    // Act: one header line every 200 ms, never the blank line
    socket.write("GET /api/health HTTP/1.1\r\nhost: localhost\r\n");
    const trickle = setInterval(() => socket.writable && socket.write("x-slow: 1\r\n"), 200);
    const bytes = await received.finally(() => clearInterval(trickle));
    const elapsed = Date.now() - started;

    // Assess
    const answer = firstAnswer(bytes);
    expect(answer.status).toBe(408);
    expect(answer.head).toMatch(/\r\nconnection: close/i);
    expect(answer.json).toEqual({
      error: { code: "request_timeout", message: "The request did not arrive in time." },
    });
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUTS.headersMs);
    expect(elapsed).toBeLessThan(TIMEOUTS.headersMs + 3_000);
  });

  it("answers a slow body with 408 JSON and closes, within the request timeout", async () => {
    // Prepare
    const { socket, received } = await rawConnection(gateway.url);
    const started = Date.now();

    // Act: a declared 100 KB body, 10 bytes every 100 ms
    socket.write(
      `POST ${ENTRY}/uploads HTTP/1.1\r\nhost: localhost\r\nauthorization: ${alice.authorization}\r\n` +
        "content-type: application/json\r\ncontent-length: 100000\r\n\r\n",
    );
    const trickle = setInterval(() => socket.writable && socket.write("          "), 100);
    const bytes = await received.finally(() => clearInterval(trickle));
    const elapsed = Date.now() - started;

    // Assess
    const answer = firstAnswer(bytes);
    expect(answer.status).toBe(408);
    expect(answer.json).toMatchObject({ error: { code: "request_timeout" } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(logs).not.toContainEqual(expect.objectContaining({ event: "local_gateway_failure" }));
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUTS.requestMs);
    expect(elapsed).toBeLessThan(TIMEOUTS.requestMs + 3_000);
  });
});

describe("the origin routes on the path alone (finding 8)", () => {
  it("refuses a Host that carries a path, so a one-image DELETE never becomes an entry delete", async () => {
    // Prepare: two images in the entry
    const connection = new OneConnection(gateway.url);
    try {
      const first = await upload(connection, 11);
      const second = await upload(connection, 12);

      // Act: the Host would make the origin's URL `…/entries/lisbon-2026/images?/images/{first}`
      const tricked = await connection.send({
        method: "DELETE",
        path: `${ENTRY}/images/${first.id}`,
        headers: {
          host: "localhost/api/journals/alice-travel/entries/lisbon-2026/images?",
          authorization: alice.authorization,
        },
      });
      const afterTrick = await listed(connection);
      const honest = await connection.send({
        method: "DELETE",
        path: `${ENTRY}/images/${first.id}`,
        headers: { authorization: alice.authorization },
      });
      const afterDelete = await listed(connection);

      // Assess
      expect(tricked.status).toBe(400);
      expect(JSON.parse(tricked.body.toString())).toEqual({
        error: { code: "invalid_host", message: "The Host header is not a host name." },
      });
      expect(afterTrick).toEqual(expect.arrayContaining([first.id, second.id]));
      expect(honest.status).toBe(204);
      expect(afterDelete).toContain(second.id);
      expect(afterDelete).not.toContain(first.id);
    } finally {
      connection.close();
    }
  });

  it("answers a malformed Host with 400 JSON, not a 500", async () => {
    // Prepare
    const connection = new OneConnection(gateway.url);

    try {
      // Act
      const spaced = await connection.send({ path: "/api/health", headers: { host: "a b" } });

      // Assess
      expect(spaced.status).toBe(400);
      expect(spaced.headers["cache-control"]).toBe("no-store");
      expect(JSON.parse(spaced.body.toString())).toMatchObject({ error: { code: "invalid_host" } });
    } finally {
      connection.close();
    }
  });

  it("answers two Host headers with 400 JSON", async () => {
    // Prepare
    const { socket, received } = await rawConnection(gateway.url);

    // Act
    socket.write(
      "GET /api/health HTTP/1.1\r\nhost: localhost\r\nhost: elsewhere.example\r\nconnection: close\r\n\r\n",
    );
    const answer = firstAnswer(await received);

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ error: { code: "invalid_host" } });
  });

  it("answers an HTTP/1.1 request without Host with 400 JSON", async () => {
    // Prepare
    const { socket, received } = await rawConnection(gateway.url);

    // Act
    socket.write("GET /api/health HTTP/1.1\r\nconnection: close\r\n\r\n");
    const answer = firstAnswer(await received);

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({
      error: { code: "invalid_host", message: "An HTTP/1.1 request needs a Host header." },
    });
  });

  it("builds a ticket's form URL from PUBLIC_URL, whatever Host the caller sends", async () => {
    // Prepare
    const connection = new OneConnection(gateway.url);

    try {
      // Act
      const answer = await connection.send({
        method: "POST",
        path: `${ENTRY}/uploads`,
        headers: {
          host: "attacker.example:8443",
          authorization: alice.authorization,
          "content-type": "application/json",
        },
        body: Buffer.from(JSON.stringify({ name: "big", size: 2_000_000 })),
      });

      // Assess
      expect(answer.status).toBe(201);
      const ticket = JSON.parse(answer.body.toString()) as IssuedTicket;
      expect(ticket.upload.url).toBe(`${PUBLIC_URL}/_local/s3/${gateway.storage.bucket}`);
      expect(gateway.uploadFormUrl).toBe(ticket.upload.url);
    } finally {
      connection.close();
    }
  });
});
