import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import type { S3Event } from "aws-lambda";
import type { Log } from "../../../contract/log";
import { FileImageStore } from "../../../origin/adapters/FileImageStore";
import { S3UploadSigner } from "../../../origin/adapters/S3UploadSigner";
import { DEFAULT_REGION, OBJECTS_DIRECTORY_NAME } from "../../../origin/domain/constants";
import type { UploadSigner } from "../../../origin/domain/ports";
import { BucketOrigin } from "../gateway/bucketOrigin";
import { migrateS3rverLayout, S3RVER_DIRECTORY_NAME } from "./s3rverMigration";
import { loadOrCreateStorageCredentials } from "./storageCredentials";
import { UploadDoor } from "./UploadDoor";

/** The largest object S3 takes in one POST (5 GB); each form's policy sets its own, smaller range. */
const S3_MAX_POST_BYTES = 5 * 1024 ** 3;

/**
 * The local gateway's bucket, on this machine's disk: one file store under `DATA_DIR/objects`, and the
 * three ways in and out of it that S3 offers on AWS — the origin's reads and writes (`images`), the
 * presigned-POST door with its signer, and the distribution's reads (`objects`).
 */
export interface LocalStorage {
  readonly bucket: string;
  readonly region: string;
  /** Where the objects are, `DATA_DIR/objects`. */
  readonly directory: string;
  readonly images: FileImageStore;
  /** Signs forms for `door`, with this `DATA_DIR`'s own credentials. */
  readonly uploadSigner: UploadSigner;
  readonly door: UploadDoor;
  /** Serves objects to the played CloudFront, from disk. */
  readonly objects: BucketOrigin;
  /** Calls `listener` with S3's notification of each object a form created, after the form's answer. */
  onObjectCreated(listener: (event: S3Event) => void): void;
  close(): Promise<void>;
}

/**
 * Opens the local bucket under `dataDir`: moves a `DATA_DIR` of the s3rver-based gateway over first
 * (saying so in one log line), drops what writes interrupted by a crash left, and makes or loads the
 * credentials forms are signed with.
 */
export async function openLocalStorage(options: {
  readonly dataDir: string;
  readonly bucket: string;
  readonly corsAllowedOrigins: readonly string[];
  readonly log: Log;
}): Promise<LocalStorage> {
  const { dataDir, bucket, log } = options;
  const directory = join(dataDir, OBJECTS_DIRECTORY_NAME);
  const images = await FileImageStore.open(directory);
  // Nothing writes to the store yet: every temporary file there is one a killed process left.
  await images.discardInterruptedWrites();
  const migration = await migrateS3rverLayout(dataDir, bucket, images);
  if (migration) {
    log({
      level: "info",
      event: "storage_migrated",
      message: `moved ${migration.migrated} object(s) from ${join(dataDir, S3RVER_DIRECTORY_NAME)} (s3rver's layout) into ${directory}`,
      migrated: migration.migrated,
      skipped: migration.skipped,
    });
  }
  const credentials = await loadOrCreateStorageCredentials(dataDir);
  // Only signs: presigning is local computation, so this client never sends a request.
  const signingClient = new S3Client({
    region: DEFAULT_REGION,
    credentials,
    endpoint: "http://127.0.0.1",
    forcePathStyle: true,
  });
  const listeners: ((event: S3Event) => void)[] = [];
  const door = new UploadDoor({
    store: images,
    bucket,
    region: DEFAULT_REGION,
    credentials,
    corsAllowedOrigins: options.corsAllowedOrigins,
    maxBytes: S3_MAX_POST_BYTES,
    onObjectCreated: (event) => {
      for (const listener of listeners) listener(event);
    },
  });
  return {
    bucket,
    region: DEFAULT_REGION,
    directory,
    images,
    uploadSigner: new S3UploadSigner(signingClient, bucket, door.path),
    door,
    objects: new BucketOrigin(images),
    onObjectCreated: (listener) => listeners.push(listener),
    close: async () => signingClient.destroy(),
  };
}
