import { createReadStream } from "node:fs";
import { readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { FileImageStore } from "../../../origin/adapters/FileImageStore";

/** s3rver kept each object as `{name}._S3rver_object`, its headers in `{name}._S3rver_metadata.json`. */
const OBJECT_SUFFIX = "._S3rver_object";
const METADATA_SUFFIX = "._S3rver_metadata.json";
/** Where the local gateway kept its bucket before the file store: `DATA_DIR/s3/{bucket}/...`. */
export const S3RVER_DIRECTORY_NAME = "s3";

/** What a migration did. */
export interface MigrationReport {
  readonly migrated: number;
  /** Objects whose key the file store cannot hold; left where they were, under `s3-unmigrated/`. */
  readonly skipped: number;
}

/**
 * Moves a `DATA_DIR` written by the s3rver-based gateway (`DATA_DIR/s3/{bucket}/…`) into the file store:
 * every object with its content type; the old directory is removed once all are in (or renamed
 * `s3-unmigrated` when some key could not be carried over). Running it again after an interruption
 * writes the same objects again, so it is safe at every start.
 *
 * @returns `undefined` when there was nothing to migrate
 */
export async function migrateS3rverLayout(
  dataDir: string,
  bucket: string,
  store: FileImageStore,
): Promise<MigrationReport | undefined> {
  const directory = join(dataDir, S3RVER_DIRECTORY_NAME);
  const bucketDirectory = join(directory, bucket);
  if (!(await stat(bucketDirectory).catch(() => undefined))?.isDirectory()) return undefined;
  let migrated = 0;
  let skipped = 0;
  const names = (await readdir(bucketDirectory, { recursive: true })).filter((name) =>
    name.endsWith(OBJECT_SUFFIX),
  );
  for (const name of names.sort()) {
    const key = relative(bucketDirectory, join(bucketDirectory, name.slice(0, -OBJECT_SUFFIX.length)));
    if (!FileImageStore.isValidKey(key)) {
      skipped += 1;
      continue;
    }
    const path = join(bucketDirectory, name);
    const contentType = await s3rverContentType(path.slice(0, -OBJECT_SUFFIX.length) + METADATA_SUFFIX);
    const pending = await store.prepareFrom(createReadStream(path), Number.MAX_SAFE_INTEGER);
    await pending.commit(key, contentType);
    migrated += 1;
  }
  if (skipped > 0) await rename(directory, join(dataDir, "s3-unmigrated"));
  else await rm(directory, { recursive: true, force: true });
  return { migrated, skipped };
}

/** The type s3rver recorded; a metadata file a crash left half-written says nothing. */
async function s3rverContentType(path: string): Promise<string> {
  try {
    const metadata = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
    const type = metadata["content-type"];
    if (typeof type === "string" && type !== "") return type;
  } catch {
    // Absent or unreadable: the default below, as S3 types an object stored without one.
  }
  return "binary/octet-stream";
}
