import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type {
  CloudFrontRequest,
  CloudFrontRequestEvent,
  CloudFrontRequestHandler,
  CloudFrontResultResponse,
  Context,
} from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatSigningKeys } from "../../../contract/keyLoaders";
import { resolveEdgeConfig } from "../../../edge/config";
import { bundleEdge, bundleOrigin, ROOT } from "../../../infra/aws/bundle";
import type { AlbEvent, OriginHandler } from "../../../origin/http/handler";
import { loadAlbEvent, withGrant } from "../../support/alb";
import { ACCESS, ALICE, CONTEXT, loadEvent, makeKey } from "../../support/edge";
import { png } from "../../support/images";
import { FaultyJournalsApi } from "../../support/journalsApi";
import { S3RVER_CREDENTIALS, startS3Server, type TestS3 } from "../../support/s3Server";

/**
 * The bundles exactly as `npm run build` and the CDK app make them (`infra/bundle.ts`), loaded as Lambda
 * loads them, driven by AWS-documented event shapes from `test/events/`: CloudFront viewer-request for
 * the edge, ALB Lambda-target requests for the origin. The edge's grant is carried from one to the other,
 * as CloudFront carries it to the load balancer.
 */

const KEYS_VARIABLE = "TEST_BUILT_BUNDLES_SIGNING_KEYS";
const BOUNDARY = "----ImageGatewayFixtureBoundary7MA4YWxkTrZu0gW";
const ALB_LIMIT = 1_000_000;
const DEFAULT_DIRECT_LIMIT = ALB_LIMIT - 16 * 1024;

const journals = new FaultyJournalsApi(ACCESS);
let s3: TestS3;
let scratch: string;
let originDir: string;
let edge: CloudFrontRequestHandler;
let origin: OriginHandler;
const savedEnv = { ...process.env };

beforeAll(async () => {
  const journalsApiUrl = await journals.start();
  s3 = await startS3Server();
  scratch = await mkdtemp(join(tmpdir(), "built-bundles-"));
  // The origin bundle keeps the AWS SDK and better-sqlite3 external: it must sit where node_modules resolves.
  originDir = join(ROOT, "dist", `built-bundles-test-${process.pid}`);
  await mkdir(originDir, { recursive: true });
  const keys = formatSigningKeys([makeKey("built")]);
  Object.assign(process.env, {
    [KEYS_VARIABLE]: keys,
    SIGNING_KEYS: keys,
    BUCKET_NAME: s3.bucket,
    S3_ENDPOINT: s3.endpoint,
    DATA_DIR: scratch,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  });
  const config = resolveEdgeConfig({ journalsApiUrl, signingKeys: { type: "env", variable: KEYS_VARIABLE } });
  const [edgeBundle, originBundle] = await Promise.all([
    bundleEdge(join(scratch, "edge"), config),
    bundleOrigin(originDir),
  ]);
  edge = ((await import(pathToFileURL(edgeBundle.file).href)) as { handler: CloudFrontRequestHandler })
    .handler;
  origin = ((await import(pathToFileURL(originBundle.file).href)) as { handler: OriginHandler }).handler;
}, 120_000);

afterAll(async () => {
  process.env = savedEnv;
  await journals.stop();
  await s3?.stop();
  await rm(scratch, { recursive: true, force: true });
  await rm(originDir, { recursive: true, force: true });
});

/** The edge bundle's answer to a CloudFront viewer-request event. */
async function atTheEdge(
  event: CloudFrontRequestEvent,
): Promise<CloudFrontRequest | CloudFrontResultResponse> {
  return (await edge(event, CONTEXT, () => undefined)) as CloudFrontRequest | CloudFrontResultResponse;
}

function withHeader(event: CloudFrontRequestEvent, name: string, value: string): CloudFrontRequestEvent {
  const request = event.Records[0]?.cf.request as CloudFrontRequest;
  request.headers[name.toLowerCase()] = [{ key: name, value }];
  return event;
}

function grantOf(result: CloudFrontRequest | CloudFrontResultResponse): string {
  const value = (result as CloudFrontRequest).headers?.["x-image-gateway-grant"]?.[0]?.value;
  if (!value) throw new Error(`the edge forwarded no grant: ${JSON.stringify(result)}`);
  return value;
}

function errorOf(result: CloudFrontRequest | CloudFrontResultResponse) {
  const response = result as CloudFrontResultResponse;
  return {
    status: response.status,
    cacheControl: response.headers?.["cache-control"]?.[0]?.value,
    body: JSON.parse(response.body ?? "null") as { error: { code: string; message: string } },
  };
}

/** A PNG of exactly `size` bytes: a real image, padded with a private chunk. */
function pngOfSize(size: number): Uint8Array {
  const rgb = new Uint8Array(4 * 4 * 3).fill(90);
  const bare = png({ width: 4, height: 4, rgb, chunks: [{ type: "prVt", data: new Uint8Array() }] });
  return png({
    width: 4,
    height: 4,
    rgb,
    chunks: [{ type: "prVt", data: new Uint8Array(size - bare.length) }],
  });
}

/** A direct upload's multipart body of exactly `total` bytes carrying `file`; a `name` part takes the rest. */
function multipartOfSize(file: Uint8Array, total: number): Buffer {
  const head = (name: string, extra = "") =>
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"${extra}\r\n\r\n`;
  const fileHead = `${head("file", '; filename="photo.png"')}`.replace(
    "\r\n\r\n",
    "\r\nContent-Type: image/png\r\n\r\n",
  );
  const tail = `\r\n--${BOUNDARY}--\r\n`;
  const fixed = Buffer.byteLength(head("name")) + 2 + Buffer.byteLength(fileHead) + file.length + tail.length;
  const name = "n".repeat(total - fixed);
  const body = Buffer.concat([
    Buffer.from(`${head("name")}${name}\r\n${fileHead}`),
    Buffer.from(file),
    Buffer.from(tail),
  ]);
  expect(body.length).toBe(total);
  return body;
}

/** The ALB's Lambda-target event for a direct upload with `body`, carrying the edge's grant. */
function albUpload(body: Buffer, grant: string): AlbEvent {
  const event = withGrant(loadAlbEvent("upload-all-bytes"), grant);
  return {
    ...event,
    headers: { ...event.headers, "content-length": String(body.length) },
    body: body.toString("base64"),
    isBase64Encoded: true,
  };
}

describe("a direct upload near the ALB's 1 MB, through the built bundles", () => {
  it("passes the edge at 999,000 bytes, and the origin stores a file at the default limit", async () => {
    // Prepare
    const file = pngOfSize(DEFAULT_DIRECT_LIMIT);
    const body = multipartOfSize(file, 999_000);

    // Act
    const forwarded = await atTheEdge(loadEvent("upload-direct"));
    const stored = await origin(albUpload(body, grantOf(forwarded)), {} as Context);

    // Assess
    expect((forwarded as CloudFrontRequest).uri).toBe("/api/journals/journal-1/entries/entry-1/images");
    expect(stored.statusCode).toBe(201);
    // Stored smaller: metadata stripping drops the private chunk that padded the file to the limit.
    expect(JSON.parse(stored.body)).toMatchObject({ content_type: "image/png", width: 4, height: 4 });
  });

  it("answers 999,000 bytes whose file is above the limit with the origin's 413, pointing at /uploads", async () => {
    // Prepare
    const body = multipartOfSize(pngOfSize(DEFAULT_DIRECT_LIMIT + 1), 999_000);

    // Act
    const forwarded = await atTheEdge(loadEvent("upload-direct"));
    const refused = await origin(albUpload(body, grantOf(forwarded)), {} as Context);

    // Assess
    expect(refused.statusCode).toBe(413);
    expect(refused.headers?.["cache-control"]).toBe("no-store");
    expect(JSON.parse(refused.body).error).toMatchObject({
      code: "too_large",
      message: expect.stringContaining("/api/journals/journal-1/entries/entry-1/uploads"),
    });
  });

  it("refuses 1,000,001 bytes at the edge with the contract's 413: the ALB would answer its own error", async () => {
    // Act
    const refused = errorOf(
      await atTheEdge(withHeader(loadEvent("upload-direct"), "Content-Length", "1000001")),
    );

    // Assess
    expect(refused.status).toBe("413");
    expect(refused.cacheControl).toBe("no-store");
    expect(refused.body.error).toEqual({
      code: "too_large",
      message:
        "A direct upload's body takes at most 1000000 bytes; upload larger images with " +
        "POST /api/journals/journal-1/entries/entry-1/uploads.",
    });
  });
});

describe("a grant replayed against another request, through the built bundles", () => {
  it("opens only the method and path it was minted for", async () => {
    // Prepare: the edge grants deleting one image
    const grant = grantOf(await atTheEdge(loadEvent("delete-image")));

    // Act
    const onEntry = await origin(withGrant(loadAlbEvent("delete-entry-images"), grant), {} as Context);
    const asRead = await origin(
      { ...withGrant(loadAlbEvent("delete-image"), grant), httpMethod: "GET" },
      {} as Context,
    );
    const asMinted = await origin(withGrant(loadAlbEvent("delete-image"), grant), {} as Context);

    // Assess: another path and another method are refused; the request it was made for gets through
    for (const refused of [onEntry, asRead]) {
      expect(refused.statusCode).toBe(401);
      expect(JSON.parse(refused.body).error.code).toBe("invalid_grant");
    }
    expect(asMinted.statusCode).toBe(404);
    expect(JSON.parse(asMinted.body).error.code).toBe("not_found");
  });
});

describe("an Authorization value no HTTP request may carry, through the built edge bundle", () => {
  it.each([
    ["CR LF", "Bearer abc\r\nX-Injected: 1"],
    ["a lone LF", "Bearer abc\ndef"],
    ["NUL", "Bearer abc\u0000def"],
    ["a character above Latin-1", "Bearer caf\u20ac"],
    ["an emoji", "Bearer \u{1F600}"],
  ])("is 400 invalid_credentials for %s, without calling the journals API", async (_what, value) => {
    // Prepare
    const calls = journals.calls.length;

    // Act
    const answer = errorOf(await atTheEdge(withHeader(loadEvent("post-access"), "Authorization", value)));

    // Assess
    expect(answer.status).toBe("400");
    expect(answer.cacheControl).toBe("no-store");
    expect(answer.body.error.code).toBe("invalid_credentials");
    expect(journals.calls.length).toBe(calls);
  });

  it("forwards a Latin-1 value (obs-text) verbatim, and the journals API's 401 is the answer", async () => {
    // Prepare
    const calls = journals.calls.length;

    // Act
    const answer = errorOf(
      await atTheEdge(withHeader(loadEvent("post-access"), "Authorization", "Bearer caf\u00e9")),
    );

    // Assess
    expect(answer.status).toBe("401");
    expect(answer.body.error.code).toBe("unauthorized");
    expect(journals.calls.length).toBe(calls + 1);
  });

  it("still opens the entry for a well-formed credential", async () => {
    const answer = await atTheEdge(withHeader(loadEvent("post-access"), "Authorization", ALICE));
    expect((answer as CloudFrontResultResponse).status).toBe("200");
  });
});

describe("the built bundles' names", () => {
  it("keep the error classes' names, which the logs print (esbuild keepNames)", async () => {
    // Prepare
    const [edgeCode, originCode] = await Promise.all([
      readFile(join(scratch, "edge", "index.mjs"), "utf8"),
      readFile(join(originDir, "index.mjs"), "utf8"),
    ]);

    // Assess: minified without keepNames, a class's name survives only as a mangled identifier
    for (const name of ["HttpError", "DirectUploadTooLargeError", "UnauthorizedError"]) {
      expect(edgeCode).toContain(`"${name}"`);
    }
    for (const name of ["StorageUnavailableError", "MetadataUnavailableError", "PayloadTooLargeError"]) {
      expect(originCode).toContain(`"${name}"`);
    }
  });
});
