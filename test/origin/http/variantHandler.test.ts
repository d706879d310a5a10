import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_VARIANT_WIDTHS } from "../../../contract/constants";
import { FileImageStore } from "../../../origin/adapters/FileImageStore";
import type { VariantDeps } from "../../../origin/domain/variants";
import {
  answerVariantRequest,
  createStreamingVariantHandler,
  createVariantHandler,
  type StreamingRuntime,
} from "../../../origin/http/variantHandler";
import { MEADOW_PATH } from "../../support/photos";

const IMAGE_KEY = "dev/journal-1/entries/entry-1/images/3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71";
const EVENT: APIGatewayProxyEventV2 = JSON.parse(
  readFileSync(join(import.meta.dirname, "../../events/lambda-url/variant-get.json"), "utf8"),
);

describe("the variant generator, the images origin group's failover origin", () => {
  let root: string;
  let deps: VariantDeps;
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "generator-"));
    const images = await FileImageStore.open(root);
    const photo = await readFile(MEADOW_PATH);
    await images.put(IMAGE_KEY, photo, {
      contentType: "image/jpeg",
      sha256: createHash("sha256").update(photo).digest("hex"),
    });
    deps = {
      images,
      log: (entry) => logs.push(entry),
      imagesPrefix: "dev",
      variantWidths: DEFAULT_VARIANT_WIDTHS,
      maxPixels: 100_000_000,
    };
  });

  afterAll(() => rm(root, { recursive: true, force: true }));

  it("answers a function URL event with the variant, base64 as a function URL result carries it, and stores it", async () => {
    // Act
    const result = await createVariantHandler(() => deps)(EVENT);

    // Assess
    expect(result.statusCode).toBe(200);
    expect(result.isBase64Encoded).toBe(true);
    expect(result.headers).toMatchObject({ "content-type": "image/webp" });
    // None of its own: the images policy gives browsers the token's lifetime, CloudFront keeps it a year.
    expect(result.headers?.["cache-control"]).toBeUndefined();
    const bytes = Buffer.from(result.body as string, "base64");
    expect((await sharp(bytes).metadata()).width).toBe(320);
    expect((await deps.images.get(`${IMAGE_KEY}.w320.webp`))?.bytes).toEqual(new Uint8Array(bytes));
  });

  it("streams the variant as Lambda's response streaming carries it: status and headers, then raw bytes", async () => {
    // Prepare: the runtime's `awslambda` as the Node.js runtime gives it to a streaming handler
    const written: { metadata?: unknown; chunks: Buffer[] } = { chunks: [] };
    const runtime: StreamingRuntime = {
      streamifyResponse: (handler) => handler,
      HttpResponseStream: {
        from: (stream, metadata) => {
          written.metadata = metadata;
          return stream;
        },
      },
    };
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        written.chunks.push(chunk);
        done();
      },
    });
    const handler = createStreamingVariantHandler(runtime, () => deps) as (
      event: APIGatewayProxyEventV2,
      stream: Writable,
    ) => Promise<void>;

    // Act
    await handler({ ...EVENT, rawPath: `/${IMAGE_KEY}.w160.avif` }, sink);

    // Assess
    expect(written.metadata).toMatchObject({
      statusCode: 200,
      headers: { "content-type": "image/avif" },
    });
    expect((await sharp(Buffer.concat(written.chunks)).metadata()).width).toBe(160);
  });

  it("answers HEAD with the headers alone", async () => {
    const answer = await answerVariantRequest("HEAD", `/${IMAGE_KEY}.w160.png`, deps);
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("image/png");
    expect(answer.body).toBe("");
  });

  it.each([
    [
      "an original the bucket does not have",
      "dev/journal-1/entries/entry-1/images/00000000-0000-4000-8000-000000000000",
    ],
    [
      "a variant of an image that is not there",
      "dev/journal-1/entries/entry-1/images/00000000-0000-4000-8000-000000000000.w320.webp",
    ],
    ["a width that is not a preset", `${IMAGE_KEY}.w333.webp`],
    [
      "a key outside the images prefix",
      `incoming/journal-1/entries/entry-1/images/3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71.w320.webp`,
    ],
    ["a key of another shape", "dev/../../etc/passwd"],
  ])("answers %s with the contract's 404 JSON, never cached", async (_case, key) => {
    const answer = await answerVariantRequest("GET", `/${key}`, deps);
    expect(answer.status).toBe(404);
    expect(answer.headers["cache-control"]).toBe("no-store");
    expect(JSON.parse(answer.body as string)).toEqual({
      error: { code: "not_found", message: "No such image." },
    });
  });

  it("refuses methods CloudFront never fails over", async () => {
    const answer = await answerVariantRequest("POST", `/${IMAGE_KEY}.w320.webp`, deps);
    expect(answer.status).toBe(405);
  });

  it("stores a variant larger than a response may carry and redirects the viewer to its own URL", async () => {
    // Act: a limit below the variant's size stands for Lambda's 6 MB
    const answer = await answerVariantRequest("GET", `/${IMAGE_KEY}.w640.png`, deps, 1024);

    // Assess: `#` resolves to the very URL asked for, query (token) and all; the bucket serves it next
    expect(answer).toEqual({
      status: 302,
      headers: { location: "#", "cache-control": "no-store" },
      body: "",
    });
    const stored = await deps.images.get(`${IMAGE_KEY}.w640.png`);
    expect(stored?.bytes.byteLength).toBeGreaterThan(1024);
    expect(stored?.contentType).toBe("image/png");
  });
});
