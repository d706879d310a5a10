/**
 * `npm run reconcile [-- --fix] [-- --grace-seconds=N]`, for a deployed gateway and for the one this
 * machine runs alike.
 *
 * - With `BUCKET_NAME` or `S3_ENDPOINT` set, it is the origin's own command (`origin/reconcileCli.ts`) on
 *   the stores they name, unchanged.
 * - Without them, it checks the local gateway's data under `DATA_DIR` (default `.data`): it serves
 *   `DATA_DIR/s3` itself with the same S3-compatible server `npm start` uses, on a free loopback port
 *   (the gateway's own port changes at every start), and opens the metadata the gateway keeps there.
 *   It works whether the gateway is running or not, and after it was killed: what an interrupted write
 *   left half-written in the local store is discarded first (see `discardInterruptedWrites`).
 *
 * The report is printed as JSON; the exit code is 1 when something is left for a person to look at.
 */
import { DEFAULT_DATA_DIR } from "../../origin/domain/constants";
import { LOCAL_BUCKET } from "./gateway/LocalGateway";
import { discardInterruptedWrites } from "./storage/s3Recovery";
import { LOCAL_S3_CREDENTIALS, localS3Directory, startLocalS3 } from "./storage/s3Server";

const env = process.env;
if (env.BUCKET_NAME || env.S3_ENDPOINT) {
  await import("../../origin/reconcileCli");
} else {
  const dataDir = env.DATA_DIR || DEFAULT_DATA_DIR;
  const directory = localS3Directory(dataDir);
  const discarded = await discardInterruptedWrites(directory);
  // Standard error: standard output is the JSON report.
  if (discarded.length > 0) {
    console.error(
      `reconcile: discarded ${discarded.length} half-written object metadata file(s) of interrupted writes`,
    );
  }
  const s3 = await startLocalS3({ directory, bucket: LOCAL_BUCKET });
  // The command reads its stores from the environment, as on AWS; here they are the local ones, and the
  // credentials only satisfy the SDK (the local server checks no signature), so none of the user's go out.
  Object.assign(env, {
    DATA_DIR: dataDir,
    BUCKET_NAME: s3.bucket,
    S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
  });
  delete env.AWS_SESSION_TOKEN;
  delete env.AWS_PROFILE;
  try {
    await import("../../origin/reconcileCli");
  } finally {
    await s3.close();
  }
}
