/**
 * One measured run, alone in this process: the child half of `test/bench/uploads.ts`. Run as
 * `node --expose-gc --import tsx test/bench/finalizeMemory.ts <mode> <endpoint> <bucket> <warm-up key> <key>`
 * with both objects already staged; `<mode>` is `finalize` (the origin's `finalizeUpload`) or `stream`
 * (a bare `node:http` GET of the object into SHA-256: the floor of any streamed read in Node). Prints one
 * JSON line: the RSS after a GC, the kernel's peak RSS during the run (Linux), the run's duration and, for
 * `finalize`, the upload's status.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { uploadOfStagingKey } from "../../contract/keys";
import { S3ImageStore } from "../../origin/adapters/S3ImageStore";
import { SqliteMetadataStore } from "../../origin/adapters/SqliteMetadataStore";
import { DEFAULT_MAX_IMAGE_PIXELS } from "../../origin/domain/constants";
import { type FinalizeDeps, finalizeUpload } from "../../origin/domain/finalize";
import { testS3Client } from "../support/s3Server";
import { memoryStatus, resetPeakRss } from "./stats";

const [mode, endpoint, bucket, warmUpKey, key] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");

const directory = await mkdtemp(join(tmpdir(), "finalize-memory-"));
const metadata = await SqliteMetadataStore.open(join(directory, "metadata.sqlite"));
const client = testS3Client(endpoint);
const deps: FinalizeDeps = {
  imagesPrefix: "bench",
  bucketName: bucket,
  maxImageBytes: 256 * 1024 * 1024,
  imagePolicy: { maxPixels: DEFAULT_MAX_IMAGE_PIXELS, stripMetadata: true },
  images: new S3ImageStore(client, bucket),
  metadata,
  log: () => undefined,
  now: Date.now,
  uuid: () => crypto.randomUUID(),
};
for (const staged of [warmUpKey, key]) {
  const upload = uploadOfStagingKey(staged);
  if (!upload) throw new Error(`${staged} is not a staging key`);
  await metadata.putUpload({
    id: upload.uploadId,
    journal_id: upload.journalId,
    entry_id: upload.entryId,
    name: "bench",
    declared_size: 1,
    created_at: new Date().toISOString(),
    expires_at: new Date(Date.now() + 900_000).toISOString(),
    status: "pending",
    image_id: null,
    error: null,
  });
}
const run =
  mode === "finalize"
    ? async (object: string) => (await finalizeUpload(object, deps))?.status
    : async (object: string) => streamedSha256(`${endpoint}/${bucket}/${object}`);

// The warm-up loads every module and path the measured run takes, so the baseline holds them.
await run(warmUpKey);
gc();
await new Promise((resolve) => setTimeout(resolve, 50));
gc();
// The kernel's peak RSS from here on is the exact peak of what follows: nothing sampled, nothing missed.
resetPeakRss();
const baseline = memoryStatus("VmRSS");
const started = performance.now();
const outcome = await run(key);
const ms = performance.now() - started;
const peak = memoryStatus("VmHWM");

console.log(JSON.stringify({ baseline, peak, ms, status: mode === "finalize" ? outcome : "ready" }));
client.destroy();
await metadata.close();
await rm(directory, { recursive: true, force: true });

/** Hex SHA-256 of what a plain GET answers, chunk by chunk. */
function streamedSha256(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, async (response) => {
      const hash = createHash("sha256");
      for await (const chunk of response) hash.update(chunk as Buffer);
      resolve(hash.digest("hex"));
    }).on("error", reject);
  });
}
