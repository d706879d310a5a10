import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

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

/** A brood token: its user, that user's groups, and the token's own flags (`brood/models.py` `Token`). */
export interface BroodToken {
  readonly userId: string;
  readonly groups: readonly string[];
  readonly active: boolean;
  readonly restricted: boolean;
}

/**
 * Brood's timing, switched per test. `commitDelayMs` runs between a resource's INSERT (which stamps its
 * `created_at`) and its COMMIT (which makes it visible); `replicaLagMs` is how far behind the primary the
 * read-only session that answers `GET /resources/` is.
 */
export interface BroodTiming {
  readonly commitDelayMs?: () => number;
  readonly replicaLagMs?: number;
}

/** Who holds a seeded resource besides the application's group. */
export interface SeedOptions {
  /** The user whose token created it; by default a viewer of the original design, not the gateway. */
  readonly holderUserId?: string;
  /** What the application's group holds: `admin`, as `create_resource` grants, or only `read`. */
  readonly groupPermission?: "admin" | "read";
}

/** A resource with what brood keeps beside it: holders (`resource_holder_permissions`) and its commit. */
interface StoredResource {
  readonly resource: BroodResource;
  readonly holderUsers: ReadonlySet<string>;
  readonly holderGroups: ReadonlySet<string>;
  /** Whether the group holds `admin` (what a delete needs) or only `read`. */
  readonly groupAdmin: boolean;
  /** When its COMMIT made it visible; `Infinity` while the transaction is open. */
  committedAt: number;
  deletedAt?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INTERNAL = { detail: "Internal Server Error" };

/**
 * Bugout's resources API (brood) on loopback, as strict as brood itself (github.com/bugout-dev/brood at
 * 1b31584, `brood/api.py`, `brood/middleware.py`, `brood/resources/{api,actions,data,models}.py`):
 *
 * - Routing as Starlette's `Mount("/resources")` routes it: `POST|GET /resources/` with the slash,
 *   `GET|DELETE /resources/{id}` without; the other spelling is a `307` redirect. `{id}` and the body's
 *   `application_id` must be UUIDs (`422`); a list's `application_id` that is no UUID fails in Postgres
 *   (`500`).
 * - Tokens as `request_user_authorization_with_groups` checks them: none is `401 Not authenticated`,
 *   unknown `404 Access token not found`, inactive `404 Access token not active`, not a UUID `500` (the
 *   query casts it), restricted `403`.
 * - Holders as `create_resource` writes them: the creating user and the application's group, both admin.
 *   A list shows only what the token's user or one of its groups holds; creating needs the user to be in
 *   the application's group (`403 Forbidden`); get needs any permission, delete admin, else
 *   `404 {"detail": "Not Found"}`, exactly as for a resource that does not exist.
 * - Filters as `resource_data[key].astext == value`: a JSON `null` or a missing key never matches.
 * - Timing: `created_at` is stamped at INSERT, the resource is visible from COMMIT, and lists come from a
 *   read replica that may lag (`yield_db_read_only_session`); get and delete read the primary.
 *
 * Faults are switched on per test.
 */
export class BugoutApiDouble {
  public readonly calls: BugoutCall[] = [];
  /** Runs before each request is answered: a test's way to act as another client in between. */
  public beforeAnswer: ((call: BugoutCall) => void) | undefined;
  public timing: BroodTiming = {};
  /** The application's group: its members may create resources and see every resource of it. */
  public readonly applicationGroupId = randomUUID();
  /** The user the gateway's token belongs to, a member of the application's group. */
  public readonly gatewayUserId = randomUUID();
  private readonly tokens = new Map<string, BroodToken>();
  private readonly stored = new Map<string, StoredResource>();
  private readonly server: Server;
  private readonly faults: { method: string; timing: FaultTiming; bodyIncludes: string }[] = [];
  private lastMicros = 0n;

  /**
   * @param token the gateway's token, of a member of the application's group
   * @param applicationId the one application brood knows
   */
  public constructor(
    public readonly token: string,
    public readonly applicationId: string,
  ) {
    this.tokens.set(token, {
      userId: this.gatewayUserId,
      groups: [this.applicationGroupId],
      active: true,
      restricted: false,
    });
    this.server = createServer((request, response) => {
      this.handle(request, response).catch(() => send(response, 500, INTERNAL));
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

  /**
   * Issues another token. By default its user is in no group: brood knows it, lists nothing to it and
   * refuses it every write, as it does a token of the wrong user.
   */
  public addToken(token: string, options: Partial<Omit<BroodToken, "userId">> & { userId?: string } = {}) {
    const entry: BroodToken = {
      userId: options.userId ?? randomUUID(),
      groups: options.groups ?? [],
      active: options.active ?? true,
      restricted: options.restricted ?? false,
    };
    this.tokens.set(token, entry);
    return entry;
  }

  /** Forgets a token, as brood does a revoked one: it is then "Access token not found". */
  public revoke(token: string): void {
    this.tokens.delete(token);
  }

  /** A token of another member of the application's group, as each viewer of the original design had. */
  public memberToken(token = randomUUID()): string {
    this.addToken(token, { groups: [this.applicationGroupId] });
    return token;
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

  /** Forgets every pending fault. */
  public resetFaults(): void {
    this.faults.length = 0;
  }

  /**
   * Stores a committed resource directly, as another writer would have: by default one of the original
   * design's viewers, whose own token created it (so the gateway sees it only through the group).
   */
  public seed(
    resourceData: Record<string, unknown>,
    { holderUserId = randomUUID(), groupPermission = "admin" }: SeedOptions = {},
  ): BroodResource {
    const stored = this.insert(resourceData, holderUserId, groupPermission === "admin");
    stored.committedAt = Date.now() - (this.timing.replicaLagMs ?? 0) - 1;
    return stored.resource;
  }

  /** Removes a resource as another client's delete would, at once on the primary. */
  public remove(id: string): void {
    const stored = this.stored.get(id);
    if (stored && stored.deletedAt === undefined) stored.deletedAt = Date.now();
  }

  /** Every committed resource the primary holds, by id. */
  public get resources(): ReadonlyMap<string, BroodResource> {
    const now = Date.now();
    return new Map(
      [...this.stored]
        .filter(([, stored]) => isLive(stored, now))
        .map(([id, { resource }]) => [id, resource]),
    );
  }

  /** The `resource_data` of every committed resource the primary holds. */
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

    // Starlette's redirect_slashes: a path that matches only with the other spelling is redirected.
    const item = /^\/resources\/([^/]+)(\/?)$/.exec(url.pathname);
    if (url.pathname === "/resources" || (item && item[2] === "/")) {
      const location = url.pathname === "/resources" ? "/resources/" : url.pathname.slice(0, -1);
      response.writeHead(307, { location: `${location}${url.search}` }).end();
      return;
    }
    const isList = url.pathname === "/resources/";
    if (!isList && !item) return send(response, 404, { detail: "Not Found" });
    if (
      (isList && method !== "GET" && method !== "POST") ||
      (item && method !== "GET" && method !== "DELETE")
    ) {
      return send(response, 405, { detail: "Method Not Allowed" });
    }

    const holder = this.authorize(request.headers.authorization);
    if ("status" in holder) return send(response, holder.status, holder.body);
    if (holder.restricted) {
      const action = isList
        ? method === "POST"
          ? "create resource"
          : "list resources"
        : `${method.toLowerCase()} resource`;
      return send(response, 403, { detail: `Restricted tokens are not authorized to ${action}.` });
    }

    const faultIndex = this.faults.findIndex(
      (fault) => fault.method === method && body.includes(fault.bodyIncludes),
    );
    const fault = faultIndex >= 0 ? this.faults.splice(faultIndex, 1)[0] : undefined;
    if (fault?.timing === "before") return send(response, 500, INTERNAL);
    const answer = (status: number, payload: unknown) =>
      fault ? send(response, 500, INTERNAL) : send(response, status, payload);

    if (isList && method === "POST") {
      let parsed: { application_id?: unknown; resource_data?: unknown };
      try {
        parsed = JSON.parse(body) as typeof parsed;
      } catch {
        return send(response, 422, { detail: [{ loc: ["body", 0], msg: "Expecting value" }] });
      }
      const data = parsed.resource_data;
      if (typeof parsed.application_id !== "string" || !UUID.test(parsed.application_id)) {
        return send(response, 422, {
          detail: [
            { loc: ["body", "application_id"], msg: "value is not a valid uuid", type: "type_error.uuid" },
          ],
        });
      }
      if (typeof data !== "object" || data === null || Array.isArray(data)) {
        return send(response, 422, {
          detail: [
            { loc: ["body", "resource_data"], msg: "value is not a valid dict", type: "type_error.dict" },
          ],
        });
      }
      if (parsed.application_id.toLowerCase() !== this.applicationId) {
        return send(response, 404, { detail: "Not found" });
      }
      if (!holder.groups.includes(this.applicationGroupId))
        return send(response, 403, { detail: "Forbidden" });
      // INSERT stamps created_at; only the COMMIT, later, makes the resource visible to anyone.
      const stored = this.insert(data as Record<string, unknown>, holder.userId);
      await sleep(Math.max(0, this.timing.commitDelayMs?.() ?? 0));
      stored.committedAt = Date.now();
      return answer(200, stored.resource);
    }
    if (isList) {
      const params = new Map(url.searchParams);
      const applicationId = params.get("application_id");
      params.delete("application_id");
      // Compared with a UUID column in Postgres: any other text fails the query, which brood answers 500.
      if (applicationId !== undefined && !UUID.test(applicationId)) return send(response, 500, INTERNAL);
      const seenAt = Date.now() - (this.timing.replicaLagMs ?? 0);
      const resources = [...this.stored.values()]
        .filter(
          (stored) =>
            isLive(stored, seenAt) &&
            holds(stored, holder) &&
            (applicationId === undefined || stored.resource.application_id === applicationId.toLowerCase()) &&
            [...params].every(([key, value]) => asText(stored.resource.resource_data[key]) === value),
        )
        .map((stored) => stored.resource);
      return answer(200, { resources });
    }
    const id = (item as RegExpExecArray)[1] as string;
    if (!UUID.test(id)) {
      return send(response, 422, {
        detail: [{ loc: ["path", "resource_id"], msg: "value is not a valid uuid", type: "type_error.uuid" }],
      });
    }
    const stored = this.stored.get(id.toLowerCase());
    // No permission and no resource are one answer in brood: ensure_resource_permission's bare 404.
    if (!stored || !isLive(stored, Date.now()) || !holds(stored, holder)) {
      return send(response, 404, { detail: "Not Found" });
    }
    if (method === "DELETE") {
      const admin = stored.holderUsers.has(holder.userId) || (stored.groupAdmin && holds(stored, holder));
      if (!admin) return send(response, 404, { detail: "Not Found" });
      stored.deletedAt = Date.now();
    }
    return answer(200, stored.resource);
  }

  /** The token's holder, or brood's refusal of it (`brood/middleware.py`). */
  private authorize(authorization: string | undefined): BroodToken | { status: number; body: unknown } {
    const [scheme, token] = (authorization ?? "").split(" ");
    if (!token) return { status: 401, body: { detail: "Not authenticated" } };
    if (scheme?.toLowerCase() !== "bearer")
      return { status: 401, body: { detail: "Unaccepted authorization scheme" } };
    // `Token.id == token` against a UUID column: anything else fails in Postgres, and brood answers 500.
    if (!UUID.test(token)) return { status: 500, body: INTERNAL };
    const found = this.tokens.get(token);
    if (!found) return { status: 404, body: { detail: "Access token not found" } };
    if (!found.active) return { status: 404, body: { detail: "Access token not active" } };
    return found;
  }

  private insert(resourceData: Record<string, unknown>, userId: string, groupAdmin = true): StoredResource {
    const createdAt = this.timestamp();
    const stored: StoredResource = {
      resource: {
        id: randomUUID(),
        application_id: this.applicationId,
        resource_data: resourceData,
        created_at: createdAt,
        updated_at: createdAt,
      },
      holderUsers: new Set([userId]),
      holderGroups: new Set([this.applicationGroupId]),
      groupAdmin,
      committedAt: Number.POSITIVE_INFINITY,
    };
    this.stored.set(stored.resource.id, stored);
    return stored;
  }

  /** Brood's timestamps: UTC with microseconds, strictly increasing in the order of INSERTs. */
  private timestamp(): string {
    const micros = BigInt(Date.now()) * 1000n;
    this.lastMicros = micros > this.lastMicros ? micros : this.lastMicros + 1n;
    const millis = Number(this.lastMicros / 1000n);
    const fraction = String(this.lastMicros % 1_000_000n).padStart(6, "0");
    return `${new Date(millis).toISOString().slice(0, 19)}.${fraction}+00:00`;
  }
}

/** Committed by `at` and not yet deleted then. */
function isLive(stored: StoredResource, at: number): boolean {
  return stored.committedAt <= at && (stored.deletedAt === undefined || stored.deletedAt > at);
}

/** Brood's join on `resource_holder_permissions`: the user itself, or one of its groups. */
function holds(stored: StoredResource, holder: BroodToken): boolean {
  return (
    stored.holderUsers.has(holder.userId) || holder.groups.some((group) => stored.holderGroups.has(group))
  );
}

/**
 * How brood compares a filter with a top-level value, as Postgres' `->>` renders it: a string as itself,
 * anything else as its JSON text, and a JSON `null` or a missing key as SQL NULL, which equals nothing.
 */
function asText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
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
