import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { S3Event } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalS3, startLocalS3 } from "../../infra/local/s3Server";

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
