import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { HttpError, MethodNotAllowedError, NotFoundError } from "../../contract/errors";
import { consoleLog, describeError, type Log } from "../../contract/log";
import { errorResponse } from "../../contract/responses";
import { s3ClientFor } from "../adapters/dependencies";
import { S3ImageStore } from "../adapters/S3ImageStore";
import { type GeneratorConfig, generatorConfigFromEnv } from "../config";
import { IMAGE_CACHE_CONTROL } from "../domain/constants";
import type { ImageStore } from "../domain/ports";
import { generateVariant, logVariantFailure, type VariantDeps } from "../domain/variants";

/**
 * Largest variant answered in the body. A Lambda function URL buffers at most 6 MB of response, and a
 * binary body travels base64-encoded (4/3 larger) inside it with its headers: 4 MiB of bytes stays clear
 * of that. A larger variant is stored all the same and answered with a redirect to the very URL the
 * viewer asked for (`Location: #`, an empty fragment), which the bucket, the origin group's primary,
 * then serves: the viewer's token stays in its own URL and never passes through the generator.
 */
export const MAX_INLINE_VARIANT_BYTES = 4 * 1024 * 1024;

/** The generator's answer, whatever carries it (a function URL on AWS, the local gateway). */
export interface VariantAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array | string;
}

/**
 * The origin group's failover origin: CloudFront asks it for an object key the bucket did not have (its
 * 403 or 404). A preset variant's key is generated, stored and answered; any other key (an original that
 * is not there, a variant of a missing image) is the contract's `404 not_found` JSON, never cached, so
 * the bucket's XML 403 never reaches a viewer. Only GET and HEAD: CloudFront fails over those alone.
 */
export async function answerVariantRequest(
  method: string,
  path: string,
  deps: VariantDeps,
  maxInlineBytes = MAX_INLINE_VARIANT_BYTES,
): Promise<VariantAnswer> {
  if (method !== "GET" && method !== "HEAD") return errorAnswer(new MethodNotAllowedError(["GET", "HEAD"]));
  const key = decodeKey(path);
  let outcome: Awaited<ReturnType<typeof generateVariant>>;
  try {
    outcome = key === undefined ? { kind: "missing" } : await generateVariant(key, deps);
  } catch (error) {
    logVariantFailure(key ?? "", error, deps);
    return errorAnswer(error);
  }
  if (outcome.kind === "missing") return errorAnswer(new NotFoundError("No such image."));
  const { bytes, contentType } = outcome.variant;
  if (bytes.byteLength > maxInlineBytes) {
    return { status: 302, headers: { location: "#", "cache-control": "no-store" }, body: "" };
  }
  const headers = {
    "content-type": contentType,
    "content-length": String(bytes.byteLength),
    "cache-control": IMAGE_CACHE_CONTROL,
  };
  return { status: 200, headers, body: method === "HEAD" ? "" : bytes };
}

function errorAnswer(error: unknown): VariantAnswer {
  const { status, headers, body } = errorResponse(error);
  return { status, headers, body };
}

/** The object key of a request path as CloudFront sends it (percent-encoded, leading slash). */
function decodeKey(path: string): string | undefined {
  try {
    return decodeURIComponent(path).replace(/^\/+/, "");
  } catch {
    return undefined;
  }
}

/**
 * The generator as a Lambda function URL handler (payload format 2.0). `resolveDeps` is called per
 * invocation and should memoize.
 */
export function createVariantHandler(
  resolveDeps: () => VariantDeps,
): (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2> {
  return async (event) => {
    const answer = await answerVariantRequest(
      event.requestContext.http.method,
      event.rawPath,
      resolveDeps(),
    ).catch((error: unknown) => {
      consoleLog({ level: "error", event: "variant_handler_failure", error: describeError(error) });
      return errorAnswer(new HttpError(500, "internal_error", "The variant could not be made."));
    });
    const binary = typeof answer.body !== "string";
    return {
      statusCode: answer.status,
      headers: { ...answer.headers },
      body: binary ? Buffer.from(answer.body).toString("base64") : (answer.body as string),
      isBase64Encoded: binary,
    };
  };
}

let deployed: VariantDeps | undefined;

/** The generator's dependencies on an image store, from its configuration. */
export function variantDepsOf(
  config: Pick<GeneratorConfig, "imagesPrefix" | "variantWidths" | "maxImagePixels">,
  images: ImageStore,
  log: Log,
): VariantDeps {
  return {
    images,
    log,
    imagesPrefix: config.imagesPrefix,
    variantWidths: config.variantWidths,
    maxPixels: config.maxImagePixels,
  };
}

/** The deployed generator: configuration from the environment, one S3 client per container. */
export const handler = createVariantHandler(() => {
  if (!deployed) {
    const config = generatorConfigFromEnv(process.env);
    // The generator's role may not list the bucket (see VariantGenerator): a missing original is a 403.
    const images = new S3ImageStore(s3ClientFor(config), config.bucketName, undefined, true);
    deployed = variantDepsOf(config, images, consoleLog);
  }
  return deployed;
});
