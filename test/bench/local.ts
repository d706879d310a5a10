/**
 * Local gateway benchmark: token reads of a 100 KB image through the whole gateway (edge decision, then
 * the bucket on disk) at concurrency 16, beside a bare node:http server answering the same bytes from
 * memory in the same run; then the time from `npm start` to its first healthy answer.
 */
import { spawn } from "node:child_process";
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
import { startDemoGateway } from "./demoGateway";
import { fixed, median, report } from "./stats";

const DURATION_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);
const CONNECTIONS = 16;
const START_RUNS = 3;

export async function benchLocal(): Promise<void> {
  const { gateway, entryUrl, headers, stop } = await startDemoGateway("local");
  try {
    const uploaded = await fetch(`${entryUrl}/images`, {
      method: "POST",
      headers,
      body: uploadForm(noisyPng(100 * 1024)),
    });
    const record = (await uploaded.json()) as { url: string; size: number; id: string };
    const { token } = (await (await fetch(`${entryUrl}/access`, { method: "POST", headers })).json()) as {
      token: string;
    };
    const key = `dev${record.url.slice("/journals".length)}`;

    const bare = await serveFromMemory((await gateway.storage.images.get(key))?.bytes ?? new Uint8Array());
    const direct = await load(bare.url).finally(() => bare.stop());
    const viaGateway = await load(`${gateway.url}${record.url}?token=${token}`);
    const startMs = await timeStarts();

    console.log(
      `\nlocal gateway: GET of a ${record.size}-byte image, ${CONNECTIONS} connections, ${DURATION_SECONDS} s each`,
    );
    const row = (label: string, result: autocannon.Result): [string, string] => [
      label,
      `${fixed(result.requests.average, 0)} req/s  p50 ${result.latency.p50} ms  p99 ${result.latency.p99} ms  non-2xx ${result.non2xx}  errors ${result.errors}`,
    ];
    report([
      row("through the gateway (token)", viaGateway),
      row("bare node:http, same bytes, memory", direct),
      [
        "gateway / direct",
        `${fixed(viaGateway.requests.average / direct.requests.average, 2)}×`,
        "(target ≥ 0.7×)",
      ],
      [
        "npm start → first healthy answer",
        `median ${fixed(median(startMs), 0)} ms over ${START_RUNS} starts (${startMs.map((ms) => fixed(ms, 0)).join(", ")})`,
        "(target ≤ 5000 ms)",
      ],
    ]);
  } finally {
    await stop();
  }
}

/** A bare node:http server answering every request with `bytes`: the machine's own ceiling. */
async function serveFromMemory(bytes: Uint8Array): Promise<{ url: string; stop(): Promise<void> }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "image/png", "content-length": bytes.byteLength });
    response.end(bytes);
  });
  const port = await listen(server, 0);
  return { url: `http://127.0.0.1:${port}/`, stop: () => close(server) };
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
