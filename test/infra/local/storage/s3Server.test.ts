import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import type { S3Event } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalS3, startLocalS3 } from "../../../../infra/local/storage/s3Server";

describe("the local S3-compatible server's notifications", () => {
  let directory: string;
  let s3: LocalS3;
  const events: S3Event[] = [];

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "local-s3-"));
    s3 = await startLocalS3({ directory, bucket: "notify-test" });
    s3.onEvent((event) => events.push(event));
  });

  afterAll(async () => {
    await s3?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it("are shaped as S3 sends them: the key URL-encoded with + for a space, the bucket's ARN well-formed", async () => {
    // Act
    await s3.client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: "incoming/a b+c/é.png",
        Body: new Uint8Array([1, 2, 3]),
      }),
    );

    // Assess
    expect(events).toHaveLength(1);
    const [record] = events[0]?.Records ?? [];
    expect(record).toMatchObject({
      eventSource: "aws:s3",
      eventName: "ObjectCreated:Put",
      s3: {
        bucket: { name: "notify-test", arn: "arn:aws:s3:::notify-test" },
        object: { key: "incoming/a+b%2Bc/%C3%A9.png", size: 3 },
      },
    });
  });
});

describe("the local S3-compatible server's writes", () => {
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
});
