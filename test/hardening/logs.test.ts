import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRANT_HEADER } from "../../contract/constants";
import { parseSigningKeys } from "../../contract/keyLoaders";
import {
  type LocalGateway,
  type OriginFactory,
  startLocalGateway,
} from "../../infra/local/gateway/LocalGateway";
import { createLocalOrigin } from "../../infra/local/gateway/localOrigin";
import type { ImageRecord } from "../../origin/domain/ports";
import { BugoutApiDouble } from "../support/bugoutApi";
import { pngBytes, svg } from "../support/images";
import { FaultyJournalsApi } from "../support/journalsApi";
import { uploadForm } from "../support/origin";

/**
 * A full flow through the local gateway, failures included (a journals API outage and hang, a Bugout
 * outage, refused tokens, a forged grant), with everything the process logs captured: the gateway's log
 * and every write to standard output and error. Nothing captured holds a credential, an access token, a
 * grant, a signing key or the Bugout token, in any encoding they were used in.
 */

const ALICE = `Bearer alice-${randomBytes(18).toString("base64url")}`;
const BOB = `Bearer bob-${randomBytes(18).toString("base64url")}`;
/** Credentials asked about for the first time during an outage, so no remembered answer hides it. */
const CAROL = `Bearer carol-${randomBytes(18).toString("base64url")}`;
const DAVE = `Bearer dave-${randomBytes(18).toString("base64url")}`;
const BUGOUT_TOKEN = randomUUID();
const BUGOUT_APPLICATION = randomUUID();
const ENTRY = "/journals/journal-logs/entries/entry-logs";
const OTHER = "/journals/journal-logs/entries/entry-bob";

const journals = new FaultyJournalsApi({
  [ALICE]: ["journal-logs/entry-logs"],
  [BOB]: ["journal-logs/entry-bob"],
  [CAROL]: ["journal-logs/entry-logs"],
  [DAVE]: ["journal-logs/entry-logs"],
});
const bugout = new BugoutApiDouble(BUGOUT_TOKEN, BUGOUT_APPLICATION);
const logged: unknown[] = [];
const printed: string[] = [];
/** What the flow used that must never be written anywhere. */
const secrets = new Set<string>([
  ...[ALICE, BOB, CAROL, DAVE].flatMap((credential) => [credential, credential.slice("Bearer ".length)]),
  BUGOUT_TOKEN,
]);
let dataDir: string;
let gateway: LocalGateway;
let grants = 0;

/** Keeps every grant the edge handed the origin, as it crossed between them. */
const recordingGrants: OriginFactory = async (options) => {
  const origin = await createLocalOrigin(options);
  return {
    ...origin,
    fetch: (request) => {
      const grant = request.headers.get(GRANT_HEADER);
      if (grant) {
        grants += 1;
        addToken(grant);
      }
      return origin.fetch(request);
    },
  };
};

/** A token, and its signature alone: a log that cut it up would still give the signature away. */
function addToken(token: string): void {
  secrets.add(token);
  const signature = token.split(".")[2];
  if (signature) secrets.add(signature);
}

/** Captures what the process writes, for as long as the flow runs. */
function captureOutput(): () => void {
  const streams = [process.stdout, process.stderr] as const;
  const writes = streams.map((stream) => stream.write);
  for (const stream of streams) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      printed.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
  }
  const methods = ["log", "info", "warn", "error", "debug"] as const;
  const originals = methods.map((method) => console[method]);
  for (const method of methods) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      printed.push(args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
      original(...args);
    };
  }
  return () => {
    streams.forEach((stream, index) => {
      stream.write = writes[index] as typeof stream.write;
    });
    methods.forEach((method, index) => {
      console[method] = originals[index] as (typeof console)[typeof method];
    });
  };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "gateway-logs-"));
  const env = {
    DATA_DIR: dataDir,
    JOURNALS_API_URL: await journals.start(),
    JOURNALS_TIMEOUT_MS: "300",
    METADATA_STORE: "bugout",
    BUGOUT_API_URL: await bugout.start(),
    BUGOUT_APPLICATION_ID: BUGOUT_APPLICATION,
    BUGOUT_ACCESS_TOKEN: BUGOUT_TOKEN,
  };
  gateway = await startLocalGateway({
    env,
    createOrigin: recordingGrants,
    port: 0,
    log: (entry) => logged.push(structuredClone(entry)),
  });
  for (const { secret } of parseSigningKeys(await readFile(join(dataDir, "signing-keys.json"), "utf8"))) {
    const bytes = Buffer.from(secret);
    for (const encoding of ["base64url", "base64", "hex"] as const) secrets.add(bytes.toString(encoding));
  }
});

afterAll(async () => {
  await gateway?.close();
  await bugout.stop();
  await journals.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(`${gateway.url}${path}`, init);
  await response.arrayBuffer();
  return response;
}

async function accessToken(entry: string, authorization: string): Promise<string> {
  const response = await fetch(`${gateway.url}/api${entry}/access`, {
    method: "POST",
    headers: { authorization },
  });
  const { token } = (await response.json()) as { token: string };
  addToken(token);
  const cookie = response.headers.get("set-cookie") ?? "";
  secrets.add(cookie);
  return token;
}

describe("everything the gateway logs during a full flow, failures included", () => {
  it("holds no credential, access token, grant, signing key or Bugout token", async () => {
    // Prepare
    const restore = captureOutput();
    const statuses: number[] = [];
    try {
      // Act: the happy path
      const alice = { authorization: ALICE };
      statuses.push((await call("/api/health")).status);
      const token = await accessToken(ENTRY, ALICE);
      const bobsToken = await accessToken(OTHER, BOB);
      const upload = await fetch(`${gateway.url}/api${ENTRY}/images`, {
        method: "POST",
        headers: alice,
        body: uploadForm(pngBytes(8, 8, 1)),
      });
      const record = (await upload.json()) as ImageRecord;
      statuses.push(upload.status);
      const image = `${gateway.url}${record.url}`;
      statuses.push(
        (
          await call(`/api${ENTRY}/images`, {
            method: "POST",
            headers: alice,
            body: uploadForm(pngBytes(8, 8, 1)),
          })
        ).status,
      );
      statuses.push((await call(`/api${ENTRY}/images`, { headers: alice })).status);
      statuses.push((await fetch(`${image}?token=${token}`).then(drain)).status);
      statuses.push((await fetch(image, { headers: { cookie: `image_token=${token}` } }).then(drain)).status);
      statuses.push((await fetch(image, { headers: alice }).then(drain)).status);

      // Act: refusals
      statuses.push((await fetch(`${image}?token=${bobsToken}`).then(drain)).status);
      statuses.push((await fetch(`${image}?token=${token.slice(0, -2)}xx`).then(drain)).status);
      statuses.push((await fetch(image, { headers: { authorization: BOB } }).then(drain)).status);
      statuses.push((await call(`/api${ENTRY}/images`, { headers: { [GRANT_HEADER]: token } })).status);
      statuses.push(
        (await call(`/api${ENTRY}/images`, { headers: { ...alice, [GRANT_HEADER]: "forged.grant.value" } }))
          .status,
      );
      statuses.push(
        (await call(`/api${ENTRY}/images`, { method: "POST", headers: alice, body: uploadForm(svg()) }))
          .status,
      );

      // Act: outages, each of which is logged
      journals.behaviour = 500;
      statuses.push((await call(`/api${ENTRY}/images`, { headers: { authorization: CAROL } })).status);
      journals.behaviour = "hang";
      statuses.push((await call(`/api${ENTRY}/images`, { headers: { authorization: DAVE } })).status);
      journals.behaviour = "rules";
      bugout.failNext("POST");
      statuses.push(
        (
          await call(`/api${ENTRY}/images`, {
            method: "POST",
            headers: alice,
            body: uploadForm(pngBytes(8, 8, 2)),
          })
        ).status,
      );
      bugout.failNext("GET");
      statuses.push((await call(`/api${ENTRY}/images`, { headers: alice })).status);

      // Act: deletes
      statuses.push(
        (await call(`/api${ENTRY}/images/${record.id}`, { method: "DELETE", headers: alice })).status,
      );
      statuses.push((await call(`/api${ENTRY}/images`, { method: "DELETE", headers: alice })).status);
    } finally {
      restore();
    }

    // Assess: the flow really went through its paths, and logged them
    expect(statuses).toEqual([
      200, 201, 200, 200, 200, 200, 200, 403, 401, 403, 401, 200, 415, 502, 504, 502, 502, 204, 204,
    ]);
    const events = new Set(logged.map((entry) => (entry as { event?: string }).event));
    for (const event of ["request", "journals_failure", "request_failed"]) expect(events).toContain(event);
    expect(secrets.size).toBeGreaterThan(10);

    // Assess: not one of them in anything written (and the scan does find one that is)
    const everything = [JSON.stringify(logged), ...printed].join("\n");
    const leaked = (text: string) =>
      [...secrets].filter((secret) => secret.length >= 8 && text.includes(secret));
    console.info(
      `[logs] scanned ${logged.length} log entries and ${printed.length} writes for ${secrets.size} secrets ` +
        `(${grants} grants among them): ${leaked(everything).length} found`,
    );
    expect(grants).toBeGreaterThan(5);
    expect(leaked(`{"echo": "${ALICE}"}`)).not.toEqual([]);
    expect(leaked(everything)).toEqual([]);
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\.eyJ/);
    expect(everything).not.toMatch(/Bearer [A-Za-z0-9]/);
  }, 30_000);
});

async function drain(response: Response): Promise<Response> {
  await response.arrayBuffer();
  return response;
}
