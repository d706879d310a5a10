import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { loadOrCreate } from "../gateway/localState";
import type { StorageCredentials } from "./postPolicy";

const CREDENTIALS_FILE = "storage-credentials.json";

/**
 * The credentials the local bucket's forms are signed with: made at random on the first start, kept in
 * `DATA_DIR/storage-credentials.json` (readable by the owner only) and never printed. The origin signs
 * presigned POSTs with them, and the upload door checks every form against them, as S3 checks a form
 * against the signer's IAM credentials: a form signed with anything else writes nothing.
 */
export async function loadOrCreateStorageCredentials(dataDir: string): Promise<StorageCredentials> {
  return loadOrCreate(join(dataDir, CREDENTIALS_FILE), parseCredentials, () =>
    JSON.stringify({
      accessKeyId: `LOCAL${randomBytes(8).toString("hex").toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString("base64url"),
    }),
  );
}

function parseCredentials(text: string): StorageCredentials {
  const { accessKeyId, secretAccessKey } = JSON.parse(text) as Partial<StorageCredentials>;
  if (typeof accessKeyId !== "string" || typeof secretAccessKey !== "string" || secretAccessKey.length < 32) {
    throw new Error(`${CREDENTIALS_FILE} does not hold the local storage's credentials.`);
  }
  return { accessKeyId, secretAccessKey };
}
