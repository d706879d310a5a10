/**
 * Presigned upload benchmark. (1) A 10 MB PNG end to end through the local gateway: the ticket, the form
 * POST to the gateway's storage door, then polling until the finalize step reports it ready; side by
 * side in one run, interleaved, with a bare `PutObject` of the same bytes to the same S3-compatible
 * server, and, for reference, a bare form POST of them straight to it. (2) The finalize step's peak RSS growth on a staged 10 MB and 40 MB object, each in a fresh
 * child process that does nothing else (`finalizeMemory.ts`), against an S3-compatible server in a
 * process of its own, so that neither the bytes staged nor the server's buffers are counted.
 * `npx tsx test/bench/uploads.ts`, or part of `npm run bench`.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ROOT } from "../../infra/aws/bundle";
import { type Bytes, noisyPng, pngBytes } from "../support/images";
import { type IssuedTicket, postForm } from "../support/origin";
import { startDemoGateway } from "./demoGateway";
import { startS3ServerProcess } from "./origin";
import { fixed, median, report, timed } from "./stats";

const RUNS = Number(process.env.BENCH_UPLOAD_RUNS ?? 5);
const END_TO_END_BYTES = 10 * 1024 * 1024;
const MEMORY_SIZES = (process.env.BENCH_FINALIZE_MB ?? "10,40")
  .split(",")
  .map((mb) => Number(mb) * 1024 * 1024);
const POLL_MS = 10;
const MB = 1024 * 1024;

export async function benchUploads(): Promise<void> {
  const endToEnd = await benchEndToEnd();
  const memory = await benchFinalizeMemory();

  const phases = ["ticket", "form POST through the gateway", "then until ready"] as const;
  const total = endToEnd.runs.map((run) => run.reduce((sum, ms) => sum + ms, 0));
  console.log(`\nuploads: presigned upload of a ${endToEnd.bytes}-byte PNG, ${RUNS} runs each, interleaved`);
  report([
    ["(a) ticket + form POST + until ready", `median ${fixed(median(total), 0)} ms`, "(local gateway)"],
    ...phases.map((phase, index): [string, string] => [
      `    of which ${phase}`,
      `median ${fixed(median(endToEnd.runs.map((run) => run[index] ?? 0)), 0)} ms`,
    ]),
    ["(b) bare PutObject, same bytes", `median ${fixed(median(endToEnd.bareMs), 0)} ms`, "(baseline)"],
    [
      "(c) bare form POST, same bytes",
      `median ${fixed(median(endToEnd.bareFormMs), 0)} ms`,
      "(reference: what the server's form parsing alone costs)",
    ],
    ["(a)/(b) median ratio", `${fixed(median(total) / median(endToEnd.bareMs), 2)}×`, "(target ≤ 2×)"],
    ...memory.map(({ bytes, growth, streamGrowth, ms }): [string, string, string] => [
      `finalize peak RSS growth, ${bytes / MB} MB`,
      `${fixed(growth / MB, 1)} MB in ${fixed(ms, 0)} ms`,
      `(target ≤ 32 MB; a bare streamed GET + SHA-256 of the same object: ${fixed(streamGrowth / MB, 1)} MB)`,
    ]),
  ]);
  console.log(
    "  (RSS: the kernel's peak RSS of a child process running that alone, minus its RSS after a GC)",
  );
}

/**
 * End to end through the local gateway, phase by phase (ticket, form POST, then polling every 10 ms until
 * ready), and bare PutObjects to its S3-compatible server.
 */
async function benchEndToEnd(): Promise<{
  bytes: number;
  runs: number[][];
  bareMs: number[];
  bareFormMs: number[];
}> {
  const { gateway, entryUrl: entry, headers, stop } = await startDemoGateway("uploads");
  try {
    const presigned = async (bytes: Bytes): Promise<number[]> => {
      let mark = performance.now();
      const lap = () => {
        const now = performance.now();
        const ms = now - mark;
        mark = now;
        return ms;
      };
      const response = await fetch(`${entry}/uploads`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ name: "bench", size: bytes.byteLength }),
      });
      const ticket = (await response.json()) as IssuedTicket;
      const ticketMs = lap();
      const posted = await postForm(ticket.upload, bytes);
      if (posted.status !== 204) throw new Error(`the form POST answered ${posted.status}`);
      const postMs = lap();
      for (;;) {
        const status = (await (await fetch(`${entry}/uploads/${ticket.id}`, { headers })).json()) as {
          status: string;
        };
        if (status.status === "ready") break;
        if (status.status !== "pending") throw new Error(`upload ${status.status}`);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      return [ticketMs, postMs, lap()];
    };
    const bare = (bytes: Bytes) =>
      putObject(gateway.s3.client, gateway.s3.bucket, `bare/${randomUUID()}`, bytes);
    // Outside the staging prefix, so no finalize follows; the server checks no policy.
    const bareForm = async (bytes: Bytes) => {
      const upload = {
        url: `${gateway.s3.endpoint}/${gateway.s3.bucket}`,
        fields: { key: `bare/${randomUUID()}` },
      };
      const posted = await postForm(upload, bytes);
      if (posted.status !== 204) throw new Error(`the bare form POST answered ${posted.status}`);
    };

    // Every run carries bytes never seen before, so deduplication never short-circuits it.
    await presigned(noisyPng(END_TO_END_BYTES));
    await bare(noisyPng(END_TO_END_BYTES));
    await bareForm(noisyPng(END_TO_END_BYTES));
    const runs: number[][] = [];
    const bareMs: number[] = [];
    const bareFormMs: number[] = [];
    let bytes = 0;
    for (let run = 0; run < RUNS; run += 1) {
      const image = noisyPng(END_TO_END_BYTES);
      bytes = image.byteLength;
      runs.push(await presigned(image));
      bareMs.push(await timed(() => bare(image)));
      bareFormMs.push(await timed(() => bareForm(image)));
    }
    return { bytes, runs, bareMs, bareFormMs };
  } finally {
    await stop();
  }
}

/** The finalize step alone, per size, in a fresh child process each. */
async function benchFinalizeMemory(): Promise<
  { bytes: number; growth: number; streamGrowth: number; ms: number }[]
> {
  const dataDir = await mkdtemp(join(tmpdir(), "bench-finalize-"));
  const s3 = await startS3ServerProcess(join(dataDir, "s3"));
  try {
    const results = [];
    for (const size of MEMORY_SIZES) {
      const warmUp = stagingKey();
      const key = stagingKey();
      await putObject(s3.client, s3.bucket, warmUp, pngBytes(64, 64, size));
      const image = noisyPng(size);
      await putObject(s3.client, s3.bucket, key, image);
      const streamed = await runChild(["stream", s3.endpoint, s3.bucket, warmUp, key]);
      const measured = await runChild(["finalize", s3.endpoint, s3.bucket, warmUp, key]);
      if (measured.status !== "ready") throw new Error(`finalize of ${size} bytes ended ${measured.status}`);
      results.push({
        bytes: size,
        growth: measured.peak - measured.baseline,
        streamGrowth: streamed.peak - streamed.baseline,
        ms: measured.ms,
      });
    }
    return results;
  } finally {
    s3.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

interface ChildMeasure {
  readonly baseline: number;
  readonly peak: number;
  readonly ms: number;
  readonly status: string | undefined;
}

async function runChild(args: readonly string[]): Promise<ChildMeasure> {
  const script = join(ROOT, "test/bench/finalizeMemory.ts");
  const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", script, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`finalizeMemory.ts exited with ${code}`);
  return JSON.parse(output.trim().split("\n").at(-1) ?? "{}") as ChildMeasure;
}

function stagingKey(): string {
  return `incoming/bench-journal/entries/bench-entry/images/${randomUUID()}`;
}

async function putObject(client: S3Client, bucket: string, key: string, bytes: Uint8Array): Promise<void> {
  await client.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: "image/png" }),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchUploads();
