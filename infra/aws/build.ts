/**
 * `npm run build`: bundles every function into `dist/`. The edge bundle built here reads its configuration
 * from the environment; the CDK app bundles it again with the deployment's configuration baked in. Each
 * bundle is also built once without `keepNames`, into a temporary directory, to print what keeping class
 * names (which the logs print) costs.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import {
  type BundleResult,
  bundleEdge,
  bundleGenerator,
  bundleOrigin,
  EDGE_BUNDLE_TARGET_BYTES,
  ROOT,
} from "./bundle";

const scratch = await mkdtemp(join(tmpdir(), "bundle-names-"));
try {
  const edge = await bundleEdge(join(ROOT, "dist/edge"));
  const edgeMangled = await bundleEdge(join(scratch, "edge"), undefined, { keepNames: false });
  const verdict = edge.bytes <= EDGE_BUNDLE_TARGET_BYTES ? "within" : "ABOVE";
  console.log(
    `edge bundle: ${relative(ROOT, edge.file)} ${edge.bytes} bytes (${verdict} the ${EDGE_BUNDLE_TARGET_BYTES}-byte target); ${namesCost(edge, edgeMangled)}`,
  );
  const origin = await bundleOrigin(join(ROOT, "dist/origin"));
  const originMangled = await bundleOrigin(join(scratch, "origin"), { keepNames: false });
  console.log(
    `origin bundle: ${relative(ROOT, origin.file)} ${origin.bytes} bytes; ${namesCost(origin, originMangled)}`,
  );
  const generator = await bundleGenerator(join(ROOT, "dist/generator"));
  const generatorMangled = await bundleGenerator(join(scratch, "generator"), { keepNames: false });
  console.log(
    `variant generator bundle: ${relative(ROOT, generator.file)} ${generator.bytes} bytes; ${namesCost(generator, generatorMangled)}`,
  );
} finally {
  await rm(scratch, { recursive: true, force: true });
}

/** What keeping names costs a bundle, in bytes and relative to the bundle without them. */
function namesCost(kept: BundleResult, mangled: BundleResult): string {
  const added = kept.bytes - mangled.bytes;
  return `keepNames adds ${added} bytes (+${((added / mangled.bytes) * 100).toFixed(1)} %)`;
}
