import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ConfigurationError } from "../../../contract/errors";
import { KeyRing } from "../../../contract/KeyRing";
import { formatSigningKeys } from "../../../contract/keyLoaders";
import { refreshing } from "../../../contract/refreshing";
import { signGrant } from "../../../contract/tokens";
import type { OriginDeps } from "../../../origin/adapters/dependencies";
import type { ImageRecord } from "../../../origin/domain/ports";
import { type AlbEvent, createOriginHandler } from "../../../origin/http/handler";
import { filePart, loadAlbEvent, withGrant } from "../../support/alb";
import { ENTRY, makeKey } from "../../support/edge";
import { allBytesPng, pngBytes, storedAllBytesPng } from "../../support/images";
import {
  freshEntry,
  makeOrigin,
  objectKey,
  postForm,
  stagingKey,
  startMetadata,
  type TestMetadata,
  type TestOrigin,
} from "../../support/origin";
import { objectCreated } from "../../support/s3Events";
import { S3RVER_CREDENTIALS, startS3Server, type TestS3 } from "../../support/s3Server";

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
  const granted = async (event: AlbEvent) => withGrant(event, await origin.grant(event.httpMethod, ENTRY));

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
        size: storedAllBytesPng().byteLength,
      });
      // Stored without its private chunk, every byte value still in the pixels.
      expect((await s3.read(objectKey(record)))?.bytes).toEqual(storedAllBytesPng());
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
    const build = vi
      .fn<() => Promise<OriginDeps>>()
      .mockRejectedValueOnce(new Error("Secrets Manager is unreachable"))
      .mockResolvedValue(origin.deps);
    const logs: Record<string, unknown>[] = [];
    const log = (entry: Readonly<Record<string, unknown>>) => logs.push({ ...entry });
    const resolveDeps = refreshing(build, Number.POSITIVE_INFINITY, { what: "origin", log, retryMs: 0 });
    const originHandler = createOriginHandler(resolveDeps);
    const event = loadAlbEvent("api-health");

    // Act
    const first = await originHandler(event, CONTEXT);
    const second = await originHandler(event, CONTEXT);

    // Assess
    expect(first.statusCode).toBe(503);
    expect(JSON.parse(first.body).error.code).toBe("gateway_unavailable");
    expect(first.headers).toMatchObject({ "cache-control": "no-store" });
    expect(second.statusCode).toBe(200);
    expect(build).toHaveBeenCalledTimes(2);
    expect(logs).toEqual([
      {
        level: "error",
        event: "refresh_failed",
        what: "origin",
        error: "Error: Secrets Manager is unreachable",
        serving: "nothing",
        retry_in_ms: 0,
      },
      { level: "info", event: "refresh_recovered", what: "origin" },
    ]);
  });

  it("answers 503 gateway_misconfigured, not 'try again', when the configuration itself is wrong", async () => {
    // Prepare
    const originHandler = createOriginHandler(async () => {
      throw new ConfigurationError("BUCKET_NAME is not set.");
    });

    // Act
    const answer = await originHandler(loadAlbEvent("api-health"), CONTEXT);

    // Assess
    expect(answer.statusCode).toBe(503);
    expect(answer.headers).toMatchObject({ "cache-control": "no-store" });
    expect(JSON.parse(answer.body).error.code).toBe("gateway_misconfigured");
    // The viewer is not told the setting: the operator's log is.
    expect(answer.body).not.toContain("BUCKET_NAME");
  });

  it("finalizes the upload S3's object-created notification names", async () => {
    // Prepare
    const entry = freshEntry();
    const ticket = await origin.ticket(entry, { name: "harbour", size: 2048 });
    expect((await postForm(ticket.upload, pngBytes(16, 16, 3))).status).toBe(204);
    const event = objectCreated(s3.bucket, stagingKey(entry, ticket.id));

    // Act
    const result = await handler()(event, CONTEXT);

    // Assess
    expect(result).toBeUndefined();
    const status = (await (await origin.uploadStatus(entry, ticket.id)).json()) as { status: string };
    expect(status).toMatchObject({ status: "ready", image: { name: "harbour", content_type: "image/png" } });
  });

  it("fails a notification while its dependencies cannot be built, so that Lambda retries it", async () => {
    // Prepare
    const entry = freshEntry();
    const ticket = await origin.ticket(entry);
    await postForm(ticket.upload, pngBytes(8, 8, 4));
    const build = vi
      .fn<() => Promise<OriginDeps>>()
      .mockRejectedValueOnce(new Error("Secrets Manager is unreachable"))
      .mockResolvedValue(origin.deps);
    const logs: Record<string, unknown>[] = [];
    const log = (entry: Readonly<Record<string, unknown>>) => logs.push({ ...entry });
    const resolveDeps = refreshing(build, Number.POSITIVE_INFINITY, { what: "origin", log, retryMs: 0 });
    const originHandler = createOriginHandler(resolveDeps);
    const event = objectCreated(s3.bucket, stagingKey(entry, ticket.id));

    // Act
    const first = originHandler(event, CONTEXT);
    await first.catch(() => undefined);
    const retry = await originHandler(event, CONTEXT);

    // Assess
    await expect(first).rejects.toThrow("will be retried");
    expect(retry).toBeUndefined();
    expect(logs.map((line) => line.event)).toEqual(["refresh_failed", "refresh_recovered"]);
    expect(await (await origin.uploadStatus(entry, ticket.id)).json()).toMatchObject({ status: "ready" });
  });

  it("finalizes every upload of a notification, then fails it for those that could not be", async () => {
    // Prepare: two records in one notification; copying the first fails
    const entry = freshEntry();
    const [first, second] = [await origin.ticket(entry), await origin.ticket(entry)] as const;
    await postForm(first.upload, pngBytes(8, 8, 5));
    await postForm(second.upload, pngBytes(8, 8, 6));
    const event = {
      Records: [first, second].flatMap(
        (ticket) => objectCreated(s3.bucket, stagingKey(entry, ticket.id)).Records,
      ),
    };
    origin.imageFaults.failNext("copy");

    // Act
    const invocation = handler()(event, CONTEXT);

    // Assess
    await expect(invocation).rejects.toThrow("1 of 2 staged uploads could not be finalized");
    expect(await (await origin.uploadStatus(entry, first.id)).json()).toMatchObject({ status: "pending" });
    expect(await (await origin.uploadStatus(entry, second.id)).json()).toMatchObject({ status: "ready" });
    expect(await s3.keys(stagingKey(entry, first.id))).toEqual([stagingKey(entry, first.id)]);
  });

  it("refuses an event that is neither an ALB request nor an S3 notification", async () => {
    // Prepare
    const sqsEvent = { Records: [{ eventSource: "aws:sqs", body: "{}" }] };

    // Act
    const invocation = handler()(sqsEvent as unknown as AlbEvent, CONTEXT);

    // Assess
    await expect(invocation).rejects.toThrow("ALB requests and S3 notifications only");
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
    const { handler } = await import("../../../origin/http/handler");
    const grant = await signGrant(
      await KeyRing.create([key]),
      { ...ENTRY, method: "POST", path: loadAlbEvent("upload-all-bytes").path },
      Date.now() / 1000,
    );
    const event = withGrant(loadAlbEvent("upload-all-bytes"), grant.token);

    // Act
    const result = await handler(event, CONTEXT);

    // Assess
    expect(result.statusCode).toBe(201);
    const record = JSON.parse(result.body) as ImageRecord;
    expect((await s3.read(objectKey(record, "deployed")))?.bytes).toEqual(storedAllBytesPng());
  });
});
