import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

/**
 * Which top-level folders each folder's code may import from. The kernel (`contract/`) is what both
 * functions keep; it imports neither, and the functions never import each other.
 */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  // The app client is a package of its own: it imports nothing of the gateway, not even the kernel.
  client: ["client"],
  contract: ["contract"],
  edge: ["edge", "contract"],
  origin: ["origin", "contract"],
};

/** Every `from "…"`, `import "…"` and `import("…")` specifier in a source file. */
function importSpecifiers(source: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;
  return [...source.matchAll(pattern)].map((match) => match[1] as string);
}

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => join(folder, file));
}

/** The crossings that break `MAY_IMPORT`, as `file → imported folder`. */
function crossings(folder: string): string[] {
  const allowed = MAY_IMPORT[folder] ?? [];
  return sourceFiles(folder).flatMap((file) =>
    importSpecifiers(readFileSync(join(ROOT, file), "utf8"))
      .filter((specifier) => specifier.startsWith("."))
      .map((specifier) => relative(ROOT, resolve(ROOT, dirname(file), specifier)).split("/")[0] as string)
      .filter((target) => !allowed.includes(target))
      .map((target) => `${file} → ${target}/`),
  );
}

describe("folder boundaries", () => {
  it("finds every kind of import it checks (the check can fail)", () => {
    const source = [
      'import { a } from "../edge/a";',
      'import type { B } from "../../origin/b";',
      'export { c } from "./c";',
      'import "./side-effect";',
      'const d = await import("../edge/d");',
    ].join("\n");
    expect(importSpecifiers(source)).toEqual([
      "../edge/a",
      "../../origin/b",
      "./c",
      "./side-effect",
      "../edge/d",
    ]);
  });

  it.each(Object.keys(MAY_IMPORT))("keeps %s/ to the folders it may import", (folder) => {
    expect(sourceFiles(folder).length).toBeGreaterThan(0);
    expect(crossings(folder)).toEqual([]);
  });
});
