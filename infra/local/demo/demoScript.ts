import { build } from "esbuild";

/** Browsers from 2023 on: top-level await, `AbortSignal.throwIfAborted`. */
const BROWSER_TARGETS = ["chrome111", "firefox111", "safari16.4", "edge111"];

/**
 * The demo page's script (`page.ts` and the app client it is built on) as one minified ES module, in
 * memory: the local gateway bundles it at every start, in tens of milliseconds, so a fresh clone's
 * `npm start` needs no build step. Node built-ins do not exist for it, so importing one fails the build.
 */
export async function bundleDemoScript(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    platform: "browser",
    target: BROWSER_TARGETS,
    format: "esm",
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]?.text ?? "";
}
