import type { Writable } from "node:stream";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { HttpError, MethodNotAllowedError, NotFoundError } from "../../contract/errors";
import { consoleLog, describeError, type Log } from "../../contract/log";
import { errorResponse } from "../../contract/responses";
import { s3ClientFor } from "../adapters/dependencies";
import { S3ImageStore } from "../adapters/S3ImageStore";
import { type GeneratorConfig, generatorConfigFromEnv } from "../config";
import type { ImageStore } from "../domain/ports";
import { generateVariant, logVariantFailure, type VariantDeps } from "../domain/variants";

/**
 * Largest variant answered in the body. The generator's function URL streams its response
 * (`RESPONSE_STREAM`: up to 200 MB, where a buffered one carries 6 MB, base64 and headers included), so
 * any preset of an image within `MAX_IMAGE_PIXELS` practically fits. A larger variant is stored all the
 * same and answered with a redirect to the very URL the viewer asked for (`Location: #`, an empty
 * fragment), which the bucket, the origin group's primary, then serves: the viewer's token stays in its
 * own URL and never passes through the generator.
 */
export const MAX_INLINE_VARIANT_BYTES = 190 * 1024 * 1024;
/** Largest variant a buffered function URL answer carries: 6 MB less base64's third and the headers. */
export const MAX_BUFFERED_VARIANT_BYTES = 4 * 1024 * 1024;

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
  // No Cache-Control, as the stored object has none: CloudFront keeps it by the cache policy's TTL, and
  // the images' response headers policy, which never overrides, gives browsers the token's lifetime.
  const headers = { "content-type": contentType, "content-length": String(bytes.byteLength) };
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

/** The generator's answer to a function URL event (payload format 2.0), failures included. */
async function answerEvent(
  event: APIGatewayProxyEventV2,
  deps: VariantDeps,
  maxInlineBytes: number,
): Promise<VariantAnswer> {
  return answerVariantRequest(event.requestContext.http.method, event.rawPath, deps, maxInlineBytes).catch(
    (error: unknown) => {
      consoleLog({ level: "error", event: "variant_handler_failure", error: describeError(error) });
      return errorAnswer(new HttpError(500, "internal_error", "The variant could not be made."));
    },
  );
}

/**
 * The generator as a buffered Lambda function URL handler (payload format 2.0): what runs where Lambda's
 * response streaming is not available. `resolveDeps` is called per invocation and should memoize.
 */
export function createVariantHandler(
  resolveDeps: () => VariantDeps,
): (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2> {
  return async (event) => {
    const answer = await answerEvent(event, resolveDeps(), MAX_BUFFERED_VARIANT_BYTES);
    const binary = typeof answer.body !== "string";
    return {
      statusCode: answer.status,
      headers: { ...answer.headers },
      body: binary ? Buffer.from(answer.body).toString("base64") : (answer.body as string),
      isBase64Encoded: binary,
    };
  };
}

/** What the Node.js Lambda runtime offers a streaming handler (its global `awslambda`). */
export interface StreamingRuntime {
  streamifyResponse(
    handler: (event: APIGatewayProxyEventV2, responseStream: Writable) => Promise<void>,
  ): unknown;
  readonly HttpResponseStream: {
    from(stream: Writable, metadata: { statusCode: number; headers: Record<string, string> }): Writable;
  };
}

/**
 * The generator as a streaming Lambda function URL handler (`InvokeMode: RESPONSE_STREAM`): status and
 * headers first, then the variant's bytes as they are, no base64, up to 200 MB.
 */
export function createStreamingVariantHandler(
  runtime: StreamingRuntime,
  resolveDeps: () => VariantDeps,
): unknown {
  return runtime.streamifyResponse(async (event, responseStream) => {
    const answer = await answerEvent(event, resolveDeps(), MAX_INLINE_VARIANT_BYTES);
    const stream = runtime.HttpResponseStream.from(responseStream, {
      statusCode: answer.status,
      headers: { ...answer.headers },
    });
    await new Promise<void>((resolve, reject) => {
      stream.once("error", reject);
      stream.end(typeof answer.body === "string" ? answer.body : Buffer.from(answer.body), resolve);
    });
  });
}

/** Provided by the Node.js Lambda runtime, absent everywhere else. */
declare const awslambda: StreamingRuntime | undefined;

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

function deployedDeps(): VariantDeps {
  if (!deployed) {
    const config = generatorConfigFromEnv(process.env);
    // The generator's role may not list the bucket (see VariantGenerator): a missing original is a 403.
    const images = new S3ImageStore(s3ClientFor(config), config.bucketName, undefined, true);
    deployed = variantDepsOf(config, images, consoleLog);
  }
  return deployed;
}

/** The deployed generator: streaming on Lambda, buffered wherever the runtime's streaming is absent. */
export const handler =
  typeof awslambda !== "undefined" && typeof awslambda?.streamifyResponse === "function"
    ? createStreamingVariantHandler(awslambda, deployedDeps)
    : createVariantHandler(deployedDeps);
