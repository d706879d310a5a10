import { createHash } from "node:crypto";
import type { ImageRecord, MetadataStore } from "../../origin/domain/ports";

/** Runs `task` over `items` with at most `limit` under way at once, in order of start. */
export async function inParallel<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Every record a store holds, of every entry. */
export async function allRecords(store: MetadataStore): Promise<ImageRecord[]> {
  const records: ImageRecord[] = [];
  for await (const record of store.listAll()) records.push(record);
  return records;
}

/** How often each value occurs, for a run's summary line. */
export function tally(values: readonly (string | number)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

/** Hex SHA-256, as records carry it. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
