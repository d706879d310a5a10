/**
 * `npm run build`: bundles every function into `dist/`. The edge bundle built here reads its configuration
 * from the environment; the CDK app bundles it again with the deployment's configuration baked in.
 */
import { join, relative } from "node:path";
import { bundleEdge, bundleGenerator, bundleOrigin, EDGE_BUNDLE_TARGET_BYTES, ROOT } from "./bundle";

const edge = await bundleEdge(join(ROOT, "dist/edge"));
const verdict = edge.bytes <= EDGE_BUNDLE_TARGET_BYTES ? "within" : "ABOVE";
console.log(
  `edge bundle: ${relative(ROOT, edge.file)} ${edge.bytes} bytes (${verdict} the ${EDGE_BUNDLE_TARGET_BYTES}-byte target)`,
);
const origin = await bundleOrigin(join(ROOT, "dist/origin"));
console.log(`origin bundle: ${relative(ROOT, origin.file)} ${origin.bytes} bytes`);
const generator = await bundleGenerator(join(ROOT, "dist/generator"));
console.log(`variant generator bundle: ${relative(ROOT, generator.file)} ${generator.bytes} bytes`);
