import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import type { CloudFrontRequest, Context, S3Event } from "aws-lambda";
import { STAGING_PREFIX } from "../../../contract/constants";
import { corsHeaders } from "../../../contract/cors";
import { BadRequestError, ServiceUnavailableError } from "../../../contract/errors";
import type { SigningKey } from "../../../contract/KeyRing";
import { staticKeyLoader } from "../../../contract/keyLoaders";
import { describeError, type Log } from "../../../contract/log";
import { imageResponseHeaders } from "../../../contract/responseHeaders";
import { type EdgeConfig, edgeConfigFromEnv } from "../../../edge/config";
import { createEdgeDeps } from "../../../edge/dependencies";
import { createViewerRequestHandler, isGeneratedResponse } from "../../../edge/handler";
import type { Invalidator } from "../../../origin/domain/ports";
import type { VariantAnswer } from "../../../origin/http/variantHandler";
import { IMAGE_CACHE_TTL_SECONDS } from "../../aws/imageCachePolicy";
import { bundleDemoScript } from "../demo/demoScript";
import { JournalsApiServer } from "../demo/JournalsApiServer";
import { type LocalStorage, openLocalStorage } from "../storage/LocalStorage";
import { albBodyTooLarge, readLambdaBody } from "./alb";
import { CachedImages } from "./CachedImages";
import { CloudFrontApi } from "./CloudFrontApi";
import { LOCAL_DISTRIBUTION_ID, toViewerRequestEvent, writeGeneratedResponse } from "./cloudfrontEvent";
import { EdgeCache, type EdgeCacheStats } from "./EdgeCache";
import { writeError } from "./errorAnswer";
import { hostError, originUrl, publicUrlOf } from "./hosts";
import type { ImageSource } from "./imageSource";
import { listen } from "./listen";
import { type DemoUser, demoAccess, loadOrCreateDemoUsers, loadOrCreateSigningKeys } from "./localState";
import { OriginGroup } from "./OriginGroup";
import { createViewerServer, type ViewerTimeouts } from "./ViewerServer";

/**
 * An origin as the local gateway calls it: a fetch handler, the same hono app the ALB Lambda runs, and
 * the same handler for the bucket's notifications.
 */
export interface LocalOrigin {
  fetch(request: Request): Response | Promise<Response>;
  /** Handles an S3 notification of objects created under the staging prefix (finalizes uploads). */
  finalize(event: S3Event): Promise<void>;
  /**
   * The image behaviour's failover origin, the variant generator: asked for a key the store lacks, it
   * makes and stores a preset variant, or answers the contract's 404.
   */
  failover(method: string, key: string): Promise<VariantAnswer>;
  close(): Promise<void>;
}

/** Builds the origin for the local gateway; `infra/local/start.ts` wires the real one. */
export type OriginFactory = (options: {
  readonly env: NodeJS.ProcessEnv;
  readonly dataDir: string;
  /** The bucket on this machine's disk, its form signer included. */
  readonly storage: LocalStorage;
  readonly keys: readonly SigningKey[];
  readonly log: Log;
  /** Where presigned forms go: the gateway's own door, under its public URL. */
  readonly uploadFormUrl: string;
  /** The origin's real CloudFront invalidator, pointed at the played CloudFront API. */
  readonly invalidator: Invalidator;
}) => Promise<LocalOrigin>;

export interface LocalGatewayOptions {
  /** The contract's configuration names (`PORT`, `DATA_DIR`, `JOURNALS_API_URL`, ...). */
  readonly env: NodeJS.ProcessEnv;
  readonly createOrigin: OriginFactory;
  /** Overrides `PORT`; tests pass 0 for any free port. */
  readonly port?: number;
  readonly log?: Log;
  /** Overrides `CDN_CACHE_BYTES`: the played CloudFront cache's bound (0 caches nothing). */
  readonly cdnCacheBytes?: number;
  /** Wraps what answers image reads behind the played CloudFront (tests count its reads). */
  readonly wrapImageSource?: (source: ImageSource) => ImageSource;
  /** The viewer-facing server's timeouts; production-like defaults. */
  readonly timeouts?: ViewerTimeouts;
  /** How long closing waits for requests under way; 10 s by default. */
  readonly shutdownGraceMs?: number;
}

/** A running one-machine gateway. */
export interface LocalGateway {
  /** The listen address, as a URL on `localhost`. */
  readonly url: string;
  /** `PUBLIC_URL`, else `url`: what presigned form URLs are built from. */
  readonly publicUrl: string;
  /** The played CloudFront API (`CreateInvalidation`, `GetInvalidation`) on loopback. */
  readonly cloudFrontApiUrl: string;
  /** The played CloudFront cache's contents and use. */
  cdnCache(): EdgeCacheStats;
  readonly dataDir: string;
  /** The bucket on this machine's disk (`DATA_DIR/objects`). */
  readonly storage: LocalStorage;
  /** Where presigned upload forms go: the gateway's own door to its bucket. */
  readonly uploadFormUrl: string;
  readonly journalsApiUrl: string;
  /** The built-in journals API's users, when no `JOURNALS_API_URL` was given. */
  readonly demoUsers: readonly DemoUser[] | undefined;
  readonly edgeConfig: EdgeConfig;
  /** Stops taking requests, lets those under way finish, then closes every part. */
  close(): Promise<void>;
}

export const LOCAL_BUCKET = "image-gateway-local";
const DEFAULT_PORT = 8080;
/**
 * `CDN_CACHE_BYTES` default: 128 MiB of image bodies (plus keys and a fixed cost per entry) at most.
 * One object may take a quarter of it, so every image up to the default `MAX_IMAGE_BYTES` is kept.
 */
export const DEFAULT_CDN_CACHE_BYTES = 128 * 1024 * 1024;
const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
const DEMO_PAGE = join(import.meta.dirname, "../demo/index.html");
const DEMO_SCRIPT = join(import.meta.dirname, "../demo/page.ts");
const LAMBDA_CONTEXT = {} as Context;

/**
 * Starts the whole gateway in this process, playing CloudFront: every request becomes a viewer-request
 * event for the same edge handler AWS runs; what it lets through goes, by the original path as CloudFront
 * matches behaviours, to the origin app through the played ALB (`/api/*`) or to the played edge cache in
 * front of the bucket on disk (everything else). Deletes invalidate that cache through the played
 * CloudFront API.
 */
export async function startLocalGateway(options: LocalGatewayOptions): Promise<LocalGateway> {
  const { env } = options;
  const log: Log = options.log ?? ((entry) => console.log(JSON.stringify(entry)));
  const dataDir = env.DATA_DIR || ".data";
  const parts: { close(): Promise<void> }[] = [];
  // The front door closes first, draining what is under way before anything behind it goes.
  let frontDoor: { close(): Promise<void> } | undefined;
  const closeEverything = async () => {
    await frontDoor?.close().catch(() => undefined);
    await closeAll(parts);
  };
  try {
    const requestedPort = options.port ?? (Number(env.PORT) || DEFAULT_PORT);
    const listenHost = env.HOST ?? "127.0.0.1";
    const cache = new EdgeCache({ maxBytes: options.cdnCacheBytes ?? cacheBytesFromEnv(env) });
    const keys = await loadOrCreateSigningKeys(dataDir, env);

    let demoUsers: DemoUser[] | undefined;
    let journalsApiUrl = env.JOURNALS_API_URL;
    if (!journalsApiUrl) {
      demoUsers = await loadOrCreateDemoUsers(dataDir);
      const journals = new JournalsApiServer(demoAccess(demoUsers));
      journalsApiUrl = await journals.start();
      parts.push({ close: () => journals.stop() });
    }

    const edgeConfig = edgeConfigFromEnv({ ...env, JOURNALS_API_URL: journalsApiUrl });
    const edgeDeps = await createEdgeDeps(edgeConfig, { keyLoader: staticKeyLoader(keys), log });
    const edge = createViewerRequestHandler(async () => edgeDeps);
    const storage = await openLocalStorage({
      dataDir,
      bucket: LOCAL_BUCKET,
      corsAllowedOrigins: edgeConfig.corsAllowedOrigins,
      log,
    });
    parts.push(storage);
    const uploads = storage.door;
    // The image behaviour's origin group: the bucket, and on its miss the variant generator.
    const group = new OriginGroup(storage.objects, (key) => origin.failover("GET", `/${key}`));
    const images = new CachedImages({
      source: options.wrapImageSource ? options.wrapImageSource(group) : group,
      cache,
      ttls: IMAGE_CACHE_TTL_SECONDS,
    });
    const cloudFront = new CloudFrontApi({
      distributionId: LOCAL_DISTRIBUTION_ID,
      invalidate: (paths) => {
        const removed = images.invalidate(paths);
        log({ level: "info", event: "cdn_invalidation", paths, removed });
      },
    });
    const cloudFrontApiUrl = await cloudFront.start();
    parts.push({ close: () => cloudFront.stop() });

    // The port is known only once listening, and the public URL (for presigned forms) may depend on it:
    // the server listens first and answers only once the origin is ready.
    let ready: ((request: IncomingMessage, response: ServerResponse) => Promise<void>) | undefined;
    const viewer = createViewerServer(
      (request, response) => {
        if (!ready)
          return Promise.reject(
            new ServiceUnavailableError("gateway_unavailable", "The gateway is starting; try again."),
          );
        return ready(request, response);
      },
      {
        ...(options.timeouts && { timeouts: options.timeouts }),
        onError: (error) =>
          log({ level: "error", event: "local_gateway_failure", error: describeError(error) }),
      },
    );
    const port = await listen(viewer.server, requestedPort, listenHost);
    frontDoor = { close: () => viewer.shutdown(options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS) };
    const url = `http://localhost:${port}`;
    const publicUrl = publicUrlOf(env.PUBLIC_URL, url);
    const publicHost = new URL(publicUrl).host;

    const origin = await options.createOrigin({
      env,
      dataDir,
      storage,
      keys,
      log,
      uploadFormUrl: `${publicUrl}${uploads.path}`,
      invalidator: cloudFront.invalidator(),
    });
    parts.push(origin);
    parts.push(relayStagedUploads(storage, origin, log));
    // Bundled at every start (tens of milliseconds), so a fresh clone's `npm start` needs no build step.
    const demoPage = demoUsers ? await readFile(DEMO_PAGE) : undefined;
    const demoScript = demoUsers ? await bundleDemoScript(DEMO_SCRIPT) : undefined;

    ready = async (request, response) => {
      const target = request.url ?? "/";
      // CloudFront routes by the path alone; the Host header is checked, never used to build a URL.
      const refused = hostError(request);
      if (refused) return writeError(response, refused);
      if (!target.startsWith("/")) {
        return writeError(
          response,
          new BadRequestError("invalid_request", "The request target must be a path."),
        );
      }
      const path = target.split("?", 1)[0] ?? "/";
      // The bucket's form door and the demo page are the local gateway's own, answered before any
      // CloudFront behaviour: on AWS neither passes through the distribution.
      if (path === uploads.path) return uploads.serve(request, response);
      if (demoPage && demoScript && demoUsers && (request.method === "GET" || request.method === "HEAD")) {
        if (path === "/") return sendStatic(response, "text/html; charset=utf-8", demoPage);
        if (path === "/demo/page.js")
          return sendStatic(response, "text/javascript; charset=utf-8", demoScript);
        if (path === "/demo/users.json")
          return sendStatic(response, "application/json", JSON.stringify(demoUsers));
      }
      const event = toViewerRequestEvent(request, publicHost);
      const result = await edge(event, LAMBDA_CONTEXT, () => undefined);
      if (isGeneratedResponse(result)) return writeGeneratedResponse(response, result);
      const forwarded = result as CloudFrontRequest;
      const cors = corsHeaders(request.headers.origin, edgeConfig.corsAllowedOrigins);
      if (path.startsWith("/api/")) return forwardToOrigin(origin, forwarded, request, response, cors);
      const headers = imageResponseHeaders(edgeConfig.tokenTtlSeconds);
      // The policy's Vary (Accept, Origin) replaces the CORS answer's own, as CloudFront's override does.
      const policy = { ...cors, ...headers };
      return images.serve(forwarded.uri.slice(1), request, response, policy);
    };

    return {
      url,
      publicUrl,
      cloudFrontApiUrl,
      cdnCache: () => cache.stats(),
      dataDir,
      storage,
      uploadFormUrl: `${publicUrl}${uploads.path}`,
      journalsApiUrl,
      demoUsers,
      edgeConfig,
      close: closeEverything,
    };
  } catch (error) {
    await closeEverything();
    throw error;
  }
}

/** `CDN_CACHE_BYTES`, a whole number of bytes; unset is the default bound. */
function cacheBytesFromEnv(env: NodeJS.ProcessEnv): number {
  if (!env.CDN_CACHE_BYTES) return DEFAULT_CDN_CACHE_BYTES;
  const bytes = Number(env.CDN_CACHE_BYTES);
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new Error(`CDN_CACHE_BYTES must be a whole number of bytes, not "${env.CDN_CACHE_BYTES}".`);
  }
  return bytes;
}

/**
 * Hands the bucket's notifications of objects created under the staging prefix to the origin's finalize,
 * as the bucket's notification configuration does on AWS, without holding up the upload door.
 * A failure is logged, never thrown; closing waits for the finalizations under way.
 */
function relayStagedUploads(
  storage: LocalStorage,
  origin: LocalOrigin,
  log: Log,
): { close(): Promise<void> } {
  const running = new Set<Promise<void>>();
  let relaying = true;
  storage.onObjectCreated((event) => {
    const records = event.Records.filter(
      (record) =>
        record.eventName.startsWith("ObjectCreated:") && record.s3.object.key.startsWith(STAGING_PREFIX),
    );
    if (!relaying || records.length === 0) return;
    const run: Promise<void> = origin
      .finalize({ Records: records })
      .catch((error: unknown) =>
        log({ level: "error", event: "local_finalize_failure", error: describeError(error) }),
      )
      .finally(() => running.delete(run));
    running.add(run);
  });
  return {
    close: async () => {
      relaying = false;
      await Promise.allSettled(running);
    },
  };
}

/** Closes in reverse order of starting: the front door first, storage last. */
async function closeAll(parts: { close(): Promise<void> }[]): Promise<void> {
  for (const part of parts.splice(0).reverse()) await part.close().catch(() => undefined);
}

function sendStatic(response: ServerResponse, contentType: string, body: string | Buffer): void {
  response.writeHead(200, {
    "content-type": contentType,
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(body),
  });
  response.end(body);
}

/**
 * Hands an `/api/*` request, as the edge left it, to the origin app as the ALB does: the body read whole
 * first (refused with the contract's `413` above the ALB's limit for Lambda targets), the URL built from
 * a fixed authority and the path alone, and the answer passed back whole with its length, as a Lambda
 * target's response is (buffered, at most 1 MB).
 */
async function forwardToOrigin(
  origin: LocalOrigin,
  forwarded: CloudFrontRequest,
  request: IncomingMessage,
  response: ServerResponse,
  cors: Readonly<Record<string, string>>,
): Promise<void> {
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  const body = hasBody ? await readLambdaBody(request) : undefined;
  if (hasBody && body === undefined) return writeError(response, albBodyTooLarge(), cors);
  const headers = new Headers();
  for (const [name, values] of Object.entries(forwarded.headers)) {
    // The ALB states the length of the body it passes; the viewer's framing stays with the viewer.
    if (name === "host" || name === "content-length") continue;
    for (const { key, value } of values) headers.append(key ?? name, value);
  }
  const query = forwarded.querystring ? `?${forwarded.querystring}` : "";
  const answer = await origin.fetch(
    new Request(originUrl(forwarded.uri, query), {
      method: forwarded.method,
      headers,
      // As one chunk of a stream: a buffer given as the body would be copied whole first.
      ...(body && { body: oneChunk(body), duplex: "half" }),
    } as RequestInit),
  );
  const out: Record<string, string | string[]> = {};
  answer.headers.forEach((value, name) => {
    if (name !== "set-cookie") out[name] = value;
  });
  const cookies = answer.headers.getSetCookie();
  if (cookies.length > 0) out["set-cookie"] = cookies;
  const payload = request.method === "HEAD" ? undefined : Buffer.from(await answer.arrayBuffer());
  if (payload) out["content-length"] = String(payload.byteLength);
  // The API behaviour's cache policy is CachingDisabled: every answer is a miss.
  response.writeHead(answer.status, { ...out, ...cors, "x-cache": "Miss from cloudfront" });
  response.end(payload);
}

/** A stream of `bytes` as its only chunk. */
function oneChunk(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start: (controller) => {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}
