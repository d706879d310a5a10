import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalS3, localS3Client, startLocalS3 } from "./s3rver";

describe("the S3-compatible test server's writes and deletes", () => {
  let directory: string;
  let s3: LocalS3;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "local-s3-race-"));
    s3 = await startLocalS3({ directory, bucket: "race-test" });
  });

  afterAll(async () => {
    await s3?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it("keep every acknowledged object while a delete empties and removes its directory at the same time", async () => {
    // Prepare: s3rver alone removed the emptied directory between its mkdir and its open, crashed the
    // process with an uncaught ENOENT and had already answered 200 for bytes it never wrote.
    const puts: string[] = [];

    // Act
    for (let round = 0; round < 150; round += 1) {
      const directoryKey = `entries/e${round % 5}/images`;
      await s3.client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: `${directoryKey}/old`, Body: "x" }),
      );
      const key = `${directoryKey}/new-${round}`;
      await Promise.all([
        s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: `${directoryKey}/old` })),
        s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: `bytes of ${round}` })),
      ]);
      puts.push(key);
    }

    // Assess
    const bodies = await Promise.all(
      puts.map(async (key) => {
        const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
        return object.Body?.transformToString();
      }),
    );
    expect(bodies).toEqual(puts.map((_, round) => `bytes of ${round}`));
  }, 60_000);

  it("answer every delete of one directory's objects at once, and leave none of them", async () => {
    // Prepare: s3rver alone had both deletes remove the emptied directory; the second failed with a 500
    // for an object that was gone, which reconcile then reported as a failed removal.
    // One attempt, as the fault tests use: the SDK's retries would hide the 500.
    const client = localS3Client(s3.endpoint, { maxAttempts: 1 });
    const failures: string[] = [];

    // Act
    for (let round = 0; round < 40; round += 1) {
      const keys = Array.from({ length: 8 }, (_, index) => `deletes/r${round}/images/${index}`);
      await Promise.all(
        keys.map((Key) => s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: Key }))),
      );
      const results = await Promise.allSettled(
        keys.map((Key) => client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key }))),
      );
      for (const result of results) if (result.status === "rejected") failures.push(String(result.reason));
    }

    client.destroy();

    // Assess
    expect(failures).toEqual([]);
    const left = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "deletes/" }));
    expect(left.Contents ?? []).toEqual([]);
  }, 60_000);
});
