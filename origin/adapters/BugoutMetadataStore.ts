import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigurationError } from "../../contract/errors";
import { imageUrl } from "../../contract/keys";
import type { EntryRef, Fetch, ImageRef, UploadRef } from "../../contract/types";
import { settleEach } from "../domain/concurrency";
import { CONTENT_TYPES_BY_EXTENSION } from "../domain/constants";
import { MetadataUnavailableError } from "../domain/errors";
import type {
  ImageRecord,
  MetadataStore,
  PutOutcome,
  UploadOutcome,
  UploadRecord,
  UploadStatus,
} from "../domain/ports";

/** How to reach brood's resources API. */
export interface BugoutStoreOptions {
  /** Base URL, e.g. `https://auth.bugout.dev`. */
  readonly apiUrl: string;
  readonly applicationId: string;
  /** The gateway's own token, never a viewer's; asked per call, so the caller memoizes it. */
  readonly accessToken: () => Promise<string>;
  readonly fetch?: Fetch;
  readonly timeoutMs?: number;
  /**
   * How long after its own write a writer waits before it reads what racing writers wrote: longer than
   * brood takes from a resource's INSERT to its COMMIT plus how far its read replica lags.
   */
  readonly settleMs?: number;
  /** Milliseconds since the epoch: when upload tickets have expired. */
  readonly now?: () => number;
}

/** A resource as brood answers it. */
interface BroodResource {
  readonly id: string;
  readonly application_id: string;
  readonly resource_data: Readonly<Record<string, unknown>>;
  readonly created_at: string;
  readonly updated_at: string;
}

/** Top-level `resource_data` keys brood filters on by exact string match. */
type ResourceFilter = Partial<
  Record<"id" | "journal_id" | "entry_id" | "sha256" | "type" | "upload_id" | "upload_entry", string>
>;

/**
 * The `type` of an upload ticket's resource. Its record sits under `upload`, so no top-level key of an
 * image (`journal_id`, `entry_id`, `sha256`) matches it and brood's filters keep it out of image listings.
 */
const UPLOAD_TYPE = "image_upload";
/** The `type` of the resource the start-up check writes and removes again. */
const PROBE_TYPE = "image_gateway_probe";
const UPLOAD_STATUSES: readonly UploadStatus[] = ["pending", "ready", "rejected"];

const DEFAULT_TIMEOUT_MS = 5_000;
/** Brood answers a whole application in one response, under its 10 s statement timeout and then some. */
const LIST_ALL_TIMEOUT_MS = 60_000;
/**
 * Brood commits a resource within the request that inserts it (milliseconds), and hosted brood's replica
 * lags well under a second: a second covers both.
 */
export const DEFAULT_BUGOUT_SETTLE_MS = 1_000;
/** How long a settled or expired upload ticket is kept after its form expired, for clients still polling. */
export const UPLOAD_TICKET_RETENTION_MS = 24 * 60 * 60 * 1000;
const DELETE_CONCURRENCY = 8;
const MAX_DETAIL_LENGTH = 200;

/** Brood's own words for a token it does not accept (`brood/middleware.py`). */
const TOKEN_REFUSALS = ["Access token not found", "Access token not active"];

/**
 * Records as resources of one Bugout application (brood's resources API): `resource_data` is the record
 * itself, so the original design's keys keep their meaning and its resources stay readable.
 *
 * Brood has no uniqueness rule, stamps `created_at` at INSERT but shows a resource only from its COMMIT,
 * and answers lists from a read replica that may lag. So deduplication is settled after the write, from a
 * read made `settleMs` later, when every resource inserted before this one is visible: of the resources
 * holding the same bytes in an entry, the one brood inserted first stays, and every other writer removes
 * its own. Each store also remembers, for `settleMs`, what it wrote and deleted itself, so its own reads
 * never go back in time.
 *
 * Upload tickets are resources of their own `type`, settled the same way: a settlement is a new resource,
 * the first one inserted wins, and the ticket and any later settlement are removed. Tickets are removed
 * `UPLOAD_TICKET_RETENTION_MS` after they expired, so they do not pile up in every listing.
 */
export class BugoutMetadataStore implements MetadataStore {
  private readonly baseUrl: string;
  private readonly fetchImpl: Fetch;
  private readonly timeoutMs: number;
  private readonly settleMs: number;
  private readonly now: () => number;
  /** This store's own recent writes and deletes, overlaid on lists until the replica has them too. */
  private readonly recentWrites = new Map<string, { resource: BroodResource; until: number }>();
  private readonly recentDeletes = new Map<string, number>();

  public constructor(private readonly options: BugoutStoreOptions) {
    this.baseUrl = options.apiUrl.replace(/\/+$/, "");
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.settleMs = options.settleMs ?? DEFAULT_BUGOUT_SETTLE_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Proves at start that the token may do what the gateway needs: writes a probe resource (brood lets
   * only members of the application's group create, and gives that group every resource of the
   * application, the original design's included), then deletes it.
   *
   * @throws {Error} one line naming what is wrong and the fix
   */
  public async verifyAccess(): Promise<void> {
    const application = `Bugout application ${this.options.applicationId}`;
    let probe: BroodResource;
    try {
      probe = await this.create({ type: PROBE_TYPE, probe_id: randomUUID() });
    } catch (error) {
      const { broodStatus: status, detail } =
        error instanceof BugoutCallError ? error : { broodStatus: 0, detail: describe(error) };
      const fix =
        "BUGOUT_ACCESS_TOKEN must be an active, unrestricted token of a user in the application's group";
      if (error instanceof BugoutTokenError)
        throw new ConfigurationError(`Bugout refused BUGOUT_ACCESS_TOKEN (${detail}): ${fix}.`);
      if (status === 403 && detail === "Forbidden") {
        throw new ConfigurationError(
          `BUGOUT_ACCESS_TOKEN's user is not in the group of ${application}: brood would list none of its images and refuse every write. ${fix}.`,
        );
      }
      if (status === 403)
        throw new ConfigurationError(`Bugout refused BUGOUT_ACCESS_TOKEN (${detail}): ${fix}.`);
      if (status === 404)
        throw new ConfigurationError(`Bugout knows no ${application}: check BUGOUT_APPLICATION_ID.`);
      throw new Error(`Bugout could not be checked at ${this.baseUrl}: ${describe(error)}`);
    }
    try {
      await this.deleteResource(probe.id);
    } catch (error) {
      throw new ConfigurationError(
        `BUGOUT_ACCESS_TOKEN may write but not delete in ${application}: ${describe(error)}`,
      );
    }
  }

  public async put(record: ImageRecord): Promise<PutOutcome> {
    const written = await this.createSettled(record as unknown as Record<string, unknown>, { id: record.id });
    // Read once everything inserted before this write has committed and reached the replica.
    const rivals = await this.findAfter(this.now(), {
      ...entryFilter(entryOf(record)),
      sha256: record.sha256 ?? "",
    });
    const first = holders(rivals)[0];
    if (!first || first.resource.id === written.id) return { record, created: true };
    await this.deleteResource(written.id);
    return { record: first.record, created: false };
  }

  public async get(image: ImageRef): Promise<ImageRecord | undefined> {
    const found = await this.findSure(imageFilter(image));
    // The replica may still list a resource deleted since: the primary, read by id, decides.
    for (const resource of found.sort(byWriteOrder)) {
      const record = toRecord(resource);
      if (record && (await this.stillThere(resource.id))) return record;
    }
    return undefined;
  }

  public async listByEntry(entry: EntryRef): Promise<ImageRecord[]> {
    return records(await this.find(entryFilter(entry)));
  }

  public async findBySha256(entry: EntryRef, sha256: string): Promise<ImageRecord | undefined> {
    return holders(await this.find({ ...entryFilter(entry), sha256 }))[0]?.record;
  }

  public async delete(image: ImageRef): Promise<ImageRecord | undefined> {
    // An image another container has just recorded may not be on the replica yet: a miss is read again.
    return (await this.remove(await this.findSure(imageFilter(image))))[0];
  }

  public async deleteByEntry(entry: EntryRef): Promise<ImageRecord[]> {
    return this.remove(await this.find(entryFilter(entry)));
  }

  public async *listAll(): AsyncIterable<ImageRecord> {
    yield* records(await this.find({}, LIST_ALL_TIMEOUT_MS));
  }

  public async putUpload(upload: UploadRecord): Promise<void> {
    await this.create(uploadData(upload));
    // Tidying only: the entry's long-expired tickets go, so tickets never outgrow the entries' images.
    const expired = (await this.find({ type: UPLOAD_TYPE, upload_entry: uploadEntryOf(upload) })).filter(
      (resource) => resource.resource_data.upload_id !== upload.id && this.isLongExpired(resource),
    );
    await settleEach(expired, DELETE_CONCURRENCY, (resource) => this.deleteResource(resource.id));
  }

  public async getUpload(upload: UploadRef): Promise<UploadRecord | undefined> {
    return currentUpload(await this.uploadResources(upload, true))?.upload;
  }

  public async settleUpload(upload: UploadRef, outcome: UploadOutcome): Promise<UploadRecord | undefined> {
    const current = currentUpload(await this.uploadResources(upload, true));
    if (current?.upload.status !== "pending") return current?.upload;
    await this.createSettled(uploadData(settled(current.upload, outcome)));
    await this.settle(this.now());
    const resources = await this.uploadResources(upload, false);
    const winner = currentUpload(resources);
    // Only tidying: readers prefer the first settlement whatever else remains, so a failure changes nothing.
    await settleEach(
      resources.filter(({ resource }) => resource.id !== winner?.resource.id),
      DELETE_CONCURRENCY,
      ({ resource }) => this.deleteResource(resource.id),
    );
    return winner?.upload;
  }

  /**
   * Removes every upload ticket that expired more than `UPLOAD_TICKET_RETENTION_MS` ago (reconcile).
   *
   * @returns how many were removed
   */
  public async pruneUploads(): Promise<number> {
    const expired = (await this.find({ type: UPLOAD_TYPE }, LIST_ALL_TIMEOUT_MS)).filter((resource) =>
      this.isLongExpired(resource),
    );
    const results = await settleEach(expired, DELETE_CONCURRENCY, (resource) =>
      this.deleteResource(resource.id),
    );
    return results.filter((result) => result.status === "fulfilled").length;
  }

  public async close(): Promise<void> {}

  private isLongExpired(resource: BroodResource): boolean {
    const expiresAt = Date.parse(toUpload(resource)?.expires_at ?? "");
    return Number.isFinite(expiresAt) && expiresAt + UPLOAD_TICKET_RETENTION_MS < this.now();
  }

  /** The resources of one upload in its entry, in the order brood inserted them. */
  private async uploadResources(
    upload: UploadRef,
    sure: boolean,
  ): Promise<{ resource: BroodResource; upload: UploadRecord }[]> {
    const filter = { type: UPLOAD_TYPE, upload_id: upload.uploadId };
    const found = sure ? await this.findSure(filter) : await this.find(filter);
    return found.sort(byWriteOrder).flatMap((resource) => {
      const record = toUpload(resource);
      const inEntry = record?.journal_id === upload.journalId && record.entry_id === upload.entryId;
      return record && inEntry ? [{ resource, upload: record }] : [];
    });
  }

  /**
   * Deletes the image resources among `resources`; the records removed, oldest first, every copy of the
   * same bytes included, so that the caller removes every object they name.
   */
  private async remove(resources: readonly BroodResource[]): Promise<ImageRecord[]> {
    const images = holders(resources);
    const results = await settleEach(images, DELETE_CONCURRENCY, ({ resource }) =>
      this.deleteResource(resource.id),
    );
    const failure = results.find((result) => result.status === "rejected");
    if (failure) throw failure.reason;
    return images
      .map(({ record }) => record)
      .sort((a, b) => compareTimes(a.created_at, b.created_at) || compareText(a.id, b.id));
  }

  /**
   * Creates a resource. When the answer is lost (a timeout, a 5xx), brood may have committed it all the
   * same: once the write has settled, a resource holding `lookFor` is taken as this write.
   */
  private async createSettled(
    data: Record<string, unknown>,
    lookFor?: ResourceFilter,
  ): Promise<BroodResource> {
    try {
      return await this.create(data);
    } catch (error) {
      const unknownOutcome = !(error instanceof BugoutCallError) || error.broodStatus >= 500;
      if (!lookFor || !unknownOutcome) throw error;
      const found = (await this.findAfter(this.now(), lookFor)).sort(byWriteOrder)[0];
      if (!found) throw error;
      return found;
    }
  }

  private async create(data: Record<string, unknown>): Promise<BroodResource> {
    const resource = await this.call<BroodResource>("POST", "/resources/", {
      application_id: this.options.applicationId,
      resource_data: data,
    });
    this.recentWrites.set(resource.id, { resource, until: this.now() + this.settleMs });
    return resource;
  }

  /**
   * Deletes one resource. Brood answers `404 {"detail": "Not Found"}` both for a resource that is gone and
   * for one the token may not delete: only a read of it that finds nothing makes it gone.
   *
   * @throws {MetadataUnavailableError} when it is still there, or the token was refused
   */
  private async deleteResource(id: string): Promise<void> {
    const deleted = await this.call<BroodResource | undefined>("DELETE", `/resources/${id}`, undefined, {
      notFound: true,
    });
    if (deleted === undefined && (await this.stillThere(id))) {
      throw new MetadataUnavailableError(
        `Bugout refused to delete resource ${id}: BUGOUT_ACCESS_TOKEN holds it without admin rights.`,
      );
    }
    this.recentWrites.delete(id);
    this.recentDeletes.set(id, this.now() + this.settleMs);
  }

  /** Whether the primary still has the resource (`GET /resources/{id}` reads it, not the replica). */
  private async stillThere(id: string): Promise<boolean> {
    return (await this.call("GET", `/resources/${id}`, undefined, { notFound: true })) !== undefined;
  }

  /** Waits until `settleMs` has passed since `since`. */
  private async settle(since: number): Promise<void> {
    const left = since + this.settleMs - this.now();
    if (left > 0) await sleep(left);
  }

  /** A read that sees everything inserted before `since`. */
  private async findAfter(since: number, filter: ResourceFilter): Promise<BroodResource[]> {
    await this.settle(since);
    return this.find(filter);
  }

  /** A read that finds what was written just before it elsewhere: a miss is read again once settled. */
  private async findSure(filter: ResourceFilter): Promise<BroodResource[]> {
    const started = this.now();
    const found = await this.find(filter);
    return found.length > 0 ? found : this.findAfter(started, filter);
  }

  /** The resources matching `filter`, with this store's own recent writes and deletes laid over them. */
  private async find(filter: ResourceFilter, timeoutMs = this.timeoutMs): Promise<BroodResource[]> {
    const query = new URLSearchParams({ application_id: this.options.applicationId, ...filter });
    const { resources } = await this.call<{ resources?: BroodResource[] }>(
      "GET",
      `/resources/?${query}`,
      undefined,
      { timeoutMs },
    );
    const now = this.now();
    const byId = new Map(
      (Array.isArray(resources) ? resources : []).map((resource) => [resource.id, resource]),
    );
    for (const [id, { resource, until }] of this.recentWrites) {
      if (until < now) this.recentWrites.delete(id);
      else if (matches(resource, filter)) byId.set(id, resource);
    }
    for (const [id, until] of this.recentDeletes) {
      if (until < now) this.recentDeletes.delete(id);
      else byId.delete(id);
    }
    return [...byId.values()];
  }

  /**
   * One brood call with the gateway's token. A brood refusal (`{"detail": ...}`), a redirect, a timeout or
   * a broken connection become a `MetadataUnavailableError` carrying brood's status and detail; with
   * `notFound`, brood's bare `404 Not Found` is `undefined` instead, while a refused token stays an error.
   */
  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    { notFound = false, timeoutMs = this.timeoutMs } = {},
  ): Promise<T> {
    let response: Response;
    try {
      const token = await this.options.accessToken();
      response = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        // Brood redirects a path spelled with the other slash; following it would turn a POST into a GET.
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new MetadataUnavailableError("Bugout could not be reached.", error);
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw new BugoutCallError(response.status, `redirect to ${response.headers.get("location") ?? "?"}`);
    }
    let parsed: unknown;
    try {
      parsed = await response.json();
    } catch (error) {
      throw new MetadataUnavailableError(`Bugout answered ${response.status} without JSON.`, error);
    }
    if (response.ok) return parsed as T;
    const detail = detailOf(parsed);
    if (notFound && response.status === 404 && detail === "Not Found") return undefined as T;
    if (response.status === 404 && TOKEN_REFUSALS.includes(detail)) throw new BugoutTokenError(404, detail);
    throw new BugoutCallError(response.status, detail);
  }
}

/** A refusal brood answered, with its status and detail. */
class BugoutCallError extends MetadataUnavailableError {
  public constructor(
    public readonly broodStatus: number,
    public readonly detail: string,
  ) {
    super(`Bugout answered ${broodStatus}: ${detail}`);
  }
}

/** Brood refused the gateway's token itself: nothing it answers then can be taken to mean "missing". */
export class BugoutTokenError extends BugoutCallError {}

function entryOf(record: ImageRecord): EntryRef {
  return { journalId: record.journal_id, entryId: record.entry_id };
}

function entryFilter(entry: EntryRef): ResourceFilter {
  return { journal_id: entry.journalId, entry_id: entry.entryId };
}

function imageFilter(image: ImageRef): ResourceFilter {
  return { ...entryFilter(image), id: image.imageId };
}

/** Brood's filter, `resource_data[key].astext == value`: a string equals itself, `null` nothing. */
function matches(resource: BroodResource, filter: ResourceFilter): boolean {
  return Object.entries(filter).every(([key, value]) => {
    const held = resource.resource_data?.[key];
    return (
      held !== undefined &&
      held !== null &&
      (typeof held === "string" ? held : JSON.stringify(held)) === value
    );
  });
}

/** Brood's own `created_at` is when it inserted the resource: the order racing writers agree on. */
function byWriteOrder(a: BroodResource, b: BroodResource): number {
  return compareTimes(a.created_at, b.created_at) || compareText(a.id, b.id);
}

/** The image records among `resources`, in the order brood inserted them. */
function holders(resources: readonly BroodResource[]): { resource: BroodResource; record: ImageRecord }[] {
  return [...resources].sort(byWriteOrder).flatMap((resource) => {
    const record = toRecord(resource);
    return record ? [{ resource, record }] : [];
  });
}

/**
 * The image records among `resources`, oldest first, as the contract lists them. Of records holding the
 * same bytes in the same entry only the first holder is one: the others are racing writers' copies about to be removed,
 * which a lagging replica may still show after their removal.
 */
function records(resources: readonly BroodResource[]): ImageRecord[] {
  const seen = new Set<string>();
  return holders(resources)
    .filter(({ record }) => {
      if (record.sha256 === null) return true;
      const bytesInEntry = `${record.journal_id}/${record.entry_id}/${record.sha256}`;
      return !seen.has(bytesInEntry) && seen.add(bytesInEntry) !== undefined;
    })
    .map(({ record }) => record)
    .sort((a, b) => compareTimes(a.created_at, b.created_at) || compareText(a.id, b.id));
}

/**
 * The record a resource holds, or `undefined` when it is not an image. A resource the original design
 * wrote has only `id`, `name`, `entry_id`, `journal_id`, `extension` and `created_at` (as
 * `2021-09-20 12:35:14.123456`, UTC): its type follows from the extension, its time is made ISO 8601, and
 * its size and hash are unknown.
 */
function toRecord(resource: BroodResource): ImageRecord | undefined {
  const data = resource.resource_data ?? {};
  // Resources of another kind (upload tickets, probes) carry a `type`; no image record, old or new, did.
  if (data.type !== undefined) return undefined;
  const id = text(data.id);
  const journalId = text(data.journal_id);
  const entryId = text(data.entry_id);
  if (id === undefined || journalId === undefined || entryId === undefined) return undefined;
  const extension = text(data.extension) ?? "";
  return {
    id,
    journal_id: journalId,
    entry_id: entryId,
    name: text(data.name) ?? "",
    extension,
    content_type:
      text(data.content_type) ??
      CONTENT_TYPES_BY_EXTENSION[extension.toLowerCase()] ??
      "application/octet-stream",
    size: typeof data.size === "number" ? data.size : null,
    sha256: text(data.sha256) ?? null,
    width: typeof data.width === "number" ? data.width : null,
    height: typeof data.height === "number" ? data.height : null,
    created_at: isoTime(text(data.created_at)) ?? isoTime(resource.created_at) ?? resource.created_at,
    url: imageUrl({ journalId, entryId, imageId: id }),
  };
}

const NAIVE_TIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * A time as ISO 8601 UTC with milliseconds. A time without a zone is UTC: the original design wrote
 * Python's `datetime.utcnow()`, and JavaScript would read it as local time.
 */
export function isoTime(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parts = NAIVE_TIME.exec(value.trim());
  const normalized = parts
    ? `${parts[1]}T${parts[2]}${(parts[3] ?? "").slice(0, 4)}${parts[4] ?? "Z"}`
    : value;
  const millis = Date.parse(normalized);
  return Number.isNaN(millis) ? undefined : new Date(millis).toISOString();
}

function uploadEntryOf(upload: Pick<UploadRecord, "journal_id" | "entry_id">): string {
  return `${upload.journal_id}/${upload.entry_id}`;
}

function uploadData(upload: UploadRecord): Record<string, unknown> {
  return { type: UPLOAD_TYPE, upload_id: upload.id, upload_entry: uploadEntryOf(upload), upload };
}

function settled(upload: UploadRecord, outcome: UploadOutcome): UploadRecord {
  return outcome.status === "ready"
    ? { ...upload, status: "ready", image_id: outcome.imageId, error: null }
    : { ...upload, status: "rejected", image_id: null, error: outcome.error };
}

/** Of an upload's resources in write order: the first settlement, else the ticket itself. */
function currentUpload<T extends { upload: UploadRecord }>(resources: readonly T[]): T | undefined {
  return resources.find(({ upload }) => upload.status !== "pending") ?? resources[0];
}

/** The upload ticket a resource holds, or `undefined` when it holds none (or a malformed one). */
function toUpload(resource: BroodResource): UploadRecord | undefined {
  const data = resource.resource_data ?? {};
  const upload = (data.upload ?? {}) as Record<string, unknown>;
  const error = upload.error as { code?: unknown; message?: unknown } | null | undefined;
  const fields = [upload.id, upload.journal_id, upload.entry_id, upload.name, upload.created_at];
  if (data.type !== UPLOAD_TYPE || !fields.every((field) => typeof field === "string")) return undefined;
  if (!UPLOAD_STATUSES.includes(upload.status as UploadStatus)) return undefined;
  return {
    id: upload.id as string,
    journal_id: upload.journal_id as string,
    entry_id: upload.entry_id as string,
    name: upload.name as string,
    declared_size: typeof upload.declared_size === "number" ? upload.declared_size : 0,
    created_at: upload.created_at as string,
    expires_at: text(upload.expires_at) ?? (upload.created_at as string),
    status: upload.status as UploadStatus,
    image_id: text(upload.image_id) ?? null,
    error: error ? { code: text(error.code) ?? "", message: text(error.message) ?? "" } : null,
  };
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function compareTimes(a: string, b: string): number {
  const difference = Date.parse(isoTime(a) ?? a) - Date.parse(isoTime(b) ?? b);
  return Number.isNaN(difference) || difference === 0 ? compareText(a, b) : difference;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Brood's `{"detail": ...}`: a sentence, or FastAPI's list of validation problems. */
function detailOf(body: unknown): string {
  const detail = (body as { detail?: unknown } | null)?.detail;
  const described = typeof detail === "string" ? detail : JSON.stringify(detail ?? "no detail");
  return described.slice(0, MAX_DETAIL_LENGTH);
}
