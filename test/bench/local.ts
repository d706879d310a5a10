/**
 * Local gateway benchmark: token reads of a 100 KB image through the whole gateway (edge decision, then
 * the played CloudFront) at 16 keep-alive connections, side by side in one run with a bare node:http
 * server answering the same bytes from memory: hot (every read a hit in the played cache) and cold (the
 * cache off, so every read is a first read from the store). Then the time from `npm start` to its first
 * healthy answer. The load generator runs in a process of its own.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type autocannon from "autocannon";
import { ROOT } from "../../infra/aws/bundle";
import { close, listen } from "../../infra/local/gateway/listen";
import { noisyPng } from "../support/images";
import { uploadForm } from "../support/origin";
import { type DemoGateway, startDemoGateway } from "./demoGateway";
import { fixed, median, report } from "./stats";

const DURATION_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 5);
/** Each target is driven this many times, in turn with the others, so a busy spell hits all alike. */
const ROUNDS = 3;
const CONNECTIONS = 16;
const START_RUNS = 3;
const IMAGE_BYTES = 100 * 1024;

export async function benchLocal(): Promise<void> {
  const image = noisyPng(IMAGE_BYTES);
  const hot = await startDemoGateway("local-hot");
  const cold = await startDemoGateway("local-cold", { cdnCacheBytes: 0 });
  try {
    const hotUrl = await tokenUrl(hot, image);
    const coldUrl = await tokenUrl(cold, image);
    const stored = Buffer.from(await (await fetch(hotUrl)).arrayBuffer());
    const bare = await bareServer(stored);

    const runs = { bare: [] as Run[], hot: [] as Run[], cold: [] as Run[] };
    for (let round = 0; round < ROUNDS; round += 1) {
      runs.bare.push(toRun(await load(bare.url)));
      runs.hot.push(toRun(await load(hotUrl)));
      runs.cold.push(toRun(await load(coldUrl)));
    }
    await bare.close();
    const bareResult = medianRun(runs.bare);
    const hotResult = medianRun(runs.hot);
    const coldResult = medianRun(runs.cold);
    const cache = hot.gateway.cdnCache();
    const startMs = await timeStarts();

    console.log(
      `\nlocal gateway: token GET of a ${stored.byteLength}-byte image, ${CONNECTIONS} keep-alive connections, ` +
        `medians of ${ROUNDS} interleaved runs of ${DURATION_SECONDS} s, autocannon in its own process`,
    );
    const row = (label: string, run: Run): [string, string] => [
      label,
      `${fixed(run.requestsPerSecond, 0)} req/s  p50 ${run.p50Ms} ms  p99 ${run.p99Ms} ms`,
    ];
    const ratio = (run: Run) => `${fixed(run.requestsPerSecond / bareResult.requestsPerSecond, 2)}×`;
    report([
      row("bare node:http, same bytes from memory", bareResult),
      row("gateway, hot (played CloudFront cache)", hotResult),
      row("gateway, cold (cache off: every read from the store)", coldResult),
      ["hot / bare", ratio(hotResult), "(target ≥ 0.6×)"],
      ["cold / bare", ratio(coldResult)],
      [
        "played cache after the hot run",
        `${cache.entries} entries, ${cache.bytes} of ${cache.maxBytes} bytes, ${cache.hits} hits, ${cache.misses} misses`,
      ],
      [
        "npm start → first healthy answer",
        `median ${fixed(median(startMs), 0)} ms over ${START_RUNS} starts (${startMs.map((ms) => fixed(ms, 0)).join(", ")})`,
        "(target ≤ 5000 ms)",
      ],
    ]);
  } finally {
    await hot.stop();
    await cold.stop();
  }
}

/** What one autocannon run measured. */
interface Run {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function toRun(result: autocannon.Result): Run {
  return { requestsPerSecond: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99 };
}

/** Each figure's median over the runs. */
function medianRun(runs: readonly Run[]): Run {
  return {
    requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
    p50Ms: median(runs.map((run) => run.p50Ms)),
    p99Ms: median(runs.map((run) => run.p99Ms)),
  };
}

/** Uploads `image` as the demo user and answers its URL with a fresh access token. */
async function tokenUrl(
  { gateway, entryUrl, headers }: DemoGateway,
  image: Uint8Array<ArrayBuffer>,
): Promise<string> {
  const uploaded = await fetch(`${entryUrl}/images`, { method: "POST", headers, body: uploadForm(image) });
  if (uploaded.status !== 201) throw new Error(`The benchmark upload failed: ${uploaded.status}`);
  const record = (await uploaded.json()) as { url: string };
  const access = await fetch(`${entryUrl}/access`, { method: "POST", headers });
  const { token } = (await access.json()) as { token: string };
  return `${gateway.url}${record.url}?token=${token}`;
}

/** The baseline: node:http answering every GET with the same bytes from memory, as an image server at best. */
async function bareServer(bytes: Buffer): Promise<{ url: string; close(): Promise<void> }> {
  const etag = `"${createHash("md5").update(bytes).digest("hex")}"`;
  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "image/png", "content-length": bytes.byteLength, etag });
    response.end(bytes);
  });
  const port = await listen(server, 0);
  return { url: `http://127.0.0.1:${port}/image.png`, close: () => close(server) };
}

/**
 * Drives `url` with autocannon in a process of its own, so the load generator does not share the
 * gateway's event loop; a short warm-up first opens connections and warms the JIT.
 */
async function load(url: string): Promise<autocannon.Result> {
  await runAutocannon(url, 1);
  const result = await runAutocannon(url, DURATION_SECONDS);
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  }
  return result;
}

async function runAutocannon(url: string, seconds: number): Promise<autocannon.Result> {
  const cli = join(ROOT, "node_modules/autocannon/autocannon.js");
  const args = [cli, "--json", "-c", String(CONNECTIONS), "-d", String(seconds), url];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "ignore"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`autocannon exited with ${code}`);
  return JSON.parse(output) as autocannon.Result;
}

/** Runs `npm start` as a user would, on a fresh DATA_DIR and a free port, until `/api/health` answers. */
async function timeStarts(): Promise<number[]> {
  const times: number[] = [];
  for (let run = 0; run < START_RUNS; run += 1) {
    const dataDir = await mkdtemp(join(tmpdir(), "bench-start-"));
    const port = 18_080 + run;
    const started = performance.now();
    const child = spawn("npm", ["start"], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir, PORT: String(port) },
      stdio: "ignore",
      detached: true,
    });
    try {
      for (;;) {
        if (performance.now() - started > 30_000) throw new Error("npm start did not answer within 30 s");
        const healthy = await fetch(`http://127.0.0.1:${port}/api/health`).then(
          (response) => response.ok,
          () => false,
        );
        if (healthy) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      times.push(performance.now() - started);
    } finally {
      // npm runs the gateway in a child of its own: signal the whole group.
      process.kill(-(child.pid as number), "SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return times;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchLocal();
