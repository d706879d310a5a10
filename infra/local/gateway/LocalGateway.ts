import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { CloudFrontRequest, Context, S3Event } from "aws-lambda";
import { STAGING_PREFIX } from "../../../contract/constants";
import { corsHeaders } from "../../../contract/cors";
import type { SigningKey } from "../../../contract/KeyRing";
import { staticKeyLoader } from "../../../contract/keyLoaders";
import { describeError, type Log } from "../../../contract/log";
import { imageResponseHeaders } from "../../../contract/responseHeaders";
import { type EdgeConfig, edgeConfigFromEnv } from "../../../edge/config";
import { createEdgeDeps } from "../../../edge/dependencies";
import { createViewerRequestHandler, isGeneratedResponse } from "../../../edge/handler";
import { JournalsApiServer } from "../demo/JournalsApiServer";
import { type LocalStorage, openLocalStorage } from "../storage/LocalStorage";
import { writeError } from "./bucketOrigin";
import { toViewerRequestEvent, writeGeneratedResponse } from "./cloudfrontEvent";
import { close, listen } from "./listen";
import { type DemoUser, demoAccess, loadOrCreateDemoUsers, loadOrCreateSigningKeys } from "./localState";

/**
 * An origin as the local gateway calls it: a fetch handler, the same hono app the ALB Lambda runs, and
 * the same handler for the bucket's notifications.
 */
export interface LocalOrigin {
  fetch(request: Request): Response | Promise<Response>;
  /** Handles an S3 notification of objects created under the staging prefix (finalizes uploads). */
  finalize(event: S3Event): Promise<void>;
  /** The limits the demo page chooses its upload route by. */
  readonly uploadLimits: { readonly maxDirectUploadBytes: number; readonly maxImageBytes: number };
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
}) => Promise<LocalOrigin>;

export interface LocalGatewayOptions {
  /** The contract's configuration names (`PORT`, `DATA_DIR`, `JOURNALS_API_URL`, ...). */
  readonly env: NodeJS.ProcessEnv;
  readonly createOrigin: OriginFactory;
  /** Overrides `PORT`; tests pass 0 for any free port. */
  readonly port?: number;
  readonly log?: Log;
}

/** A running one-machine gateway. */
export interface LocalGateway {
  readonly url: string;
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
const DEMO_PAGE = join(import.meta.dirname, "../demo/index.html");
const LAMBDA_CONTEXT = {} as Context;

/**
 * Starts the whole gateway in this process, playing CloudFront: every request becomes a viewer-request
 * event for the same edge handler AWS runs; what it lets through goes, by the original path as CloudFront
 * matches behaviours, to the origin app (`/api/*`) or to the bucket on disk (everything else).
 */
export async function startLocalGateway(options: LocalGatewayOptions): Promise<LocalGateway> {
  const { env } = options;
  const log: Log = options.log ?? ((entry) => console.log(JSON.stringify(entry)));
  const dataDir = env.DATA_DIR || ".data";
  const parts: { close(): Promise<void> }[] = [];
  try {
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
    const origin = await options.createOrigin({ env, dataDir, storage, keys, log });
    parts.push(origin);
    parts.push(relayStagedUploads(storage, origin, log));
    const bucket = storage.objects;
    const demoPage = demoUsers ? await readFile(DEMO_PAGE) : undefined;
    const server: Server = createServer((request, response) => {
      handle(request, response).catch((error: unknown) => {
        log({ level: "error", event: "local_gateway_failure", error: (error as Error).name });
        if (!response.headersSent) writeError(response, error);
        else response.destroy();
      });
    });

    async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
      const path = (request.url ?? "/").split("?", 1)[0] ?? "/";
      // The bucket's form door and the demo page are the local gateway's own, answered before any
      // CloudFront behaviour: on AWS neither passes through the distribution.
      if (path === uploads.path) return uploads.serve(request, response);
      if (demoPage && demoUsers && (request.method === "GET" || request.method === "HEAD")) {
        if (path === "/") return sendStatic(response, "text/html; charset=utf-8", demoPage);
        if (path === "/demo/users.json")
          return sendStatic(response, "application/json", JSON.stringify(demoUsers));
        if (path === "/demo/config.json") {
          const { maxDirectUploadBytes, maxImageBytes } = origin.uploadLimits;
          const limits = { max_direct_upload_bytes: maxDirectUploadBytes, max_image_bytes: maxImageBytes };
          return sendStatic(response, "application/json", JSON.stringify(limits));
        }
      }
      const host = request.headers.host ?? "localhost";
      const result = await edge(toViewerRequestEvent(request, host), LAMBDA_CONTEXT, () => undefined);
      if (isGeneratedResponse(result)) {
        request.resume();
        return writeGeneratedResponse(response, result);
      }
      const forwarded = result as CloudFrontRequest;
      const cors = corsHeaders(request.headers.origin, edgeConfig.corsAllowedOrigins);
      if (path.startsWith("/api/")) return forwardToOrigin(origin, forwarded, host, request, response, cors);
      const policy = { ...imageResponseHeaders(edgeConfig.tokenTtlSeconds), ...cors };
      return bucket.serve(forwarded.uri.slice(1), request, response, policy);
    }

    const port = await listen(
      server,
      options.port ?? (Number(env.PORT) || DEFAULT_PORT),
      env.HOST ?? "127.0.0.1",
    );
    parts.push({ close: () => close(server) });
    const url = `http://localhost:${port}`;
    return {
      url,
      dataDir,
      storage,
      uploadFormUrl: `${url}${uploads.path}`,
      journalsApiUrl,
      demoUsers,
      edgeConfig,
      close: () => closeAll(parts),
    };
  } catch (error) {
    await closeAll(parts);
    throw error;
  }
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

/** Hands an `/api/*` request, as the edge left it, to the origin app, streaming both bodies. */
async function forwardToOrigin(
  origin: LocalOrigin,
  forwarded: CloudFrontRequest,
  host: string,
  request: IncomingMessage,
  response: ServerResponse,
  cors: Readonly<Record<string, string>>,
): Promise<void> {
  const headers = new Headers();
  for (const [name, values] of Object.entries(forwarded.headers)) {
    for (const { key, value } of values) headers.append(key ?? name, value);
  }
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  const query = forwarded.querystring ? `?${forwarded.querystring}` : "";
  const answer = await origin.fetch(
    new Request(`http://${host}${forwarded.uri}${query}`, {
      method: forwarded.method,
      headers,
      body: hasBody ? (Readable.toWeb(request) as ReadableStream) : undefined,
      // @ts-expect-error: Node's fetch needs `duplex` for a streamed request body; the DOM types lack it.
      duplex: "half",
    }),
  );
  if (!hasBody) request.resume();
  const out: Record<string, string | string[]> = {};
  answer.headers.forEach((value, name) => {
    if (name !== "set-cookie") out[name] = value;
  });
  const cookies = answer.headers.getSetCookie();
  if (cookies.length > 0) out["set-cookie"] = cookies;
  response.writeHead(answer.status, { ...out, ...cors });
  if (!answer.body || request.method === "HEAD") {
    response.end();
    return;
  }
  await pipeline(Readable.fromWeb(answer.body as import("node:stream/web").ReadableStream), response);
}
