/** Small statistics for the bench scripts: every figure they print comes from here. */

/** The q-quantile (0..1) of samples, nearest-rank. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export const median = (samples: readonly number[]): number => quantile(samples, 0.5);

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
