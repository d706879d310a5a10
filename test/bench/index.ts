/** `npm run bench`: every benchmark, each printing its figures beside a baseline measured in the same run. */
import { execFileSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { benchEdge } from "./edge";
import { benchLocal } from "./local";
import { benchOrigin } from "./origin";
import { benchSynth } from "./synth";
import { benchUploads } from "./uploads";
import { benchVariants } from "./variants";

/**
 * Lets the disk settle between benchmarks: the upload benchmark writes and removes hundreds of
 * megabytes, and the kernel's flushing of them should not land in the next benchmark's fsyncs.
 */
async function settle(): Promise<void> {
  execFileSync("sync");
  await sleep(1000);
}

for (const bench of [benchEdge, benchOrigin, benchLocal, benchUploads, benchVariants, benchSynth]) {
  await bench();
  await settle();
}
