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
const key = makeKey("bundle");
let dir: string;
let bundle: { file: string; bytes: number };

/** Whether `code` holds the key's secret in any encoding a config or a loader could have put it in. */
function holdsSecret(code: string): boolean {
  const secret = Buffer.from(key.secret);
  return [secret.toString("base64url"), secret.toString("base64"), secret.toString("hex")].some((encoded) =>
    code.includes(encoded),
  );
}

beforeAll(async () => {
  const journalsApiUrl = await journals.start();
  dir = await mkdtemp(join(tmpdir(), "edge-bundle-"));
  process.env.TEST_BUNDLE_SIGNING_KEYS = formatSigningKeys([key]);
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

  it("keeps the AWS SDK external and holds no signing secret, only where to find it", async () => {
    const code = await readFile(bundle.file, "utf8");
    expect(code).toMatch(/import\(["']@aws-sdk\/client-secrets-manager["']\)/);
    expect(code).toContain("TEST_BUNDLE_SIGNING_KEYS");
    expect(holdsSecret(code)).toBe(false);
  });

  it("would be caught holding a secret that reached its baked configuration", async () => {
    // Prepare: a configuration that carries the secret, as a careless key source might
    const leakyDir = await mkdtemp(join(tmpdir(), "edge-bundle-leaky-"));
    try {
      const baked = resolveEdgeConfig({
        journalsApiUrl: "https://journals.test",
        signingKeys: leakyKeySource(),
      });

      // Act
      const { file } = await bundleEdge(leakyDir, baked);

      // Assess
      expect(holdsSecret(await readFile(file, "utf8"))).toBe(true);
    } finally {
      await rm(leakyDir, { recursive: true, force: true });
    }
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

/** A key source that (wrongly) names the secret itself: what the check above must catch. */
function leakyKeySource(): { type: "env"; variable: string } {
  return { type: "env", variable: Buffer.from(key.secret).toString("base64url") };
}
