import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A brood resource as the API answers it. */
export interface BroodResource {
  readonly id: string;
  readonly application_id: string;
  readonly resource_data: Record<string, unknown>;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface BugoutCall {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
}

/**
 * When a fault strikes a write: `before` refuses it untouched; `after` applies it and then answers 500,
 * as a timeout or a crash after the commit would.
 */
export type FaultTiming = "before" | "after";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Bugout's resources API (brood) on loopback, as the contract describes it: `POST /resources/`,
 * `GET /resources/?application_id=...&key=value` (exact string match on top-level `resource_data` keys,
 * no paging), `GET|DELETE /resources/{id}`, `Authorization: Bearer <token>`, errors as `{"detail": ...}`.
 * Timestamps are brood's: microseconds, in the order the resources were stored. Faults are switched on
 * per test.
 */
export class BugoutApiDouble {
  public readonly resources = new Map<string, BroodResource>();
  public readonly calls: BugoutCall[] = [];
  /** Runs before each request is answered: a test's way to act as another client in between. */
  public beforeAnswer: ((call: BugoutCall) => void) | undefined;
  private readonly server: Server;
  private readonly faults: { method: string; timing: FaultTiming; bodyIncludes: string }[] = [];
  private lastMicros = 0n;

  /**
   * @param token the only bearer token accepted
   * @param applicationId the only application the token may use
   */
  public constructor(
    public readonly token: string,
    public readonly applicationId: string,
  ) {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch(() => send(response, 500, { detail: "Internal Server Error" }));
    });
  }

  public async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  public async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Makes the next `times` requests with `method` (and a body holding `bodyIncludes`) fail with 500. */
  public failNext(
    method: "GET" | "POST" | "DELETE",
    times = 1,
    timing: FaultTiming = "before",
    bodyIncludes = "",
  ): void {
    for (let index = 0; index < times; index += 1) this.faults.push({ method, timing, bodyIncludes });
  }

  /** Stores a resource directly, as another writer (the original design) would have. */
  public seed(resourceData: Record<string, unknown>): BroodResource {
    return this.store(resourceData);
  }

  /** The `resource_data` of every stored resource. */
  public get data(): Record<string, unknown>[] {
    return [...this.resources.values()].map((resource) => resource.resource_data);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://bugout.test");
    const method = request.method ?? "GET";
    const call = {
      method,
      path: `${url.pathname}${url.search}`,
      authorization: request.headers.authorization,
    };
    this.calls.push(call);
    const body = await readBody(request);
    this.beforeAnswer?.(call);

    if (request.headers.authorization !== `Bearer ${this.token}`) {
      return send(response, 401, { detail: "Access token not found" });
    }
    const faultIndex = this.faults.findIndex(
      (fault) => fault.method === method && body.includes(fault.bodyIncludes),
    );
    const fault = faultIndex >= 0 ? this.faults.splice(faultIndex, 1)[0] : undefined;
    if (fault?.timing === "before") return send(response, 500, { detail: "Internal Server Error" });
    const answer = (status: number, payload: unknown) =>
      fault ? send(response, 500, { detail: "Internal Server Error" }) : send(response, status, payload);

    if (url.pathname === "/resources/" && method === "POST") {
      let parsed: { application_id?: unknown; resource_data?: unknown };
      try {
        parsed = JSON.parse(body) as typeof parsed;
      } catch {
        return send(response, 422, { detail: [{ loc: ["body"], msg: "value is not a valid dict" }] });
      }
      const data = parsed.resource_data;
      if (typeof parsed.application_id !== "string" || typeof data !== "object" || data === null) {
        return send(response, 422, { detail: [{ loc: ["body"], msg: "field required" }] });
      }
      if (parsed.application_id !== this.applicationId) return send(response, 404, { detail: "Not found" });
      return answer(200, this.store(data as Record<string, unknown>));
    }
    if (url.pathname === "/resources/" && method === "GET") {
      const filters = [...url.searchParams].filter(([key]) => key !== "application_id");
      const applicationId = url.searchParams.get("application_id");
      const resources = [...this.resources.values()].filter(
        (resource) =>
          (applicationId === null || resource.application_id === applicationId) &&
          filters.every(([key, value]) => asText(resource.resource_data[key]) === value),
      );
      return answer(200, { resources });
    }
    const match = /^\/resources\/([^/]+)$/.exec(url.pathname);
    if (match && (method === "GET" || method === "DELETE")) {
      const id = match[1] as string;
      if (!UUID.test(id)) {
        return send(response, 422, {
          detail: [{ loc: ["path", "resource_id"], msg: "value is not a valid uuid" }],
        });
      }
      const resource = this.resources.get(id);
      if (!resource) return send(response, 404, { detail: "Not Found" });
      if (method === "DELETE") this.resources.delete(id);
      return answer(200, resource);
    }
    send(response, 404, { detail: "Not Found" });
  }

  private store(resourceData: Record<string, unknown>): BroodResource {
    const createdAt = this.timestamp();
    const resource: BroodResource = {
      id: randomUUID(),
      application_id: this.applicationId,
      resource_data: resourceData,
      created_at: createdAt,
      updated_at: createdAt,
    };
    this.resources.set(resource.id, resource);
    return resource;
  }

  /** Brood's timestamps: UTC with microseconds, strictly increasing in the order of writes. */
  private timestamp(): string {
    const micros = BigInt(Date.now()) * 1000n;
    this.lastMicros = micros > this.lastMicros ? micros : this.lastMicros + 1n;
    const millis = Number(this.lastMicros / 1000n);
    const fraction = String(this.lastMicros % 1_000_000n).padStart(6, "0");
    return `${new Date(millis).toISOString().slice(0, 19)}.${fraction}+00:00`;
  }
}

/** How brood compares a filter with a top-level value: as the value's text. */
function asText(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : JSON.stringify(value);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(response: ServerResponse, status: number, payload: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(payload));
}
