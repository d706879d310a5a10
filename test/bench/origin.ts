/**
 * Origin benchmark: a direct upload of a ~900 KB PNG through the origin app (`app.request` with a real
 * `FormData`, grant check, multipart parsing, type sniffing, SHA-256, S3-compatible storage and SQLite),
 * measured side by side in one run with a bare `PutObject` of the same bytes; then the resident memory one
 * upload adds. `npx tsx test/bench/origin.ts`, or part of `npm run bench`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { GRANT_HEADER } from "../../contract/constants";
import { KeyRing } from "../../contract/KeyRing";
import { signGrant } from "../../contract/tokens";
import { noInvalidation } from "../../origin/adapters/CloudFrontInvalidator";
import { S3ImageStore } from "../../origin/adapters/S3ImageStore";
import { S3UploadSigner } from "../../origin/adapters/S3UploadSigner";
import { SqliteMetadataStore } from "../../origin/adapters/SqliteMetadataStore";
import { resolveOriginConfig } from "../../origin/config";
import { createApp } from "../../origin/http/app";
import { makeKey } from "../support/edge";
import { noisyPng } from "../support/images";
import { imagesPath, uploadForm } from "../support/origin";
import { TEST_BUCKET, testS3Client } from "../support/s3Server";
import { fixed, median, memoryStatus, report, resetPeakRss, timed } from "./stats";

const ITERATIONS = Number(process.env.BENCH_ORIGIN_ITERATIONS ?? 60);
const WARMUP = 5;
const CONCURRENT_UPLOADS = 8;
const FILE_BYTES = 900 * 1024;
const ENTRY = { journalId: "bench-journal", entryId: "bench-entry" };

export async function benchOrigin(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "origin-bench-"));
  const s3 = await startS3ServerProcess(join(dataDir, "s3"));
  const metadata = await SqliteMetadataStore.open(join(dataDir, "metadata.sqlite"));
  const ring = await KeyRing.create([makeKey("bench")]);
  const app = createApp({
    config: resolveOriginConfig({
      bucketName: s3.bucket,
      signingKeys: { type: "env", variable: "UNUSED" },
      dataDir,
    }),
    keys: async () => ring,
    images: new S3ImageStore(s3.client, s3.bucket),
    metadata,
    uploadSigner: new S3UploadSigner(s3.client, s3.bucket),
    invalidator: noInvalidation,
    log: () => undefined,
    now: Date.now,
    uuid: randomUUID,
  });
  const path = imagesPath(ENTRY);
  // Every upload carries bytes never seen before, so deduplication never short-circuits it.
  const upload = async (bytes: Uint8Array<ArrayBuffer>) => {
    const { token } = await signGrant(ring, { ...ENTRY, method: "POST", path }, Date.now() / 1000);
    const response = await app.request(path, {
      method: "POST",
      body: uploadForm(bytes),
      headers: { [GRANT_HEADER]: token },
    });
    if (response.status !== 201)
      throw new Error(`upload answered ${response.status}: ${await response.text()}`);
  };
  const putObject = (bytes: Uint8Array) =>
    s3.client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: `bare/${randomUUID()}`,
        Body: bytes,
        ContentType: "image/png",
      }),
    );

  try {
    // Memory first, before this process has uploaded anything: what uploads add, first-use costs included.
    const growth = await rssGrowthPerUpload(upload);

    let fileBytes = 0;
    for (let index = 0; index < WARMUP; index += 1) {
      await upload(noisyPng(FILE_BYTES));
      await putObject(noisyPng(FILE_BYTES));
    }
    // Alternating the two keeps them side by side: any drift of the machine touches both alike.
    const originMs: number[] = [];
    const bareMs: number[] = [];
    for (let index = 0; index < ITERATIONS; index += 1) {
      const bytes = noisyPng(FILE_BYTES);
      fileBytes = bytes.byteLength;
      originMs.push(await timed(() => upload(bytes)));
      bareMs.push(await timed(() => putObject(noisyPng(FILE_BYTES))));
    }
    const ratio = median(originMs) / median(bareMs);
    const multiple = growth / fileBytes;
    console.log(`\norigin: direct upload of a ${fileBytes}-byte PNG, ${ITERATIONS} runs each, interleaved`);
    report([
      ["(a) upload through the origin app", `median ${fixed(median(originMs), 2)} ms`, "(s3rver + SQLite)"],
      ["(b) bare PutObject, same size", `median ${fixed(median(bareMs), 2)} ms`, "(baseline)"],
      ["(a)/(b) median ratio", `${fixed(ratio, 2)}×`, "(target ≤ 1.5×)"],
      [
        "peak RSS growth per upload",
        `${growth} bytes = ${fixed(multiple, 2)}× the file`,
        `(target ≤ 4×; kernel peak RSS, ${CONCURRENT_UPLOADS} uploads at once, first ones of the process)`,
      ],
    ]);
  } finally {
    await metadata.close();
    s3.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * Resident memory an upload needs while it runs: the kernel's peak RSS while several run at once, over the
 * RSS after a full GC before the first upload of this process, divided by their number. It counts first-use
 * costs (code, connections) too, so it errs high. Running them together matters: one after another, the
 * allocator reuses what the previous upload freed.
 */
async function rssGrowthPerUpload(
  upload: (bytes: Uint8Array<ArrayBuffer>) => Promise<void>,
): Promise<number> {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const inputs = Array.from({ length: CONCURRENT_UPLOADS }, () => noisyPng(FILE_BYTES));
  gc();
  resetPeakRss();
  const before = memoryStatus("VmRSS");
  await Promise.all(inputs.map(upload));
  return Math.round((memoryStatus("VmHWM") - before) / CONCURRENT_UPLOADS);
}

/**
 * s3rver in a child process, so the bytes it receives and writes are not counted in this process's memory,
 * and its work competes with ours as a real storage server would.
 */
export async function startS3ServerProcess(directory: string) {
  const script = `
    import S3rver from "s3rver";
    const server = new S3rver({ address: "127.0.0.1", port: 0, directory: process.argv[1], silent: true });
    const { port } = await server.run();
    console.log(port);`;
  const child: ChildProcess = spawn(process.execPath, ["--input-type=module", "-e", script, directory], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once("data", (chunk: Buffer) => resolve(Number(chunk.toString())));
    child.once("exit", (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
  const client = testS3Client(`http://127.0.0.1:${port}`);
  await client.send(new CreateBucketCommand({ Bucket: TEST_BUCKET }));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket: TEST_BUCKET,
    client,
    stop: () => {
      client.destroy();
      child.kill();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchOrigin();
