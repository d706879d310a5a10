/**
 * Upload benchmarks, each side by side in one run with a baseline, the client in a process of its own
 * (`uploadClient.ts`) and the gateway too (`npm start`'s own entry point, in a child process):
 * (1) a ~900 KB direct upload through the gateway against a node:http server that only drains the body,
 * and against one that only writes it durably, as the file store writes every object (the floor of any
 * upload that is answered once its bytes are on disk);
 * (2) a 10 MB presigned upload end to end (ticket, form POST to the gateway's storage door, polling until
 * the finalize step reports it ready) against a bare write of the same form through a node:http server
 * to disk; (3) the finalize step's peak RSS growth on a staged 10 MB and 40 MB object, each in a fresh
 * child process that does nothing else (`finalizeMemory.ts`), against an S3-compatible server in a
 * process of its own. `npx tsx test/bench/uploads.ts`, or part of `npm run bench`.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, open, rename, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ROOT } from "../../infra/aws/bundle";
import { close, listen } from "../../infra/local/gateway/listen";
import { demoUsers, startGatewayProcess } from "../support/gatewayProcess";
import { noisyPng, pngBytes } from "../support/images";
import { startS3ServerProcess } from "./origin";
import { fixed, median, pairedRatio, report } from "./stats";
import type { UploadPlan } from "./uploadClient";

const DIRECT_RUNS = Number(process.env.BENCH_DIRECT_UPLOAD_RUNS ?? 100);
const PRESIGNED_RUNS = Number(process.env.BENCH_UPLOAD_RUNS ?? 15);
const DIRECT_BYTES = 900 * 1024;
const END_TO_END_BYTES = 10 * 1024 * 1024;
const MEMORY_SIZES = (process.env.BENCH_FINALIZE_MB ?? "10,40")
  .split(",")
  .map((mb) => Number(mb) * 1024 * 1024);
const MB = 1024 * 1024;

export async function benchUploads(): Promise<void> {
  const { direct, presigned } = await benchThroughGateway();
  const memory = await benchFinalizeMemory();

  const ratio = (a: readonly number[], b: readonly number[]) => `${fixed(median(a) / median(b), 2)}×`;
  // Judged pair by pair (each run sends both cases back to back), with the ratio of medians beside it.
  const paired = (a: readonly number[], b: readonly number[], target: string): [string, string] => [
    `${fixed(pairedRatio(a, b), 2)}×`,
    `(${target}; the ratio of the two medians: ${ratio(a, b)})`,
  ];
  console.log(
    `\nuploads: ${DIRECT_BYTES / 1024} KB direct upload, ${DIRECT_RUNS} runs each, interleaved, the client in its own process`,
  );
  report([
    ["(a) POST …/images through npm start", `median ${fixed(median(direct.gateway), 1)} ms`],
    ["(b) a node:http server that only drains", `median ${fixed(median(direct.drain), 1)} ms`, "(baseline)"],
    [`(a)/(b), median of the ${DIRECT_RUNS} pairs`, ...paired(direct.gateway, direct.drain, "target ≤ 2.5×")],
    [
      "(c) the same POST refused as 415",
      `median ${fixed(median(direct.refused), 1)} ms`,
      `(${ratio(direct.refused, direct.drain)} of (b): everything but the image check and the durable write)`,
    ],
    [
      "(d) a node:http server that writes it durably",
      `median ${fixed(median(direct.durable), 1)} ms`,
      `(${ratio(direct.durable, direct.drain)} of (b): the write alone, as the store makes it)`,
    ],
    [
      `(a)/(d), median of the ${DIRECT_RUNS} pairs`,
      ...paired(direct.gateway, direct.durable, "the gateway against that floor"),
    ],
  ]);
  console.log(
    `\nuploads: ${END_TO_END_BYTES / MB} MB presigned upload end to end, ${PRESIGNED_RUNS} runs each, interleaved`,
  );
  report([
    [
      "(a) ticket + form POST + until ready",
      `median ${fixed(median(presigned.gateway), 0)} ms`,
      "(npm start)",
    ],
    [
      "(b) bare node:http write to disk",
      `median ${fixed(median(presigned.disk), 0)} ms`,
      "(baseline, same form bytes)",
    ],
    [
      `(a)/(b), median of the ${PRESIGNED_RUNS} pairs`,
      ...paired(presigned.gateway, presigned.disk, "target ≤ 2×"),
    ],
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

/** Both upload routes through `npm start`, each beside its baseline server, from one client process. */
async function benchThroughGateway(): Promise<{
  direct: { gateway: number[]; drain: number[]; refused: number[]; durable: number[] };
  presigned: { gateway: number[]; disk: number[] };
}> {
  const dataDir = await mkdtemp(join(tmpdir(), "bench-uploads-"));
  const gateway = await startGatewayProcess({ DATA_DIR: dataDir });
  const [alice] = await demoUsers(dataDir);
  const entryUrl = `${gateway.url}/api/journals/alice-travel/entries/lisbon-2026`;
  const headers = { authorization: alice?.authorization ?? "" };
  const drain = await baseline((request, response) => {
    request.resume();
    request.once("end", () => {
      response.writeHead(201, { "content-type": "application/json" });
      response.end("{}");
    });
  });
  // What the file store does for every object, and nothing else: the body whole, then a temporary file
  // written and flushed, renamed into place, and the directory flushed so the rename lasts.
  const durable = await baseline(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const temp = join(dataDir, `durable-${randomUUID()}`);
    const file = await open(temp, "wx");
    try {
      await file.writeFile(Buffer.concat(chunks));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, `${temp}.png`);
    const directory = await open(dataDir, "r");
    await directory.sync().finally(() => directory.close());
    response.writeHead(201, { "content-type": "application/json" });
    response.end("{}");
  });
  const disk = await baseline(async (request, response) => {
    await pipeline(request, createWriteStream(join(dataDir, `bare-${randomUUID()}`)));
    response.writeHead(204);
    response.end();
  });
  try {
    const direct = await runClient({
      bytes: DIRECT_BYTES,
      runs: DIRECT_RUNS,
      warmUp: 3,
      cases: [
        { kind: "form", name: "gateway", url: `${entryUrl}/images`, headers },
        { kind: "form", name: "drain", url: drain.url },
        // The same request refused at the type check (415): edge, ALB, grant and form parse, no image work.
        { kind: "form", name: "refused", url: `${entryUrl}/images`, headers, expectStatus: 415, noise: true },
        { kind: "form", name: "durable", url: durable.url },
      ],
    });
    const presigned = await runClient({
      bytes: END_TO_END_BYTES,
      runs: PRESIGNED_RUNS,
      warmUp: 1,
      cases: [
        { kind: "presigned", name: "gateway", entryUrl, headers },
        { kind: "form", name: "disk", url: disk.url },
      ],
    });
    return {
      direct: {
        gateway: direct.gateway ?? [],
        drain: direct.drain ?? [],
        refused: direct.refused ?? [],
        durable: direct.durable ?? [],
      },
      presigned: { gateway: presigned.gateway ?? [], disk: presigned.disk ?? [] },
    };
  } finally {
    gateway.child.kill("SIGTERM");
    await gateway.exited();
    await drain.stop();
    await durable.stop();
    await disk.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** A bare node:http server on loopback with `handle` as its only code. */
async function baseline(
  handle: (request: IncomingMessage, response: ServerResponse) => void | Promise<void>,
): Promise<{ url: string; stop(): Promise<void> }> {
  const server = createServer((request, response) => {
    Promise.resolve(handle(request, response)).catch(() => response.destroy());
  });
  const port = await listen(server, 0);
  return { url: `http://127.0.0.1:${port}/`, stop: () => close(server) };
}

/**
 * Runs `uploadClient.ts` on `plan` in a child process and returns its times. The client's garbage
 * collector runs on its main thread alone: with its default helper threads, marking the megabytes each
 * upload allocates took the machine's second core while the gateway worked, and made the gateway's
 * median bimodal (p90 28 ms against 14 ms, p50 anywhere from 12 to 23 ms on this 2-core machine). A
 * client on another machine competes for nothing; this one now competes far less.
 */
function runClient(plan: UploadPlan): Promise<Record<string, number[]>> {
  return runScript("uploadClient.ts", [JSON.stringify(plan)], ["--single-threaded-gc"]);
}

/**
 * Runs a script of this folder in a process of its own (with `nodeArgs` for node) and answers the JSON
 * of the last line it printed.
 */
async function runScript<T>(
  name: string,
  args: readonly string[],
  nodeArgs: readonly string[] = [],
): Promise<T> {
  const script = join(ROOT, "test/bench", name);
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", script, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`${name} exited with ${code}`);
  return JSON.parse(output.trim().split("\n").at(-1) ?? "{}") as T;
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

function runChild(args: readonly string[]): Promise<ChildMeasure> {
  return runScript("finalizeMemory.ts", args, ["--expose-gc"]);
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
