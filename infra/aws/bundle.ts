import { cp, mkdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BuildOptions, build } from "esbuild";
import type { EdgeConfig } from "../../edge/config";

/** Repository root, whichever script imports this. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** Lambda@Edge refuses a viewer-request package above 1 MB. */
export const EDGE_BUNDLE_LIMIT_BYTES = 1024 * 1024;
/** What we hold ourselves to, far under the limit, so cold starts stay fast. */
export const EDGE_BUNDLE_TARGET_BYTES = 50 * 1024;

/** What a caller may change about a bundle: only `npm run build`'s size comparison does. */
export interface BundleOptions {
  /** Keep class and function names through minification (the default: logs name error classes). */
  readonly keepNames?: boolean;
}

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
export async function bundleEdge(
  outdir: string,
  config?: EdgeConfig,
  options: BundleOptions = {},
): Promise<BundleResult> {
  const result = await bundleFunction("edge/handler.ts", outdir, {
    external: ["@aws-sdk/*"],
    define: config ? { __IMAGE_GATEWAY_EDGE_CONFIG__: JSON.stringify(config) } : {},
    ...options,
  });
  if (result.bytes > EDGE_BUNDLE_LIMIT_BYTES) {
    throw new Error(
      `Edge bundle is ${result.bytes} bytes, above Lambda@Edge's ${EDGE_BUNDLE_LIMIT_BYTES}-byte limit.`,
    );
  }
  return result;
}

/**
 * Bundles the origin function (ALB target and S3 event handler) into one minified ESM file reading its
 * configuration from the environment. The AWS SDK's clients stay external (the runtime provides them),
 * and so does better-sqlite3: only the local gateway uses SQLite, and the origin loads it lazily. Its
 * helpers (`@aws-sdk/s3-presigned-post`) are bundled: the runtime does not promise them.
 */
export async function bundleOrigin(outdir: string, options: BundleOptions = {}): Promise<BundleResult> {
  return bundleImageFunction("origin/http/handler.ts", outdir, ["better-sqlite3"], options);
}

/**
 * Bundles the variant generator (the origin group's failover origin, behind a function URL) into
 * `index.mjs`, sharp beside it as for the origin.
 */
export async function bundleGenerator(outdir: string, options: BundleOptions = {}): Promise<BundleResult> {
  return bundleImageFunction("origin/http/variantHandler.ts", outdir, [], options);
}

/**
 * sharp for Lambda (Linux, arm64, glibc): its JavaScript and the `@img/sharp-linux-arm64` and
 * `@img/sharp-libvips-linux-arm64` binaries. npm skips optional packages of another platform, and
 * refuses them as plain dependencies (EBADPLATFORM), so the root `postinstall` installs this folder's
 * lockfile with `--os=linux --cpu=arm64 --libc=glibc`: after `npm install`, bundling needs no network.
 */
export const SHARP_RUNTIME_MODULES = join(ROOT, "infra/aws/sharp-runtime/node_modules");
/** The native parts an asset must carry for sharp to load on Lambda's arm64. */
export const SHARP_ARM64_PACKAGES = ["@img/sharp-linux-arm64", "@img/sharp-libvips-linux-arm64"] as const;

/**
 * A function that processes images: bundled with sharp external (a native module esbuild cannot
 * bundle), which is copied with its arm64 binaries into the asset's `node_modules`.
 *
 * @throws {Error} when the arm64 sharp runtime is not installed (run `npm install`)
 */
async function bundleImageFunction(
  entry: string,
  outdir: string,
  external: readonly string[],
  options: BundleOptions,
): Promise<BundleResult> {
  for (const name of SHARP_ARM64_PACKAGES) {
    await stat(join(SHARP_RUNTIME_MODULES, name)).catch(() => {
      throw new Error(
        `${name} is missing from ${SHARP_RUNTIME_MODULES}: run npm install (its postinstall adds it).`,
      );
    });
  }
  const result = await bundleFunction(entry, outdir, {
    ...options,
    external: ["@aws-sdk/client-*", "sharp", ...external],
    // Bundled CommonJS (file-type's `debug`) requires Node built-ins, which an ES module must be given.
    banner: {
      js: 'import { createRequire as __bannerCreateRequire } from "node:module"; const require = __bannerCreateRequire(import.meta.url);',
    },
  });
  await cp(SHARP_RUNTIME_MODULES, join(outdir, "node_modules"), { recursive: true, dereference: true });
  return result;
}

/** One Lambda function as one minified ESM file, `index.mjs`, for Node 20 and later. */
async function bundleFunction(entry: string, outdir: string, options: BuildOptions): Promise<BundleResult> {
  await mkdir(outdir, { recursive: true });
  const file = join(outdir, "index.mjs");
  await build({
    entryPoints: [join(ROOT, entry)],
    outfile: file,
    bundle: true,
    minify: true,
    // Errors are logged by class name (`StorageUnavailableError: ...`); minified names would say nothing.
    keepNames: true,
    platform: "node",
    target: "node20",
    format: "esm",
    legalComments: "eof",
    logLevel: "warning",
    ...options,
  });
  const { size: bytes } = await stat(file);
  return { file, bytes };
}
