/**
 * `npm run reconcile [-- --fix] [-- --grace-seconds=N] [-- --allow-mass-removal] [-- --remove-old-orphans]`:
 * lists objects without records and records without objects in the configured stores (the same
 * environment as the origin, the Bugout token checked first as at the origin's start); `--fix` removes
 * the orphan objects, the original design's records whose bytes never arrived, and sets its objects'
 * types. `--fix` removes no orphan when the listing looks blind (no record, or most objects unrecorded)
 * unless `--allow-mass-removal`, nor orphans older than the gateway's own records unless
 * `--remove-old-orphans`. Prints the report as JSON and exits 1 when something is left for a person to
 * look at, 2 (with one line on standard error) when the stores were refused at the start.
 *
 * First it looks at presigned uploads whose finalize never completed (a staged object older than the grace
 * period: what the finalize failure queue holds); `--fix` finalizes each again and settles one that fails
 * again as rejected `finalize_failed`. Its findings are the report's `stalledUploads`.
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { createOriginStores } from "./adapters/dependencies";
import { originConfigFromEnv } from "./config";
import { DEFAULT_RECONCILE_GRACE_MS, needsAttention, reconcile } from "./domain/reconcile";
import { settleStalledUploads, stalledNeedAttention } from "./domain/stalledUploads";

const { values } = parseArgs({
  options: {
    fix: { type: "boolean", default: false },
    "allow-mass-removal": { type: "boolean", default: false },
    "remove-old-orphans": { type: "boolean", default: false },
    "grace-seconds": { type: "string", default: String(DEFAULT_RECONCILE_GRACE_MS / 1000) },
  },
});
const graceSeconds = Number(values["grace-seconds"]);
if (!Number.isFinite(graceSeconds) || graceSeconds < 0) {
  throw new Error(`--grace-seconds must be a number of seconds, not "${values["grace-seconds"]}".`);
}

const config = originConfigFromEnv(process.env);
let stores: Awaited<ReturnType<typeof createOriginStores>>;
try {
  stores = await createOriginStores(config);
} catch (error) {
  // A store that cannot be trusted (a Bugout token that sees nothing) is refused before anything is read.
  console.error(`reconcile: refused: ${(error as Error).message}`);
  process.exit(2);
}
try {
  // Before reconcile, which may prune long-expired tickets: a stalled upload still needs its ticket.
  const stalledUploads = await settleStalledUploads(
    {
      ...stores,
      imagesPrefix: config.imagesPrefix,
      bucketName: config.bucketName,
      maxImageBytes: config.maxImageBytes,
      imagePolicy: { maxPixels: config.maxImagePixels, stripMetadata: config.stripImageMetadata },
      // Standard error: standard output is the JSON report.
      log: (entry) => console.error(JSON.stringify(entry)),
      now: Date.now,
      uuid: randomUUID,
    },
    { fix: values.fix, graceMs: graceSeconds * 1000 },
  );
  const report = await reconcile(
    { imagesPrefix: config.imagesPrefix, ...stores, now: Date.now },
    {
      fix: values.fix,
      graceMs: graceSeconds * 1000,
      allowMassRemoval: values["allow-mass-removal"],
      removeOldOrphans: values["remove-old-orphans"],
    },
  );
  console.log(JSON.stringify({ ...report, stalledUploads }, null, 2));
  process.exitCode = needsAttention(report) || stalledNeedAttention(stalledUploads) ? 1 : 0;
} finally {
  await stores.metadata.close();
}
