import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import S3rver from "s3rver";

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
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

/** Starts s3rver on 127.0.0.1 with a free port and a fresh directory; `stop` removes both. */
export async function startS3Server(): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), "image-gateway-s3-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = testS3Client(endpoint);
  await client.send(new CreateBucketCommand({ Bucket: TEST_BUCKET }));
  return {
    endpoint,
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
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** The origin's client options for an S3-compatible endpoint, with credentials s3rver accepts. */
export function testS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    credentials: S3RVER_CREDENTIALS,
  });
}
