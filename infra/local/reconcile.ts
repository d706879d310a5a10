/**
 * `npm run reconcile [-- --fix] [-- --grace-seconds=N]`, for a deployed gateway and for the one this
 * machine runs alike.
 *
 * - With `BUCKET_NAME` or `S3_ENDPOINT` set, it is the origin's own command (`origin/reconcileCli.ts`) on
 *   the stores they name, unchanged.
 * - Without them, it checks the local gateway's data under `DATA_DIR` (default `.data`): the file store
 *   under `DATA_DIR/objects` and the metadata beside it, opened directly (`IMAGE_STORE=file`), whether the
 *   gateway is running or not, and after it was killed: the file store's writes are atomic, so there is
 *   nothing half-written to repair first. A `DATA_DIR` still in s3rver's layout is moved over first, as
 *   `npm start` would.
 *
 * The report is printed as JSON; the exit code is 1 when something is left for a person to look at.
 */
import { join } from "node:path";
import { FileImageStore } from "../../origin/adapters/FileImageStore";
import { DEFAULT_DATA_DIR, OBJECTS_DIRECTORY_NAME } from "../../origin/domain/constants";
import { LOCAL_BUCKET } from "./gateway/LocalGateway";
import { migrateS3rverLayout } from "./storage/s3rverMigration";

const env = process.env;
if (!env.BUCKET_NAME && !env.S3_ENDPOINT) {
  const dataDir = env.DATA_DIR || DEFAULT_DATA_DIR;
  const migration = await migrateS3rverLayout(
    dataDir,
    LOCAL_BUCKET,
    await FileImageStore.open(join(dataDir, OBJECTS_DIRECTORY_NAME)),
  );
  // Standard error: standard output is the JSON report.
  if (migration) {
    console.error(
      `reconcile: moved ${migration.migrated} object(s) from s3rver's layout into the file store`,
    );
  }
  // The command reads its stores from the environment, as on AWS; here they are the local ones.
  Object.assign(env, { DATA_DIR: dataDir, IMAGE_STORE: "file", BUCKET_NAME: LOCAL_BUCKET });
}
await import("../../origin/reconcileCli");
