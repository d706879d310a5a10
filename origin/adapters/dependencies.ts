import { randomUUID } from "node:crypto";
import { CloudFrontClient } from "@aws-sdk/client-cloudfront";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { SECRET_REFRESH_MS } from "../../contract/constants";
import { KeyRing } from "../../contract/KeyRing";
import { keyLoaderFor, type SigningKeyLoader } from "../../contract/keyLoaders";
import { consoleLog, type Log } from "../../contract/log";
import { refreshing } from "../../contract/refreshing";
import type { OriginConfig } from "../config";
import type { ImageStore, Invalidator, OriginServices, UploadSigner } from "../domain/ports";
import { CloudFrontInvalidator, noInvalidation } from "./CloudFrontInvalidator";
import { createMetadataStore, type MetadataStoreOverrides } from "./createMetadataStore";
import { FileImageStore } from "./FileImageStore";
import { S3ImageStore } from "./S3ImageStore";
import { S3UploadSigner } from "./S3UploadSigner";

/** Everything the origin app consults. Built once per container and passed in; nothing is global. */
export interface OriginDeps extends OriginServices {
  readonly config: OriginConfig;
  /** The keys that verify the edge's grants, reloaded now and then so a rotation reaches warm containers. */
  readonly keys: () => Promise<KeyRing>;
}

/** The stores alone: what the reconcile command needs. */
export type OriginStores = Pick<OriginDeps, "images" | "metadata">;

/** What a caller may replace: tests and the local gateway pass their own; AWS uses the defaults. */
export interface OriginOverrides extends MetadataStoreOverrides {
  readonly keyLoader?: SigningKeyLoader;
  /** The image store, already open: the local gateway shares its file store with its upload door. */
  readonly images?: ImageStore;
  readonly s3Client?: S3Client;
  readonly uploadSigner?: UploadSigner;
  readonly invalidator?: Invalidator;
  readonly log?: Log;
  readonly now?: () => number;
  readonly uuid?: () => string;
}

/**
 * Builds the origin's dependencies from its configuration: keys loaded now and reloaded every few minutes,
 * one client per service.
 */
export async function createOriginDeps(
  config: OriginConfig,
  overrides: OriginOverrides = {},
): Promise<OriginDeps> {
  const keyLoader = overrides.keyLoader ?? keyLoaderFor(config.signingKeys, overrides.getSecretString);
  const now = overrides.now ?? Date.now;
  const keys = refreshing(async () => KeyRing.create(await keyLoader.load()), SECRET_REFRESH_MS, {
    what: "signing keys",
    now,
    log: overrides.log,
  });
  // Loaded now, so a missing or broken key fails the container's start, not its first grant.
  await keys();
  const uuid = overrides.uuid ?? randomUUID;
  const s3Client = overrides.s3Client ?? s3ClientFor(config);
  return {
    config,
    keys,
    ...(await createOriginStores(config, { ...overrides, s3Client, now })),
    uploadSigner: overrides.uploadSigner ?? new S3UploadSigner(s3Client, config.bucketName),
    invalidator: overrides.invalidator ?? invalidatorFor(config, uuid),
    log: overrides.log ?? consoleLog,
    now,
    uuid,
  };
}

/** The image and metadata stores the configuration names. */
export async function createOriginStores(
  config: OriginConfig,
  overrides: Pick<
    OriginOverrides,
    "images" | "s3Client" | "fetch" | "getSecretString" | "now" | "bugoutSettleMs"
  > = {},
): Promise<OriginStores> {
  return {
    images: overrides.images ?? (await imageStoreFor(config, overrides.s3Client)),
    metadata: await createMetadataStore(config.metadata, overrides),
  };
}

/** The image store `IMAGE_STORE` names: the bucket, or a directory on this machine's disk. */
async function imageStoreFor(config: OriginConfig, s3Client: S3Client | undefined): Promise<ImageStore> {
  if (config.images.type === "file") return FileImageStore.open(config.images.directory);
  return new S3ImageStore(s3Client ?? s3ClientFor(config), config.bucketName);
}

/**
 * An S3 client for the configured bucket. An S3-compatible server is addressed by path and sent only the
 * checksums S3 requires: such servers often lack the newer checksum headers. `extra` adds client settings
 * (credentials for a local server, a retry policy).
 */
export function s3ClientFor(
  config: Pick<OriginConfig, "region" | "s3Endpoint">,
  extra: Omit<S3ClientConfig, "region" | "endpoint"> = {},
): S3Client {
  if (config.s3Endpoint === undefined) return new S3Client({ ...extra, region: config.region });
  return new S3Client({
    ...extra,
    region: config.region,
    endpoint: config.s3Endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

function invalidatorFor(config: OriginConfig, uuid: () => string): Invalidator {
  if (config.distributionId === undefined) return noInvalidation;
  // CloudFront's API lives in us-east-1 whatever region the function runs in.
  return new CloudFrontInvalidator(
    new CloudFrontClient({ region: "us-east-1" }),
    config.distributionId,
    uuid,
  );
}
