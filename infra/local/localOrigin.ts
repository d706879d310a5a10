import { formatSigningKeys, staticKeyLoader } from "../../edge/keyLoaders";
import { createApp } from "../../origin/app";
import { originConfigFromEnv } from "../../origin/config";
import { createOriginDeps } from "../../origin/dependencies";
import type { OriginFactory } from "./LocalGateway";

/**
 * The origin as the local gateway runs it: the same hono app the ALB Lambda serves, on the local
 * S3-compatible server and SQLite under `DATA_DIR`, with the keys the local edge signs with.
 */
export const createLocalOrigin: OriginFactory = async ({ env, dataDir, s3, keys, log }) => {
  const config = originConfigFromEnv({
    ...env,
    DATA_DIR: dataDir,
    BUCKET_NAME: s3.bucket,
    S3_ENDPOINT: s3.endpoint,
    SIGNING_KEYS: formatSigningKeys(keys),
  });
  const deps = await createOriginDeps(config, { keyLoader: staticKeyLoader(keys), s3Client: s3.client, log });
  const app = createApp(deps);
  return { fetch: (request) => app.fetch(request), close: () => deps.metadata.close() };
};
