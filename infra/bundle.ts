import { mkdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { EdgeConfig } from "../edge/config";

/** Repository root, whichever script imports this. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Lambda@Edge refuses a viewer-request package above 1 MB. */
export const EDGE_BUNDLE_LIMIT_BYTES = 1024 * 1024;
/** What we hold ourselves to, far under the limit, so cold starts stay fast. */
export const EDGE_BUNDLE_TARGET_BYTES = 50 * 1024;

export interface BundleResult {
  readonly file: string;
  readonly bytes: number;
}

/**
 * Bundles the viewer-request function into one minified ESM file with `config` baked in (Lambda@Edge has
 * no environment variables). Without a config the bundle reads the environment, which only suits local use.
 * The AWS SDK stays external: the Lambda runtime provides it.
 *
 * @throws {Error} when the bundle outgrows the Lambda@Edge limit
 */
export async function bundleEdge(outdir: string, config?: EdgeConfig): Promise<BundleResult> {
  await mkdir(outdir, { recursive: true });
  const file = join(outdir, "index.mjs");
  await build({
    entryPoints: [join(ROOT, "edge/handler.ts")],
    outfile: file,
    bundle: true,
    minify: true,
    platform: "node",
    target: "node20",
    format: "esm",
    external: ["@aws-sdk/*"],
    legalComments: "eof",
    define: config ? { __IMAGE_GATEWAY_EDGE_CONFIG__: JSON.stringify(config) } : {},
    logLevel: "warning",
  });
  const { size: bytes } = await stat(file);
  if (bytes > EDGE_BUNDLE_LIMIT_BYTES) {
    throw new Error(
      `Edge bundle is ${bytes} bytes, above Lambda@Edge's ${EDGE_BUNDLE_LIMIT_BYTES}-byte limit.`,
    );
  }
  return { file, bytes };
}

/**
 * Bundles the origin function (ALB target) into one minified ESM file reading its configuration from the
 * environment. The AWS SDK stays external (the runtime provides it), and so does better-sqlite3: only the
 * local gateway uses SQLite, and the origin loads it lazily, so the Lambda path never needs it.
 */
export async function bundleOrigin(outdir: string): Promise<BundleResult> {
  await mkdir(outdir, { recursive: true });
  const file = join(outdir, "index.mjs");
  await build({
    entryPoints: [join(ROOT, "origin/handler.ts")],
    outfile: file,
    bundle: true,
    minify: true,
    platform: "node",
    target: "node20",
    format: "esm",
    external: ["@aws-sdk/*", "better-sqlite3"],
    // Bundled CommonJS (file-type's `debug`) requires Node built-ins, which an ES module must be given.
    banner: {
      js: 'import { createRequire as __bannerCreateRequire } from "node:module"; const require = __bannerCreateRequire(import.meta.url);',
    },
    legalComments: "eof",
    logLevel: "warning",
  });
  const { size: bytes } = await stat(file);
  return { file, bytes };
}
