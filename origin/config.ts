import { join } from "node:path";
import { DEFAULT_IMAGES_PREFIX, DEFAULT_VARIANT_WIDTHS } from "../contract/constants";
import { ConfigurationError } from "../contract/errors";
import { type KeySource, keySourceFromEnv, secretRegion } from "../contract/keyLoaders";
import { requireImagesPrefix } from "../contract/keys";
import { parseVariantWidths } from "../contract/variants";
import {
  DEFAULT_BUGOUT_API_URL,
  DEFAULT_DATA_DIR,
  DEFAULT_MAX_DIRECT_UPLOAD_BYTES,
  DEFAULT_MAX_IMAGE_BYTES,
  DEFAULT_MAX_IMAGE_PIXELS,
  DEFAULT_REGION,
  MAX_FITTING_DIRECT_UPLOAD_BYTES,
  OBJECTS_DIRECTORY_NAME,
  SQLITE_FILE_NAME,
} from "./domain/constants";

/** Where a secret comes from: the environment (locally), or Secrets Manager (on AWS), fetched once. */
export type SecretSource =
  | { readonly type: "value"; readonly value: string }
  | { readonly type: "secrets-manager"; readonly secretId: string; readonly region: string };

/** Bugout (brood) resources API, written with the gateway's own token, never a viewer's. */
export interface BugoutStoreConfig {
  readonly type: "bugout";
  readonly apiUrl: string;
  readonly applicationId: string;
  readonly accessToken: SecretSource;
}

/**
 * `IMAGE_STORE`: which adapter keeps the bytes. `s3` (the default, on AWS) is the bucket `BUCKET_NAME`
 * names; `file` is a directory on the local disk (`npm start`), under `DATA_DIR` unless given.
 */
export type ImageStoreConfig =
  | { readonly type: "s3" }
  | { readonly type: "file"; readonly directory: string };

/** `METADATA_STORE`: which adapter keeps the records. */
export type MetadataStoreConfig = { readonly type: "sqlite"; readonly file: string } | BugoutStoreConfig;

/**
 * Everything the origin needs to know, read once per container. It may hold the Bugout token when the
 * environment gives it directly, so it is never logged.
 */
export interface OriginConfig {
  readonly dataDir: string;
  /** First segment(s) of every object key. */
  readonly imagesPrefix: string;
  /** Largest file a direct (multipart) upload may carry. */
  readonly maxDirectUploadBytes: number;
  /** Largest image the gateway stores by any route. */
  readonly maxImageBytes: number;
  /** `MAX_IMAGE_PIXELS`: largest pixel count (width × height × frames) an upload may have. */
  readonly maxImagePixels: number;
  /** `STRIP_IMAGE_METADATA` (default on): remove EXIF, XMP and IPTC from every stored image. */
  readonly stripImageMetadata: boolean;
  /** `VARIANT_WIDTHS`: the preset widths variants are made in. */
  readonly variantWidths: readonly number[];
  readonly images: ImageStoreConfig;
  readonly metadata: MetadataStoreConfig;
  /** CloudFront distribution to invalidate on delete; unset locally. */
  readonly distributionId: string | undefined;
  readonly bucketName: string;
  /** An S3-compatible server to use instead of AWS (path-style addressing). */
  readonly s3Endpoint: string | undefined;
  readonly region: string;
  readonly signingKeys: KeySource;
}

/** Optional fields fall back to the contract's defaults; a SQLite file defaults to one under `dataDir`. */
export type OriginConfigInput = Partial<Omit<OriginConfig, "metadata" | "images">> &
  Pick<OriginConfig, "bucketName" | "signingKeys"> & {
    readonly images?: { readonly type: "s3" } | { readonly type: "file"; readonly directory?: string };
    readonly metadata?: { readonly type: "sqlite"; readonly file?: string } | BugoutStoreConfig;
  };

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BUCKET_NAME_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Fills defaults and checks every value, so a bad deployment fails on its first request with the
 * setting named, not halfway through an upload.
 *
 * @throws {Error} naming the setting that is wrong
 */
export function resolveOriginConfig(input: OriginConfigInput): OriginConfig {
  const dataDir = input.dataDir ?? DEFAULT_DATA_DIR;
  const metadata = input.metadata ?? { type: "sqlite" };
  const images = input.images ?? { type: "s3" };
  const config: OriginConfig = {
    dataDir,
    imagesPrefix: input.imagesPrefix ?? DEFAULT_IMAGES_PREFIX,
    maxDirectUploadBytes: input.maxDirectUploadBytes ?? DEFAULT_MAX_DIRECT_UPLOAD_BYTES,
    maxImageBytes: input.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES,
    maxImagePixels: input.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS,
    stripImageMetadata: input.stripImageMetadata ?? true,
    variantWidths: input.variantWidths ?? DEFAULT_VARIANT_WIDTHS,
    images:
      images.type === "file"
        ? { type: "file", directory: images.directory ?? join(dataDir, OBJECTS_DIRECTORY_NAME) }
        : images,
    metadata:
      metadata.type === "sqlite"
        ? { type: "sqlite", file: metadata.file ?? join(dataDir, SQLITE_FILE_NAME) }
        : metadata,
    distributionId: input.distributionId,
    bucketName: input.bucketName,
    s3Endpoint: input.s3Endpoint,
    region: input.region ?? DEFAULT_REGION,
    signingKeys: input.signingKeys,
  };
  requireImagesPrefix(config.imagesPrefix);
  requireInteger("MAX_IMAGE_BYTES", config.maxImageBytes, 1, Number.MAX_SAFE_INTEGER);
  requireInteger(
    "MAX_DIRECT_UPLOAD_BYTES",
    config.maxDirectUploadBytes,
    1,
    Math.min(config.maxImageBytes, MAX_FITTING_DIRECT_UPLOAD_BYTES),
  );
  requireInteger("MAX_IMAGE_PIXELS", config.maxImagePixels, 1, Number.MAX_SAFE_INTEGER);
  if (!BUCKET_NAME_PATTERN.test(config.bucketName)) {
    throw new ConfigurationError(`BUCKET_NAME "${config.bucketName}" is not a bucket name.`);
  }
  if (config.s3Endpoint !== undefined) requireHttpUrl("S3_ENDPOINT", config.s3Endpoint);
  if (config.metadata.type === "bugout") {
    requireHttpUrl("BUGOUT_API_URL", config.metadata.apiUrl);
    if (!config.metadata.applicationId) throw new ConfigurationError("BUGOUT_APPLICATION_ID is not set.");
    // Brood's resource body types it as a UUID (422 otherwise), and a list compares it with a UUID column.
    if (!UUID_PATTERN.test(config.metadata.applicationId)) {
      throw new ConfigurationError(`BUGOUT_APPLICATION_ID "${config.metadata.applicationId}" is not a UUID.`);
    }
  }
  return config;
}

/**
 * Reads the contract's configuration names from an environment. Signing keys come from `SIGNING_KEYS`
 * (the JSON document), `SIGNING_KEYS_FILE` or `SIGNING_KEYS_SECRET_ID`, as for the edge; the Bugout
 * token from `BUGOUT_ACCESS_TOKEN` or, on AWS, `BUGOUT_ACCESS_TOKEN_SECRET_ID`.
 *
 * @throws {Error} naming the setting that is missing or wrong
 */
export function originConfigFromEnv(env: NodeJS.ProcessEnv): OriginConfig {
  const region = env.AWS_REGION || DEFAULT_REGION;
  const bucketName = env.BUCKET_NAME;
  if (!bucketName) throw new ConfigurationError("BUCKET_NAME is not set.");
  return resolveOriginConfig({
    dataDir: env.DATA_DIR || undefined,
    imagesPrefix: env.IMAGES_PREFIX || undefined,
    maxDirectUploadBytes: optionalNumber(env.MAX_DIRECT_UPLOAD_BYTES),
    maxImageBytes: optionalNumber(env.MAX_IMAGE_BYTES),
    maxImagePixels: optionalNumber(env.MAX_IMAGE_PIXELS),
    stripImageMetadata: optionalBoolean("STRIP_IMAGE_METADATA", env.STRIP_IMAGE_METADATA),
    variantWidths: parseVariantWidths(env.VARIANT_WIDTHS),
    images: imagesFromEnv(env),
    metadata: metadataFromEnv(env, region),
    distributionId: env.DISTRIBUTION_ID || undefined,
    bucketName,
    s3Endpoint: env.S3_ENDPOINT || undefined,
    region,
    signingKeys: keySourceFromEnv({ ...env, AWS_REGION: region }) ?? {
      type: "env",
      variable: "SIGNING_KEYS",
    },
  });
}

function imagesFromEnv(env: NodeJS.ProcessEnv): OriginConfigInput["images"] {
  const type = env.IMAGE_STORE || "s3";
  if (type !== "s3" && type !== "file")
    throw new ConfigurationError(`IMAGE_STORE must be "s3" or "file", not "${type}".`);
  return { type };
}

/** What the variant generator reads: the bucket and the limits, none of the origin's secrets. */
export type GeneratorConfig = Pick<
  OriginConfig,
  "bucketName" | "imagesPrefix" | "variantWidths" | "maxImagePixels" | "s3Endpoint" | "region"
>;

/**
 * The generator's configuration names (`BUCKET_NAME`, `IMAGES_PREFIX`, `VARIANT_WIDTHS`,
 * `MAX_IMAGE_PIXELS`), checked as the origin's are.
 *
 * @throws {Error} naming the setting that is missing or wrong
 */
export function generatorConfigFromEnv(env: NodeJS.ProcessEnv): GeneratorConfig {
  const { bucketName, imagesPrefix, variantWidths, maxImagePixels, s3Endpoint, region } =
    originConfigFromEnv(env);
  return { bucketName, imagesPrefix, variantWidths, maxImagePixels, s3Endpoint, region };
}

function metadataFromEnv(env: NodeJS.ProcessEnv, region: string): OriginConfigInput["metadata"] {
  const type = env.METADATA_STORE || "sqlite";
  if (type === "sqlite") return { type: "sqlite" };
  if (type !== "bugout")
    throw new ConfigurationError(`METADATA_STORE must be "sqlite" or "bugout", not "${type}".`);
  let accessToken: SecretSource;
  if (env.BUGOUT_ACCESS_TOKEN) accessToken = { type: "value", value: env.BUGOUT_ACCESS_TOKEN };
  else if (env.BUGOUT_ACCESS_TOKEN_SECRET_ID) {
    const secretId = env.BUGOUT_ACCESS_TOKEN_SECRET_ID;
    accessToken = { type: "secrets-manager", secretId, region: secretRegion(secretId, region) };
  } else throw new ConfigurationError("BUGOUT_ACCESS_TOKEN or BUGOUT_ACCESS_TOKEN_SECRET_ID must be set.");
  return {
    type: "bugout",
    apiUrl: env.BUGOUT_API_URL || DEFAULT_BUGOUT_API_URL,
    applicationId: env.BUGOUT_APPLICATION_ID ?? "",
    accessToken,
  };
}

// The same precedence as the edge's configuration; an ARN names its secret's region (the keys live in
// us-east-1, beside the edge).
function optionalNumber(value: string | undefined): number | undefined {
  return value === undefined || value === "" ? undefined : Number(value);
}

function optionalBoolean(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value === "") return undefined;
  if (value === "true" || value === "false") return value === "true";
  throw new ConfigurationError(`${name} must be "true" or "false", not "${value}".`);
}

function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(`${name} must be a whole number from ${min} to ${max}, not ${value}.`);
  }
}

function requireHttpUrl(name: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(`${name} "${value}" is not a URL.`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new ConfigurationError(`${name} must be http(s).`);
}
