import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../infra/aws/bundle";

const run = promisify(execFile);
const CLIENT = join(ROOT, "client");
/** What browsers download of the client, minified; it is about 7.5 KB today. */
const BROWSER_BUDGET_BYTES = 12 * 1024;

interface PackageJson {
  name: string;
  private: boolean;
  type: string;
  exports: Record<string, { types: string; default: string } | string>;
  types: string;
  files: string[];
  dependencies?: Record<string, string>;
}

describe("client/ as a package of its own", () => {
  let outDir: string;
  let manifest: PackageJson;

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), "client-package-"));
    manifest = JSON.parse(await readFile(join(CLIENT, "package.json"), "utf8")) as PackageJson;
  });

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it("compiles alone, without Node's types, to the ES module and types its exports name", async () => {
    // Act: the package's own build, into a scratch directory; its tsconfig has no Node types, so a Node
    // API slipping into the client fails here
    await run(process.execPath, [
      join(ROOT, "node_modules/typescript/bin/tsc"),
      "-p",
      CLIENT,
      "--outDir",
      outDir,
    ]);

    // Assess
    const entry = manifest.exports["."] as { types: string; default: string };
    expect(entry.default).toBe("./dist/index.js");
    expect(entry.types).toBe("./dist/index.d.ts");
    const types = await readFile(join(outDir, "index.d.ts"), "utf8");
    expect(types).toContain("createImageGatewayClient");
    expect(types).toContain("ImageGatewayError");
    const module = (await import(pathToFileURL(join(outDir, "index.js")).href)) as Record<string, unknown>;
    expect(Object.keys(module).sort()).toEqual(["ImageGatewayError", "createImageGatewayClient"]);
    expect(
      new (module.ImageGatewayError as new (...args: unknown[]) => Error)(404, "not_found", "x"),
    ).toMatchObject({ status: 404, code: "not_found", name: "ImageGatewayError" });
  }, 60_000);

  it("has no dependencies and is not published by accident", () => {
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest).toMatchObject({
      name: "@image-gateway/client",
      private: true,
      type: "module",
      files: ["dist"],
    });
  });

  it("bundles for browsers from its own files only, within its size budget", async () => {
    const result = await build({
      entryPoints: [join(CLIENT, "index.ts")],
      bundle: true,
      minify: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs).map((input) => relative(ROOT, join(ROOT, input)));
    expect(inputs.filter((input) => !input.startsWith("client/"))).toEqual([]);
    const bytes = result.outputFiles[0]?.contents.byteLength ?? 0;
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(BROWSER_BUDGET_BYTES);
  });
});
