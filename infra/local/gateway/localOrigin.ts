import type { Context } from "aws-lambda";
import { formatSigningKeys, staticKeyLoader } from "../../../contract/keyLoaders";
import { createOriginDeps } from "../../../origin/adapters/dependencies";
import { S3UploadSigner } from "../../../origin/adapters/S3UploadSigner";
import { originConfigFromEnv } from "../../../origin/config";
import { createApp } from "../../../origin/http/app";
import { createOriginHandler } from "../../../origin/http/handler";
import type { OriginFactory } from "./LocalGateway";

const LAMBDA_CONTEXT = {} as Context;

/**
 * The origin as the local gateway runs it: the same hono app the ALB Lambda serves and the same handler
 * for S3 notifications, on the local S3-compatible server and SQLite under `DATA_DIR`, with the keys the
 * local edge signs with. Presigned forms go to the gateway's own `uploadFormPath`.
 */
export const createLocalOrigin: OriginFactory = async ({ env, dataDir, s3, keys, log, uploadFormPath }) => {
  const config = originConfigFromEnv({
    ...env,
    DATA_DIR: dataDir,
    BUCKET_NAME: s3.bucket,
    S3_ENDPOINT: s3.endpoint,
    SIGNING_KEYS: formatSigningKeys(keys),
  });
  const deps = await createOriginDeps(config, {
    keyLoader: staticKeyLoader(keys),
    s3Client: s3.client,
    uploadSigner: new S3UploadSigner(s3.client, s3.bucket, uploadFormPath),
    log,
  });
  const app = createApp(deps);
  const handler = createOriginHandler(async () => deps, log);
  return {
    fetch: (request) => app.fetch(request),
    finalize: (event) => handler(event, LAMBDA_CONTEXT),
    uploadLimits: { maxDirectUploadBytes: config.maxDirectUploadBytes, maxImageBytes: config.maxImageBytes },
    close: () => deps.metadata.close(),
  };
};
