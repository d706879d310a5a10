import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { CloudFrontClient } from "@aws-sdk/client-cloudfront";
import { parseXML, XmlNode } from "@aws-sdk/xml-builder";
import { CloudFrontInvalidator } from "../../../origin/adapters/CloudFrontInvalidator";
import type { Invalidator } from "../../../origin/domain/ports";
import { close, listen } from "./listen";

/** The namespace every CloudFront API document carries. */
const NAMESPACE = "http://cloudfront.amazonaws.com/doc/2020-05-31/";
const API_VERSION = "/2020-05-31";
const CREATE = /^\/2020-05-31\/distribution\/([^/]+)\/invalidation$/;
const GET = /^\/2020-05-31\/distribution\/([^/]+)\/invalidation\/([^/]+)$/;
/** CloudFront takes at most 3000 paths in one invalidation. */
const MAX_PATHS = 3000;
const MAX_BODY_BYTES = 1024 * 1024;
/** Kept so a retried `CreateInvalidation` (same caller reference) answers the first one again. */
const KEPT_INVALIDATIONS = 1000;
/** The local API takes any SigV4 signature from these; it checks that a request is signed, not by whom. */
const LOCAL_CREDENTIALS = { accessKeyId: "LOCALCLOUDFRONT", secretAccessKey: "local-cloudfront-secret" };

/** One invalidation as the API reports it. */
interface Invalidation {
  readonly id: string;
  readonly createTime: string;
  readonly callerReference: string;
  readonly paths: readonly string[];
}

/** A CloudFront API error: the HTTP status, the code and message of its `ErrorResponse` document. */
class ApiError extends Error {
  public constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The distribution the played API knows, and how its invalidations reach the cache. */
export interface CloudFrontApiOptions {
  /** The one distribution this API knows. */
  readonly distributionId: string;
  /** Applies an invalidation's paths to the played edge cache; called before the API answers. */
  readonly invalidate: (paths: readonly string[]) => void;
  readonly now?: () => Date;
}

/**
 * CloudFront's API as the local gateway plays it, on loopback: `CreateInvalidation` and
 * `GetInvalidation` for one distribution, in the real API's REST paths and XML documents, so the
 * origin's real `CloudFrontInvalidator` (the AWS SDK client) is what calls it. An invalidation is applied
 * before it is answered; it still reports `InProgress` first, as CloudFront does, and `Completed` after.
 */
export class CloudFrontApi {
  private readonly server: Server;
  private readonly invalidations = new Map<string, Invalidation>();
  private readonly now: () => Date;
  private endpointUrl: string | undefined;

  public constructor(private readonly options: CloudFrontApiOptions) {
    this.now = options.now ?? (() => new Date());
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        const failure =
          error instanceof ApiError ? error : new ApiError(500, "InternalError", "The request failed.");
        writeXml(response, failure.status, errorDocument(failure));
      });
    });
  }

  /** Where the API listens, once started: what an SDK client's `endpoint` is set to. */
  public get endpoint(): string {
    if (!this.endpointUrl) throw new Error("The local CloudFront API is not started.");
    return this.endpointUrl;
  }

  public async start(): Promise<string> {
    const port = await listen(this.server, 0);
    this.endpointUrl = `http://127.0.0.1:${port}`;
    return this.endpointUrl;
  }

  public stop(): Promise<void> {
    return close(this.server);
  }

  /** The origin's real invalidator, its SDK client pointed at this API and this distribution. */
  public invalidator(): Invalidator {
    const client = new CloudFrontClient({
      region: "us-east-1",
      endpoint: this.endpoint,
      credentials: LOCAL_CREDENTIALS,
    });
    return new CloudFrontInvalidator(client, this.options.distributionId, randomUUID);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? "/").split("?", 1)[0] ?? "/";
    if (!path.startsWith(API_VERSION)) throw new ApiError(404, "NotFound", "No such API version.");
    if (!request.headers.authorization?.startsWith("AWS4-HMAC-SHA256 ")) {
      throw new ApiError(403, "MissingAuthenticationToken", "Request is missing Authentication Token.");
    }
    const create = CREATE.exec(path);
    if (create && request.method === "POST") {
      this.distribution(create[1]);
      const invalidation = this.create(await readBody(request));
      response.setHeader("location", `${this.endpoint}${path}/${invalidation.id}`);
      return writeXml(response, 201, invalidationDocument(invalidation, "InProgress"));
    }
    const get = GET.exec(path);
    if (get && request.method === "GET") {
      this.distribution(get[1]);
      const invalidation = this.invalidations.get(get[2] ?? "");
      if (!invalidation)
        throw new ApiError(404, "NoSuchInvalidation", "The specified invalidation does not exist.");
      return writeXml(response, 200, invalidationDocument(invalidation, "Completed"));
    }
    throw new ApiError(
      404,
      "NotFound",
      "This local CloudFront API answers CreateInvalidation and GetInvalidation.",
    );
  }

  private distribution(id: string | undefined): void {
    if (decodeURIComponent(id ?? "") !== this.options.distributionId) {
      throw new ApiError(404, "NoSuchDistribution", "The specified distribution does not exist.");
    }
  }

  private create(body: string): Invalidation {
    const { callerReference, paths } = readInvalidationBatch(body);
    for (const earlier of this.invalidations.values()) {
      if (earlier.callerReference !== callerReference) continue;
      if (sameItems(earlier.paths, paths)) return earlier;
      throw new ApiError(
        409,
        "InvalidationBatchAlreadyExists",
        "An invalidation with this caller reference and other paths already exists.",
      );
    }
    this.options.invalidate(paths);
    const invalidation = {
      id: `I${randomBytes(10).toString("hex").toUpperCase().slice(0, 13)}`,
      createTime: this.now().toISOString(),
      callerReference,
      paths,
    };
    this.invalidations.set(invalidation.id, invalidation);
    for (const id of this.invalidations.keys()) {
      if (this.invalidations.size <= KEPT_INVALIDATIONS) break;
      this.invalidations.delete(id);
    }
    return invalidation;
  }
}

/**
 * Reads an `InvalidationBatch` document as CloudFront checks it: a caller reference, `Quantity` equal to
 * the number of `Path` items, each path absolute with `*` only at its end.
 *
 * @throws {ApiError} `MalformedInput`, `InvalidArgument`, `InconsistentQuantities` or `BatchTooLarge`
 */
function readInvalidationBatch(body: string): { callerReference: string; paths: string[] } {
  let document: Record<string, unknown>;
  try {
    document = parseXML(body) as Record<string, unknown>;
  } catch {
    throw new ApiError(400, "MalformedInput", "The XML document is not well formed.");
  }
  const batch = document.InvalidationBatch as Record<string, unknown> | undefined;
  const callerReference = batch?.CallerReference;
  const container = batch?.Paths as Record<string, unknown> | undefined;
  if (typeof callerReference !== "string" || callerReference === "" || !container) {
    throw new ApiError(400, "InvalidArgument", "An InvalidationBatch needs a CallerReference and Paths.");
  }
  const items = (container.Items as Record<string, unknown> | "" | undefined) || {};
  const listed = items.Path;
  const paths = listed === undefined ? [] : Array.isArray(listed) ? listed : [listed];
  if (Number(container.Quantity) !== paths.length) {
    throw new ApiError(400, "InconsistentQuantities", "Quantity does not match the number of paths.");
  }
  if (paths.length === 0)
    throw new ApiError(400, "InvalidArgument", "An invalidation needs at least one path.");
  if (paths.length > MAX_PATHS) {
    throw new ApiError(413, "BatchTooLarge", `An invalidation takes at most ${MAX_PATHS} paths.`);
  }
  for (const path of paths) {
    if (typeof path !== "string" || !path.startsWith("/") || path.slice(0, -1).includes("*")) {
      throw new ApiError(
        400,
        "InvalidArgument",
        "Your request contains one or more invalid invalidation paths.",
      );
    }
  }
  return { callerReference, paths: paths as string[] };
}

function invalidationDocument(invalidation: Invalidation, status: string): XmlNode {
  const items = new XmlNode("Items");
  for (const path of invalidation.paths) items.c(XmlNode.of("Path", path));
  return new XmlNode("Invalidation")
    .a("xmlns", NAMESPACE)
    .c(XmlNode.of("Id", invalidation.id))
    .c(XmlNode.of("Status", status))
    .c(XmlNode.of("CreateTime", invalidation.createTime))
    .c(
      new XmlNode("InvalidationBatch")
        .c(new XmlNode("Paths").c(XmlNode.of("Quantity", String(invalidation.paths.length))).c(items))
        .c(XmlNode.of("CallerReference", invalidation.callerReference)),
    );
}

function errorDocument(error: ApiError): XmlNode {
  return new XmlNode("ErrorResponse")
    .a("xmlns", NAMESPACE)
    .c(
      new XmlNode("Error")
        .c(XmlNode.of("Type", error.status >= 500 ? "Receiver" : "Sender"))
        .c(XmlNode.of("Code", error.code))
        .c(XmlNode.of("Message", error.message)),
    )
    .c(XmlNode.of("RequestId", randomUUID()));
}

function writeXml(response: ServerResponse, status: number, document: XmlNode): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>${document.toString()}`;
  response.writeHead(status, {
    "content-type": "text/xml",
    "content-length": Buffer.byteLength(body),
    "x-amz-request-id": randomUUID(),
  });
  response.end(body);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of request) {
    length += (chunk as Buffer).byteLength;
    if (length > MAX_BODY_BYTES) throw new ApiError(413, "BatchTooLarge", "The request body is too large.");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sameItems(left: readonly string[], right: readonly string[]): boolean {
  return left.length === right.length && left.every((path, index) => path === right[index]);
}
