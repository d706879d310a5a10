import { readdir, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";

/** s3rver keeps each object's headers beside its bytes in a file with this suffix. */
const METADATA_SUFFIX = "._S3rver_metadata.json";
/** Longer than any write of one small metadata file takes: what is still broken after it was abandoned. */
const SETTLE_MS = 250;

/**
 * Removes the metadata files that a killed process left half-written under an s3rver `directory`.
 *
 * s3rver writes an object's bytes, then its metadata file, and answers only after both; a process killed
 * in between leaves an empty or truncated metadata file, and from then on every listing of the bucket
 * fails (s3rver cannot parse it), which stops `reconcile`. Such an object was never acknowledged, so no
 * record names it: without its broken metadata it lists again, and `reconcile` finds it as the orphan it
 * is. A file that does not parse is looked at again after a moment, so a write that a running gateway is
 * making right now is never taken for an abandoned one.
 *
 * @returns the metadata files removed
 */
export async function discardInterruptedWrites(directory: string): Promise<string[]> {
  const broken = await brokenMetadataFiles(directory);
  if (broken.length === 0) return [];
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const removed: string[] = [];
  for (const { path, modifiedMs } of broken) {
    const still = await readMetadata(path);
    if (still === undefined || still.valid || still.modifiedMs !== modifiedMs) continue;
    await unlink(path).catch(() => undefined);
    removed.push(path);
  }
  return removed;
}

async function brokenMetadataFiles(directory: string): Promise<{ path: string; modifiedMs: number }[]> {
  let names: string[];
  try {
    names = await readdir(directory, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const broken: { path: string; modifiedMs: number }[] = [];
  for (const name of names) {
    if (!name.endsWith(METADATA_SUFFIX)) continue;
    const path = join(directory, name);
    const metadata = await readMetadata(path);
    if (metadata && !metadata.valid) broken.push({ path, modifiedMs: metadata.modifiedMs });
  }
  return broken;
}

/** Whether a metadata file parses, and when it last changed; `undefined` when it is gone. */
async function readMetadata(path: string): Promise<{ valid: boolean; modifiedMs: number } | undefined> {
  try {
    const { mtimeMs } = await stat(path);
    const text = await readFile(path, "utf8");
    try {
      JSON.parse(text);
      return { valid: true, modifiedMs: mtimeMs };
    } catch {
      return { valid: false, modifiedMs: mtimeMs };
    }
  } catch {
    return undefined;
  }
}
