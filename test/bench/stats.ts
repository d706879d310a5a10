/** Small statistics for the bench scripts: every figure they print comes from here. */
import { readFileSync, writeFileSync } from "node:fs";

/** The q-quantile (0..1) of samples, nearest-rank. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export const median = (samples: readonly number[]): number => quantile(samples, 0.5);

/**
 * The median of `a[i] / b[i]`: how two things measured in interleaved pairs compare. Each pair ran
 * under the same conditions, so the machine's slow spells cancel out; a ratio of two medians does not
 * (on this machine, one of two medians sometimes moved by 1.5× between runs while the other held).
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return median(a.slice(0, b.length).map((value, index) => value / (b[index] as number)));
}

/** Times `iterations` sequential calls of `run` (after `prepare`, which is not timed), in microseconds. */
export async function timeCalls<T>(
  iterations: number,
  prepare: (index: number) => T,
  run: (input: T) => Promise<unknown>,
): Promise<number[]> {
  const samples = new Array<number>(iterations);
  for (let index = 0; index < iterations; index += 1) {
    const input = prepare(index);
    const start = process.hrtime.bigint();
    await run(input);
    samples[index] = Number(process.hrtime.bigint() - start) / 1000;
  }
  return samples;
}

/** How long one call of `run` takes, in milliseconds. */
export async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** `label  value unit  (target …)` lines, aligned. */
export function report(rows: readonly [label: string, value: string, note?: string][]): void {
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value, note] of rows)
    console.log(`  ${label.padEnd(width)}  ${value}${note ? `  ${note}` : ""}`);
}

export function fixed(value: number, digits = 1): string {
  return value.toFixed(digits);
}

/**
 * A memory field of this process's `/proc/self/status` (Linux), in bytes: `VmRSS` now, or `VmHWM`, the
 * peak since the process started or since `resetPeakRss`.
 */
export function memoryStatus(field: "VmRSS" | "VmHWM"): number {
  const line = readFileSync("/proc/self/status", "utf8")
    .split("\n")
    .find((each) => each.startsWith(`${field}:`));
  const kilobytes = Number(/(\d+) kB/.exec(line ?? "")?.[1]);
  if (!Number.isFinite(kilobytes)) throw new Error(`/proc/self/status has no ${field}`);
  return kilobytes * 1024;
}

/** Resets the kernel's peak RSS (VmHWM) to the current RSS: writing 5 to clear_refs does that. */
export function resetPeakRss(): void {
  writeFileSync("/proc/self/clear_refs", "5");
}
