import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { KeyRing } from "../../edge/KeyRing";
import { formatSigningKeys } from "../../edge/keyLoaders";
import { signGrant } from "../../edge/tokens";
import type { OriginDeps } from "../../origin/dependencies";
import { createOriginHandler, type OriginEvent } from "../../origin/handler";
import type { ImageRecord } from "../../origin/ports";
import { filePart, loadAlbEvent, withGrant } from "../support/alb";
import { ENTRY, makeKey } from "../support/edge";
import { allBytesPng } from "../support/images";
import { makeOrigin, objectKey, startMetadata, type TestMetadata, type TestOrigin } from "../support/origin";
import { S3RVER_CREDENTIALS, startS3Server, type TestS3 } from "../support/s3Server";

const CONTEXT = {} as Context;

describe("the origin handler behind the ALB", () => {
  let s3: TestS3;
  let metadata: TestMetadata;
  let origin: TestOrigin;

  beforeAll(async () => {
    s3 = await startS3Server();
    metadata = await startMetadata("sqlite");
    origin = await makeOrigin({ s3, metadata: metadata.store });
  });

  afterAll(async () => {
    await metadata?.stop();
    await s3?.stop();
  });

  const handler = () => createOriginHandler(async () => origin.deps);
  const granted = async (event: OriginEvent) => withGrant(event, await origin.grant(event.httpMethod, ENTRY));

  it("answers health from a single-value-header event", async () => {
    // Prepare
    const event = loadAlbEvent("api-health");

    // Act
    const result = await handler()(event, CONTEXT);

    // Assess
    expect(result).toMatchObject({ statusCode: 200, isBase64Encoded: false });
    expect(result.headers).toMatchObject({ "cache-control": "no-store" });
    expect(JSON.parse(result.body)).toEqual({ status: "ok" });
    expect(origin.logs.at(-1)).toMatchObject({
      route: "/api/health",
      request_id: "Root=1-6744f0a2-3c1e5b7d9a0f2e4c6b8d0a1e",
    });
  });

  describe.each([
    ["single-value", "upload-all-bytes"],
    ["multi-value", "upload-all-bytes-multi-value"],
  ])("with %s headers", (mode, fixture) => {
    it("stores a base64 multipart body holding every byte value byte for byte", async () => {
      // Prepare: a fresh entry per mode, so the second upload is not a duplicate of the first
      const entryId = `entry-${mode}`;
      const event = withGrant(
        { ...loadAlbEvent(fixture), path: `/api/journals/${ENTRY.journalId}/entries/${entryId}/images` },
        await origin.grant("POST", { journalId: ENTRY.journalId, entryId }),
      );
      const expected = allBytesPng();
      expect(filePart(event)).toEqual(expected);
      expect(new Set(expected).size).toBe(256);

      // Act
      const result = await handler()(event, CONTEXT);

      // Assess
      expect(result.statusCode).toBe(201);
      const record = JSON.parse(result.body) as ImageRecord;
      expect(record).toMatchObject({
        name: "every byte",
        content_type: "image/png",
        size: expected.byteLength,
      });
      expect((await s3.read(objectKey(record)))?.bytes).toEqual(expected);
      if (mode === "multi-value") {
        expect(result.multiValueHeaders).toMatchObject({ "cache-control": ["no-store"] });
        expect(result.headers).toBeUndefined();
      } else {
        expect(result.headers).toMatchObject({ "cache-control": "no-store" });
      }
    });
  });

  it("lists images from a multi-value-header event, answering in multi-value headers", async () => {
    // Prepare
    const event = await granted(loadAlbEvent("list-images-multi-value"));

    // Act
    const result = await handler()(event, CONTEXT);

    // Assess
    expect(result.statusCode).toBe(200);
    expect(result.multiValueHeaders).toMatchObject({
      "content-type": ["application/json"],
      "cache-control": ["no-store"],
    });
    expect(JSON.parse(result.body)).toEqual({ images: expect.any(Array) });
  });

  it("answers an event without a grant with the contract's 401", async () => {
    // Prepare
    const event = loadAlbEvent("list-images-multi-value");

    // Act
    const result = await handler()(event, CONTEXT);

    // Assess
    expect(result.statusCode).toBe(401);
    expect(result.multiValueHeaders).toMatchObject({
      "cache-control": ["no-store"],
      "content-type": ["application/json; charset=utf-8"],
    });
    expect(JSON.parse(result.body)).toEqual({
      error: { code: "invalid_grant", message: "The edge's grant is not valid." },
    });
  });

  it("answers 503 while its dependencies cannot be built, and tries again on the next request", async () => {
    // Prepare
    const resolveDeps = vi
      .fn<() => Promise<OriginDeps>>()
      .mockRejectedValueOnce(new Error("Secrets Manager is unreachable"))
      .mockResolvedValue(origin.deps);
    const logs: Record<string, unknown>[] = [];
    const originHandler = createOriginHandler(resolveDeps, (entry) => logs.push({ ...entry }));
    const event = loadAlbEvent("api-health");

    // Act
    const first = await originHandler(event, CONTEXT);
    const second = await originHandler(event, CONTEXT);

    // Assess
    expect(first.statusCode).toBe(503);
    expect(JSON.parse(first.body).error.code).toBe("gateway_unavailable");
    expect(first.headers).toMatchObject({ "cache-control": "no-store" });
    expect(second.statusCode).toBe(200);
    expect(resolveDeps).toHaveBeenCalledTimes(2);
    expect(logs).toEqual([
      { level: "error", event: "origin_init_failure", error: "Error: Secrets Manager is unreachable" },
    ]);
  });

  it("refuses an event that is not an ALB request", async () => {
    // Prepare
    const s3Event = { Records: [{ eventSource: "aws:s3", eventName: "ObjectCreated:Post" }] };

    // Act
    const invocation = handler()(s3Event as unknown as OriginEvent, CONTEXT);

    // Assess
    await expect(invocation).rejects.toThrow("ALB requests only");
  });
});

describe("the deployed handler", () => {
  let s3: TestS3;
  let dataDir: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    s3 = await startS3Server();
    dataDir = await mkdtemp(join(tmpdir(), "image-gateway-origin-"));
  });

  afterAll(async () => {
    process.env = saved;
    await s3?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("builds its dependencies from the environment: keys, S3-compatible storage and SQLite", async () => {
    // Prepare
    const key = makeKey("deployed");
    Object.assign(process.env, {
      SIGNING_KEYS: formatSigningKeys([key]),
      BUCKET_NAME: s3.bucket,
      S3_ENDPOINT: s3.endpoint,
      DATA_DIR: dataDir,
      IMAGES_PREFIX: "deployed",
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    });
    const { handler } = await import("../../origin/handler");
    const grant = await signGrant(
      await KeyRing.create([key]),
      { ...ENTRY, method: "POST" },
      Date.now() / 1000,
    );
    const event = withGrant(loadAlbEvent("upload-all-bytes"), grant.token);

    // Act
    const result = await handler(event, CONTEXT);

    // Assess
    expect(result.statusCode).toBe(201);
    const record = JSON.parse(result.body) as ImageRecord;
    expect((await s3.read(objectKey(record, "deployed")))?.bytes).toEqual(allBytesPng());
  });
});
