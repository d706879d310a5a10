import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { LOCAL_S3_CREDENTIALS, localS3Client, startLocalS3 } from "./s3rver";

/** An object as the test server holds it. */
export interface ServerObject {
  readonly bytes: Uint8Array;
  readonly contentType: string | undefined;
  readonly cacheControl: string | undefined;
}

/** A real S3-compatible server (s3rver) on loopback with one bucket, in a temporary directory. */
export interface TestS3 {
  readonly endpoint: string;
  readonly bucket: string;
  /** Configured as the origin's `s3ClientFor` configures one for an S3-compatible endpoint. */
  readonly client: S3Client;
  /** The object at `key`, read back over HTTP, or `undefined`. */
  read(key: string): Promise<ServerObject | undefined>;
  /** Every key under `prefix`, sorted. */
  keys(prefix?: string): Promise<string[]>;
  /** Writes an object directly, bypassing the gateway (to plant orphans). */
  plant(key: string, bytes: Uint8Array, contentType?: string): Promise<void>;
  stop(): Promise<void>;
}

export const TEST_BUCKET = "image-gateway-test";

/** s3rver accepts any well-formed signature; these only satisfy the SDK. */
export const S3RVER_CREDENTIALS = LOCAL_S3_CREDENTIALS;

/** Starts s3rver as the local gateway does, on a free port and a fresh directory; `stop` removes both. */
export async function startS3Server(): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), "image-gateway-s3-"));
  const s3 = await startLocalS3({ directory, bucket: TEST_BUCKET });
  const { client } = s3;
  return {
    endpoint: s3.endpoint,
    bucket: TEST_BUCKET,
    client,
    read: async (key) => {
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: TEST_BUCKET, Key: key }));
        return {
          bytes: (await object.Body?.transformToByteArray()) ?? new Uint8Array(),
          contentType: object.ContentType,
          cacheControl: object.CacheControl,
        };
      } catch (error) {
        if ((error as Error).name === "NoSuchKey") return undefined;
        throw error;
      }
    },
    keys: async (prefix = "") => {
      const listing = await client.send(new ListObjectsV2Command({ Bucket: TEST_BUCKET, Prefix: prefix }));
      return (listing.Contents ?? []).map((object) => object.Key as string).sort();
    },
    plant: async (key, bytes, contentType = "application/octet-stream") => {
      await client.send(
        new PutObjectCommand({ Bucket: TEST_BUCKET, Key: key, Body: bytes, ContentType: contentType }),
      );
    },
    stop: async () => {
      await s3.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Another client for a test server (a second process's view, or one for a server that is gone). */
export const testS3Client = localS3Client;
