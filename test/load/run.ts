/**
 * `npm run load`: sustained mixed traffic against the local gateway, from autocannon.
 *
 * The gateway runs as its own process (`infra/local/start.ts` on a fresh `DATA_DIR`), so the memory
 * measured is the gateway's alone. Each connection repeats a cycle of 50 requests: 45 image reads with an
 * access token (90 %), 4 direct uploads of small PNGs no one sent before (8 %), and 1 delete of an image
 * the load itself uploaded (2 %). A warm-up at the same mix comes first; the resident set size is read
 * from `/proc` after it and at the end.
 *
 * Prints throughput, p50/p99 latency, the count of 5xx (target 0) and the RSS after warm-up and at the
 * end (target: end ≤ 1.2 × warm-up). Exits 1 when a target is missed.
 *
 * Shorter runs: `LOAD_DURATION_SECONDS` (30), `LOAD_WARMUP_SECONDS` (5), `LOAD_CONNECTIONS` (64).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import type { ImageRecord } from "../../origin/domain/ports";
import { demoUsers, residentBytes, startGatewayProcess } from "../support/gatewayProcess";
import { pngBytes } from "../support/images";

const DURATION_SECONDS = positive("LOAD_DURATION_SECONDS", 30);
const WARMUP_SECONDS = positive("LOAD_WARMUP_SECONDS", 5);
const CONNECTIONS = positive("LOAD_CONNECTIONS", 64);
const IMAGES_PER_ENTRY = 20;
const MAX_RSS_GROWTH = 1.2;
/** One connection's cycle: where its 4 uploads and 1 delete sit among 45 reads. */
const CYCLE = 50;
const UPLOAD_AT = new Set([7, 19, 31, 43]);
const DELETE_AT = 25;
const BOUNDARY = "----image-gateway-load";

function positive(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number.`);
  return value;
}

type Kind = "read" | "upload" | "delete";

async function main(): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), "gateway-load-"));
  const gateway = await startGatewayProcess({ DATA_DIR: dataDir, TOKEN_TTL_SECONDS: "3600" });
  const pid = gateway.child.pid as number;
  try {
    // Prepare: a gallery to read, with a token per entry
    const [alice] = await demoUsers(dataDir);
    if (!alice) throw new Error("The gateway made no demo user.");
    const journal = alice.journals[0];
    const entries = (journal?.entries ?? []).map((entry) => `/journals/${journal?.id}/entries/${entry.id}`);
    const auth = { authorization: alice.authorization };
    const gallery: string[] = [];
    let seed = 0;
    for (const entry of entries) {
      const token = (await (await post(`${gateway.url}/api${entry}/access`, auth)).json()) as {
        token: string;
      };
      for (let index = 0; index < IMAGES_PER_ENTRY; index += 1) {
        seed += 1;
        const response = await post(
          `${gateway.url}/api${entry}/images`,
          { ...auth, ...formHeaders() },
          form(seed),
        );
        const record = (await response.json()) as ImageRecord;
        gallery.push(`${record.url}?token=${token.token}`);
      }
    }

    // The mix: counters per kind and status, uploads feed the deletes
    const counts = new Map<string, number>();
    const count = (kind: Kind, status: number) => {
      const key = `${kind} ${status}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    };
    const deletable: string[] = [];
    let reads = 0;
    const requests: autocannon.Request[] = Array.from({ length: CYCLE }, (_, position) => {
      if (UPLOAD_AT.has(position)) {
        return {
          method: "POST",
          setupRequest: (request) => {
            seed += 1;
            const entry = entries[seed % entries.length];
            return {
              ...request,
              path: `/api${entry}/images`,
              headers: { ...auth, ...formHeaders() },
              body: form(seed),
            };
          },
          onResponse: (status, body) => {
            count("upload", status);
            if (status === 201) deletable.push((JSON.parse(body) as ImageRecord).url);
          },
        };
      }
      if (position === DELETE_AT) {
        return {
          method: "DELETE",
          setupRequest: (request) => {
            // An image the load uploaded itself; the gallery the reads use stays whole.
            const url = deletable.shift() ?? `${entries[0]}/images/00000000-0000-4000-8000-000000000000`;
            return { ...request, path: `/api${url}`, headers: auth };
          },
          onResponse: (status) => count("delete", status),
        };
      }
      return {
        method: "GET",
        setupRequest: (request) => {
          reads += 1;
          return { ...request, path: gallery[reads % gallery.length] as string, headers: {} };
        },
        onResponse: (status) => count("read", status),
      };
    });
    const run = (seconds: number) =>
      autocannon({ url: gateway.url, connections: CONNECTIONS, duration: seconds, requests });

    // Act
    console.log(`warming up for ${WARMUP_SECONDS} s at ${CONNECTIONS} connections ...`);
    await run(WARMUP_SECONDS);
    const warmRss = await residentBytes(pid);
    counts.clear();
    console.log(`loading for ${DURATION_SECONDS} s at ${CONNECTIONS} connections ...`);
    const samples: number[] = [];
    const sampler = setInterval(() => {
      residentBytes(pid).then(
        (bytes) => samples.push(bytes),
        () => undefined,
      );
    }, 1000);
    const result = await run(DURATION_SECONDS);
    clearInterval(sampler);
    const endRss = await residentBytes(pid);

    // Assess
    const ratio = endRss / warmRss;
    const total = result.requests.total;
    const byKind = (kind: Kind) =>
      [...counts].filter(([key]) => key.startsWith(kind)).reduce((sum, [, n]) => sum + n, 0);
    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
    const lines = [
      "",
      `image gateway under load: ${DURATION_SECONDS} s, ${CONNECTIONS} connections (autocannon ${autocannonVersion()})`,
      `  requests      ${total} (${share(byKind("read"), total)} token reads, ${share(byKind("upload"), total)} uploads, ${share(byKind("delete"), total)} deletes)`,
      `  throughput    ${result.requests.average.toFixed(0)} req/s, ${mb(result.throughput.average)}/s`,
      `  latency       p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`,
      `  5xx           ${result["5xx"]} (target 0); errors ${result.errors}, timeouts ${result.timeouts}`,
      `  statuses      ${[...counts]
        .sort()
        .map(([key, n]) => `${key}: ${n}`)
        .join(", ")}`,
      `  RSS           ${mb(warmRss)} after warm-up, ${mb(endRss)} at the end: ×${ratio.toFixed(2)} (target ≤ ${MAX_RSS_GROWTH}); peak ${mb(Math.max(endRss, ...samples))}`,
      "",
    ];
    console.log(lines.join("\n"));
    const missed = result["5xx"] > 0 || result.errors > 0 || ratio > MAX_RSS_GROWTH;
    if (missed) console.error("A target was missed.");
    return missed ? 1 : 0;
  } finally {
    gateway.child.kill("SIGTERM");
    await gateway.exited();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function share(part: number, whole: number): string {
  return `${((part / Math.max(1, whole)) * 100).toFixed(1)} %`;
}

function formHeaders(): Record<string, string> {
  return { "content-type": `multipart/form-data; boundary=${BOUNDARY}` };
}

/** A multipart upload of a small PNG that no other request sends. */
function form(seed: number): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="load-${seed}.png"\r\n` +
        "Content-Type: image/png\r\n\r\n",
    ),
    pngBytes(8, 8, seed),
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

async function post(url: string, headers: Record<string, string>, body?: Buffer): Promise<Response> {
  const response = await fetch(url, { method: "POST", headers, body: body && new Uint8Array(body) });
  if (!response.ok) throw new Error(`POST ${url} answered ${response.status}: ${await response.text()}`);
  return response;
}

function autocannonVersion(): string {
  return (autocannon as unknown as { version?: string }).version ?? "8";
}

process.exitCode = await main();
