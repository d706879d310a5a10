import type { Context } from "aws-lambda";
import { formatSigningKeys, staticKeyLoader } from "../../../contract/keyLoaders";
import { createOriginDeps } from "../../../origin/adapters/dependencies";
import { originConfigFromEnv } from "../../../origin/config";
import type { UploadSigner } from "../../../origin/domain/ports";
import { createApp } from "../../../origin/http/app";
import { createOriginHandler } from "../../../origin/http/handler";
import { answerVariantRequest, variantDepsOf } from "../../../origin/http/variantHandler";
import type { OriginFactory } from "./LocalGateway";

const LAMBDA_CONTEXT = {} as Context;

/**
 * The origin as the local gateway runs it: the same hono app the ALB Lambda serves and the same handler
 * for S3 notifications, on the file store and SQLite under `DATA_DIR`, with the keys the local edge
 * signs with. Presigned forms are signed with the storage's own credentials, for the gateway's door at
 * `uploadFormUrl`; deletes invalidate the played CloudFront through the real invalidator it is given.
 */
export const createLocalOrigin: OriginFactory = async ({
  env,
  dataDir,
  storage,
  keys,
  log,
  uploadFormUrl,
  invalidator,
}) => {
  const config = originConfigFromEnv({
    ...env,
    DATA_DIR: dataDir,
    IMAGE_STORE: "file",
    BUCKET_NAME: storage.bucket,
    S3_ENDPOINT: undefined,
    SIGNING_KEYS: formatSigningKeys(keys),
  });
  const deps = await createOriginDeps(config, {
    keyLoader: staticKeyLoader(keys),
    // The very store the door writes to: one process, one lock per key.
    images: storage.images,
    uploadSigner: formsTo(uploadFormUrl, storage.uploadSigner),
    invalidator,
    log,
  });
  const app = createApp(deps);
  const variants = variantDepsOf(config, deps.images, log);
  const handler = createOriginHandler(async () => deps);
  return {
    fetch: (request) => app.fetch(request),
    finalize: (event) => handler(event, LAMBDA_CONTEXT),
    failover: (method, path) => answerVariantRequest(method, path, variants),
    close: () => deps.metadata.close(),
  };
};

/**
 * `signer`'s forms, sent to `url`: the door under the gateway's public URL, never an address built from
 * the request (the origin is handed a fixed authority, and a viewer's `Host` is no one's to choose).
 */
function formsTo(url: string, signer: UploadSigner): UploadSigner {
  return { presignPost: async (key, limits) => ({ ...(await signer.presignPost(key, limits)), url }) };
}
