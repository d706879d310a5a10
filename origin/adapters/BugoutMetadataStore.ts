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
  Record<"id" | "journal_id" | "entry_id" | "sha256" | "type" | "upload_id", string>
>;

/**
 * The `type` of an upload ticket's resource. Its record sits under `upload`, so no top-level key of an
 * image (`journal_id`, `entry_id`, `sha256`) matches it and brood's filters keep it out of image listings.
 */
const UPLOAD_TYPE = "image_upload";
const UPLOAD_STATUSES: readonly UploadStatus[] = ["pending", "ready", "rejected"];

const DEFAULT_TIMEOUT_MS = 5_000;
const DELETE_CONCURRENCY = 8;
const MAX_DETAIL_LENGTH = 200;

/**
 * Records as resources of one Bugout application (brood's resources API): `resource_data` is the record
 * itself, so the original design's keys keep their meaning and its resources stay readable. Brood has no
 * uniqueness rule, so deduplication is settled after the write: of the resources holding the same bytes
 * in an entry, the one brood stored first stays and every later writer removes its own.
 *
 * Upload tickets are resources of their own `type`. Brood has no update either, so a settlement is a new
 * resource: the first settlement brood stored wins, and the ticket and any later settlement are removed.
 */
export class BugoutMetadataStore implements MetadataStore {
  private readonly baseUrl: string;
  private readonly fetchImpl: Fetch;
  private readonly timeoutMs: number;

  public constructor(private readonly options: BugoutStoreOptions) {
    this.baseUrl = options.apiUrl.replace(/\/+$/, "");
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  public async put(record: ImageRecord): Promise<PutOutcome> {
    const written = await this.call<BroodResource>("POST", "/resources/", {
      application_id: this.options.applicationId,
      resource_data: record,
    });
    const first = await this.firstHolder(entryOf(record), record.sha256 ?? "");
    if (!first || first.resource.id === written.id) return { record, created: true };
    // A delete of the whole entry may have removed this later copy already: it is gone either way.
    await this.call("DELETE", `/resources/${written.id}`, undefined, { missingIsFine: true });
    return { record: first.record, created: false };
  }

  public async get(image: ImageRef): Promise<ImageRecord | undefined> {
    return records(await this.find(imageFilter(image)))[0];
  }

  public async listByEntry(entry: EntryRef): Promise<ImageRecord[]> {
    return records(await this.find(entryFilter(entry)));
  }

  public async findBySha256(entry: EntryRef, sha256: string): Promise<ImageRecord | undefined> {
    return (await this.firstHolder(entry, sha256))?.record;
  }

  public async delete(image: ImageRef): Promise<ImageRecord | undefined> {
    return (await this.remove(await this.find(imageFilter(image))))[0];
  }

  public async deleteByEntry(entry: EntryRef): Promise<ImageRecord[]> {
    return this.remove(await this.find(entryFilter(entry)));
  }

  public async *listAll(): AsyncIterable<ImageRecord> {
    yield* records(await this.find({}));
  }

  public async putUpload(upload: UploadRecord): Promise<void> {
    await this.call("POST", "/resources/", {
      application_id: this.options.applicationId,
      resource_data: uploadData(upload),
    });
  }

  public async getUpload(upload: UploadRef): Promise<UploadRecord | undefined> {
    return currentUpload(await this.uploadResources(upload))?.upload;
  }

  public async settleUpload(upload: UploadRef, outcome: UploadOutcome): Promise<UploadRecord | undefined> {
    const current = currentUpload(await this.uploadResources(upload));
    if (current?.upload.status !== "pending") return current?.upload;
    await this.call("POST", "/resources/", {
      application_id: this.options.applicationId,
      resource_data: uploadData(settled(current.upload, outcome)),
    });
    const resources = await this.uploadResources(upload);
    const winner = currentUpload(resources);
    // Only tidying: readers prefer the first settlement whatever else remains, so a failure changes nothing.
    await settleEach(
      resources.filter(({ resource }) => resource.id !== winner?.resource.id),
      DELETE_CONCURRENCY,
      ({ resource }) => this.call("DELETE", `/resources/${resource.id}`, undefined, { missingIsFine: true }),
    );
    return winner?.upload;
  }

  public async close(): Promise<void> {}

  /** The resources of one upload in its entry, in the order brood stored them. */
  private async uploadResources(
    upload: UploadRef,
  ): Promise<{ resource: BroodResource; upload: UploadRecord }[]> {
    const found = await this.find({ type: UPLOAD_TYPE, upload_id: upload.uploadId });
    return found.sort(byWriteOrder).flatMap((resource) => {
      const record = toUpload(resource);
      const inEntry = record?.journal_id === upload.journalId && record.entry_id === upload.entryId;
      return record && inEntry ? [{ resource, upload: record }] : [];
    });
  }

  /**
   * The resource brood stored first among those holding these bytes in the entry: the one every racing
   * writer keeps, since nothing stored later can be older.
   */
  private async firstHolder(
    entry: EntryRef,
    sha256: string,
  ): Promise<{ resource: BroodResource; record: ImageRecord } | undefined> {
    for (const resource of (await this.find({ ...entryFilter(entry), sha256 })).sort(byWriteOrder)) {
      const record = toRecord(resource);
      if (record) return { resource, record };
    }
    return undefined;
  }

  /** Deletes the image resources among `resources`; the records removed, oldest first. */
  private async remove(resources: readonly BroodResource[]): Promise<ImageRecord[]> {
    const images = resources.filter((resource) => toRecord(resource) !== undefined);
    const results = await settleEach(images, DELETE_CONCURRENCY, (resource) =>
      this.call("DELETE", `/resources/${resource.id}`, undefined, { missingIsFine: true }),
    );
    const failure = results.find((result) => result.status === "rejected");
    if (failure) throw failure.reason;
    return records(images);
  }

  private async find(filter: ResourceFilter): Promise<BroodResource[]> {
    const query = new URLSearchParams({ application_id: this.options.applicationId, ...filter });
    const { resources } = await this.call<{ resources?: BroodResource[] }>("GET", `/resources/?${query}`);
    return Array.isArray(resources) ? resources : [];
  }

  /**
   * One brood call with the gateway's token. A brood refusal (`{"detail": ...}`), a timeout or a broken
   * connection become a `MetadataUnavailableError` carrying brood's status and detail.
   */
  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    { missingIsFine = false } = {},
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
        redirect: "manual",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new MetadataUnavailableError("Bugout could not be reached.", error);
    }
    if (missingIsFine && response.status === 404) {
      await response.body?.cancel();
      return undefined as T;
    }
    let parsed: unknown;
    try {
      parsed = await response.json();
    } catch (error) {
      throw new MetadataUnavailableError(`Bugout answered ${response.status} without JSON.`, error);
    }
    if (!response.ok) {
      throw new MetadataUnavailableError(`Bugout answered ${response.status}: ${detailOf(parsed)}`);
    }
    return parsed as T;
  }
}

function entryOf(record: ImageRecord): EntryRef {
  return { journalId: record.journal_id, entryId: record.entry_id };
}

function entryFilter(entry: EntryRef): ResourceFilter {
  return { journal_id: entry.journalId, entry_id: entry.entryId };
}

function imageFilter(image: ImageRef): ResourceFilter {
  return { ...entryFilter(image), id: image.imageId };
}

/** Brood's own `created_at` is when it stored the resource: the order racing writers agree on. */
function byWriteOrder(a: BroodResource, b: BroodResource): number {
  return compareTimes(a.created_at, b.created_at) || compareText(a.id, b.id);
}

/** The image records among `resources`, oldest first, as the contract lists them. */
function records(resources: readonly BroodResource[]): ImageRecord[] {
  return resources
    .map(toRecord)
    .filter((record): record is ImageRecord => record !== undefined)
    .sort((a, b) => compareTimes(a.created_at, b.created_at) || compareText(a.id, b.id));
}

/**
 * The record a resource holds, or `undefined` when it is not an image. A resource the original design
 * wrote has only `id`, `name`, `entry_id`, `journal_id`, `extension` and `created_at`: its type follows
 * from the extension and its size and hash are unknown.
 */
function toRecord(resource: BroodResource): ImageRecord | undefined {
  const data = resource.resource_data ?? {};
  // Resources of another kind (upload tickets) carry a `type`; no image record, old or new, ever did.
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
    created_at: text(data.created_at) ?? resource.created_at,
    url: imageUrl({ journalId, entryId, imageId: id }),
  };
}

function uploadData(upload: UploadRecord): Record<string, unknown> {
  return { type: UPLOAD_TYPE, upload_id: upload.id, upload };
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
  const difference = Date.parse(a) - Date.parse(b);
  return Number.isNaN(difference) || difference === 0 ? compareText(a, b) : difference;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Brood's `{"detail": ...}`: a sentence, or FastAPI's list of validation problems. */
function detailOf(body: unknown): string {
  const detail = (body as { detail?: unknown } | null)?.detail;
  const described = typeof detail === "string" ? detail : JSON.stringify(detail ?? "no detail");
  return described.slice(0, MAX_DETAIL_LENGTH);
}
