import { createHash } from "node:crypto";
import { mkdir, open, rmdir, unlink } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { dirname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CreateBucketCommand, type S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import S3rver, { type S3rverObject, type S3rverStore } from "s3rver";
import { close, listen } from "../../infra/local/gateway/listen";
import { s3ClientFor } from "../../origin/adapters/dependencies";

/**
 * s3rver, an S3-compatible server on loopback: what the S3 adapter's tests run against (the local
 * gateway itself keeps its objects in the file store). Its listing tokens need OpenSSL's legacy
 * provider, which is why vitest runs with `--openssl-legacy-provider`.
 */

/** A running S3-compatible server on loopback and a client for it. */
export interface LocalS3 {
  readonly endpoint: string;
  readonly bucket: string;
  readonly client: S3Client;
  close(): Promise<void>;
}

/** s3rver accepts any well-formed signature; these only satisfy the SDK. */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

/** A client for a local S3-compatible server, configured as the origin configures one, with its credentials. */
export function localS3Client(
  endpoint: string,
  extra: Omit<S3ClientConfig, "region" | "endpoint"> = {},
): S3Client {
  return s3ClientFor(
    { region: "us-east-1", s3Endpoint: endpoint },
    { credentials: LOCAL_S3_CREDENTIALS, ...extra },
  );
}

/**
 * Starts s3rver with its data under `directory` and creates `bucket` (kept across restarts). It does not
 * check signatures or POST policies, so the gateway enforces its limits itself.
 */
export async function startLocalS3(options: {
  readonly directory: string;
  readonly bucket: string;
  readonly port?: number;
  readonly corsXml?: string;
}): Promise<LocalS3> {
  const s3rver = new S3rver({
    directory: options.directory,
    silent: true,
    configureBuckets: [{ name: options.bucket, configs: options.corsXml ? [options.corsXml] : [] }],
  });
  guardObjectWrites(s3rver.store);
  guardObjectDeletes(s3rver.store);
  await s3rver.configureBuckets();
  const server: Server = createServer(s3rver.callback());
  const port = await listen(server, options.port ?? 0);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localS3Client(endpoint);
  // Idempotent: the bucket may exist from an earlier start.
  await client.send(new CreateBucketCommand({ Bucket: options.bucket })).catch(() => undefined);
  return {
    endpoint,
    bucket: options.bucket,
    client,
    close: async () => {
      client.destroy();
      await close(server);
    },
  };
}

/**
 * s3rver's own `putObject` creates the object's directory and then opens the file through a write stream
 * with no error handler. A concurrent delete that empties that directory removes it in between, and the
 * open then fails as an uncaught exception (crashing the gateway) while a buffered put has already been
 * answered 200 without its bytes. This replacement opens the file before writing, making the directory
 * again if a delete removed it, and fails the request, never the process.
 */
export function guardObjectWrites(store: S3rverStore): void {
  store.putObject = async (object: S3rverObject) => {
    const file = await openCreatingDirectory(store.getResourcePath(object.bucket, object.key, "object"));
    const md5 = createHash("md5");
    let size = 0;
    if (Buffer.isBuffer(object.content)) {
      try {
        await file.writeFile(object.content);
      } finally {
        await file.close();
      }
      md5.update(object.content);
      size = object.content.length;
    } else {
      const measure = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          md5.update(chunk);
          size += chunk.length;
          callback(null, chunk);
        },
      });
      // The write stream owns the file handle from here and closes it, whatever happens.
      await pipeline(object.content, measure, file.createWriteStream());
    }
    const digest = md5.digest("hex");
    await store.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
  };
}

async function openCreatingDirectory(path: string) {
  for (let attempt = 1; ; attempt += 1) {
    await mkdir(dirname(path), { recursive: true });
    try {
      return await open(path, "w");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 5) throw error;
    }
  }
}

/**
 * s3rver's own `deleteObject` removes the object's files and then every parent directory it finds empty,
 * reading and removing them unguarded. Two deletes in one directory at once (what `reconcile` does) both
 * find it empty, and the second `rmdir` fails: a 500 for an object that is gone. This replacement treats a
 * directory that is already gone, or no longer empty, as nothing left to clean.
 */
export function guardObjectDeletes(store: S3rverStore): void {
  store.deleteObject = async (bucket: string, key: string) => {
    await Promise.all(
      ["object", "object.md5", "metadata.json"].map((resource) =>
        unlink(store.getResourcePath(bucket, key, resource)).catch(unlessErrno("ENOENT")),
      ),
    );
    const parts = key.split("/").slice(0, -1);
    for (; parts.length > 0; parts.pop()) {
      try {
        await rmdir(join(store.getBucketPath(bucket), ...parts));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTEMPTY" || code === "EEXIST") return;
        throw error;
      }
    }
  };
}

/** A rejection handler that swallows the given errno code and rethrows anything else. */
function unlessErrno(code: string): (error: NodeJS.ErrnoException) => void {
  return (error) => {
    if (error.code !== code) throw error;
  };
}
