import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { CloudFrontRequest, CloudFrontRequestHandler } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatSigningKeys } from "../../contract/keyLoaders";
import { resolveEdgeConfig } from "../../edge/config";
import { bundleEdge, EDGE_BUNDLE_LIMIT_BYTES, EDGE_BUNDLE_TARGET_BYTES } from "../../infra/aws/bundle";
import { ACCESS, CONTEXT, IMAGE_ID, loadEvent, makeKey } from "../support/edge";
import { FaultyJournalsApi } from "../support/journalsApi";

const journals = new FaultyJournalsApi(ACCESS);
let dir: string;
let bundle: { file: string; bytes: number };

beforeAll(async () => {
  const journalsApiUrl = await journals.start();
  dir = await mkdtemp(join(tmpdir(), "edge-bundle-"));
  process.env.TEST_BUNDLE_SIGNING_KEYS = formatSigningKeys([makeKey("bundle")]);
  const config = resolveEdgeConfig({
    journalsApiUrl,
    imagesPrefix: "baked/images",
    signingKeys: { type: "env", variable: "TEST_BUNDLE_SIGNING_KEYS" },
  });
  bundle = await bundleEdge(dir, config);
}, 60_000);

afterAll(async () => {
  delete process.env.TEST_BUNDLE_SIGNING_KEYS;
  await journals.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("the edge bundle", () => {
  it("is one file far under Lambda@Edge's limit", () => {
    expect(bundle.file.endsWith("index.mjs")).toBe(true);
    expect(bundle.bytes).toBeLessThan(EDGE_BUNDLE_LIMIT_BYTES);
    expect(bundle.bytes).toBeLessThanOrEqual(EDGE_BUNDLE_TARGET_BYTES);
  });

  it("keeps the AWS SDK external and holds no signing secret", async () => {
    const code = await readFile(bundle.file, "utf8");
    expect(code).toMatch(/import\(["']@aws-sdk\/client-secrets-manager["']\)/);
    expect(code).not.toContain(process.env.TEST_BUNDLE_SIGNING_KEYS);
  });

  it("runs as a viewer-request handler with its configuration baked in", async () => {
    // Prepare
    const { handler } = (await import(pathToFileURL(bundle.file).href)) as {
      handler: CloudFrontRequestHandler;
    };

    // Act
    const result = (await handler(
      loadEvent("image-authorization"),
      CONTEXT,
      () => undefined,
    )) as CloudFrontRequest;

    // Assess: the baked prefix, not the default, shaped the object key
    expect(result.uri).toBe(`/baked/images/journal-1/entries/entry-1/images/${IMAGE_ID}`);
    expect(journals.calls).toHaveLength(1);
  });
});
