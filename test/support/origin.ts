import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { GRANT_HEADER } from "../../edge/constants";
import { KeyRing, type SigningKey } from "../../edge/KeyRing";
import type { EntryRef } from "../../edge/routes";
import { signGrant } from "../../edge/tokens";
import { createApp } from "../../origin/app";
import { BugoutMetadataStore } from "../../origin/BugoutMetadataStore";
import { type OriginConfigInput, resolveOriginConfig } from "../../origin/config";
import type { OriginDeps } from "../../origin/dependencies";
import { MetadataUnavailableError, StorageUnavailableError } from "../../origin/errors";
import type { ImageRecord, ImageStore, Invalidator, MetadataStore } from "../../origin/ports";
import { S3ImageStore } from "../../origin/S3ImageStore";
import { SqliteMetadataStore } from "../../origin/SqliteMetadataStore";
import { BugoutApiDouble, type FaultTiming } from "./bugoutApi";
import { makeKey, TestClock } from "./edge";
import { FaultSwitch } from "./faults";
import type { TestS3 } from "./s3Server";

export type MetadataAdapter = "sqlite" | "bugout";
export const METADATA_ADAPTERS: readonly MetadataAdapter[] = ["sqlite", "bugout"];

export const BUGOUT_TOKEN = "gateway-test-token";
export const BUGOUT_APPLICATION_ID = "7b1c3c2e-0f4e-4d8a-9a55-2f0b8d2d6a10";

/** A real metadata store of either kind, with its faults and a view of what it holds underneath. */
export interface TestMetadata {
  readonly adapter: MetadataAdapter;
  /** The store as the origin uses it. */
  readonly store: MetadataStore;
  /** Makes the next `times` calls of `operation` fail, at the store itself where it can (Bugout). */
  fail(operation: "put" | "delete" | "get" | "listByEntry", times?: number, timing?: FaultTiming): void;
  /** Every record as the backing store holds it: SQLite rows, or Bugout `resource_data`. */
  stored(): Promise<Record<string, unknown>[]>;
  /** A second store on the same data, as another container would open it. */
  another(): Promise<MetadataStore>;
  resetFaults(): void;
  stop(): Promise<void>;
}

/** Starts a metadata store: a SQLite file in a fresh directory, or a Bugout client of a loopback brood. */
export async function startMetadata(adapter: MetadataAdapter): Promise<TestMetadata> {
  return adapter === "sqlite" ? startSqlite() : startBugout();
}

async function startSqlite(): Promise<TestMetadata> {
  const directory = await mkdtemp(join(tmpdir(), "image-gateway-sqlite-"));
  const file = join(directory, "metadata.sqlite");
  const opened: MetadataStore[] = [];
  const open = async () => {
    const store = await SqliteMetadataStore.open(file);
    opened.push(store);
    return store;
  };
  const faults = new FaultSwitch<MetadataStore>(await open(), () => new MetadataUnavailableError("injected"));
  return {
    adapter: "sqlite",
    store: faults.target,
    fail: (operation, times = 1, timing = "before") => faults.failNext(operation, times, timing),
    stored: async () => {
      const db = new BetterSqlite3(file, { readonly: true });
      try {
        return db.prepare("SELECT * FROM images ORDER BY rowid").all() as Record<string, unknown>[];
      } finally {
        db.close();
      }
    },
    another: open,
    resetFaults: () => faults.reset(),
    stop: async () => {
      for (const store of opened) await store.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

async function startBugout(): Promise<TestMetadata> {
  const api = new BugoutApiDouble(BUGOUT_TOKEN, BUGOUT_APPLICATION_ID);
  const url = await api.start();
  const make = () =>
    new BugoutMetadataStore({
      apiUrl: url,
      applicationId: BUGOUT_APPLICATION_ID,
      accessToken: async () => BUGOUT_TOKEN,
    });
  const methods = { put: "POST", delete: "DELETE", get: "GET", listByEntry: "GET" } as const;
  return {
    adapter: "bugout",
    store: make(),
    fail: (operation, times = 1, timing = "before") => api.failNext(methods[operation], times, timing),
    stored: async () => api.data,
    another: async () => make(),
    resetFaults: () => api.failNext("GET", 0),
    stop: () => api.stop(),
  };
}

/** An origin app over real stores, with keys made for the test and grants signed as the edge signs them. */
export interface TestOrigin {
  readonly app: ReturnType<typeof createApp>;
  readonly deps: OriginDeps;
  readonly clock: TestClock;
  readonly keys: readonly SigningKey[];
  readonly logs: Record<string, unknown>[];
  /** Paths of every invalidation asked for, one array per call. */
  readonly invalidations: string[][];
  readonly imageFaults: FaultSwitch<ImageStore>;
  readonly invalidatorFaults: FaultSwitch<Invalidator>;
  /** Signs a grant for `method` on `entry` as the edge would, now. */
  grant(method: string, entry: EntryRef): Promise<string>;
  /** Sends a request with a grant for its method and `entry`, unless `grant` says otherwise. */
  send(
    method: string,
    path: string,
    options?: { entry?: EntryRef; grant?: string | null; body?: BodyInit; headers?: Record<string, string> },
  ): Promise<Response>;
  /** `POST`s a multipart upload of `form` to `entry`. */
  upload(entry: EntryRef, form: FormData): Promise<Response>;
}

export interface TestOriginOptions {
  readonly s3: TestS3;
  readonly metadata: MetadataStore;
  readonly config?: Partial<OriginConfigInput>;
}

/** Builds the origin's dependencies by hand from real adapters, so each test can reach into them. */
export async function makeOrigin(options: TestOriginOptions): Promise<TestOrigin> {
  const clock = new TestClock(Date.now());
  const keys = [makeKey("origin-test")];
  const ring = await KeyRing.create(keys);
  const logs: Record<string, unknown>[] = [];
  const invalidations: string[][] = [];
  const imageFaults = new FaultSwitch<ImageStore>(
    new S3ImageStore(options.s3.client, options.s3.bucket, 2),
    () => new StorageUnavailableError("injected"),
  );
  const invalidatorFaults = new FaultSwitch<Invalidator>(
    {
      invalidate: async (paths) => {
        invalidations.push([...paths]);
      },
    },
    () => new Error("CloudFront refused the invalidation"),
  );
  const deps: OriginDeps = {
    config: resolveOriginConfig({
      bucketName: options.s3.bucket,
      signingKeys: { type: "env", variable: "UNUSED" },
      maxDirectUploadBytes: 64 * 1024,
      ...options.config,
    }),
    keys: async () => ring,
    images: imageFaults.target,
    metadata: options.metadata,
    invalidator: invalidatorFaults.target,
    log: (entry) => logs.push({ ...entry }),
    now: clock.now,
    uuid: () => crypto.randomUUID(),
  };
  const app = createApp(deps);
  const grant = async (method: string, entry: EntryRef) =>
    (await signGrant(ring, { ...entry, method }, clock.seconds)).token;
  const send: TestOrigin["send"] = async (method, path, { entry, grant: given, body, headers } = {}) => {
    const token = given === undefined && entry ? await grant(method, entry) : given;
    return app.request(path, {
      method,
      body,
      headers: { ...headers, ...(token ? { [GRANT_HEADER]: token } : {}) },
    });
  };
  return {
    app,
    deps,
    clock,
    keys,
    logs,
    invalidations,
    imageFaults,
    invalidatorFaults,
    grant,
    send,
    upload: (entry, form) => send("POST", imagesPath(entry), { entry, body: form }),
  };
}

/** `/api/journals/{j}/entries/{e}/images`, and one image below it. */
export function imagesPath(entry: EntryRef, imageId?: string): string {
  const path = `/api/journals/${entry.journalId}/entries/${entry.entryId}/images`;
  return imageId ? `${path}/${imageId}` : path;
}

/** The object key of an image under the test prefix. */
export function objectKey(
  record: Pick<ImageRecord, "journal_id" | "entry_id" | "id">,
  prefix = "dev",
): string {
  return `${prefix}/${record.journal_id}/entries/${record.entry_id}/images/${record.id}`;
}

/** A direct upload form: a `file` part, and a `name` part when given. */
export function uploadForm(
  bytes: Uint8Array<ArrayBuffer>,
  {
    filename = "photo.png",
    type = "image/png",
    name,
  }: { filename?: string; type?: string; name?: string } = {},
): FormData {
  const form = new FormData();
  form.append("file", new File([bytes], filename, { type }));
  if (name !== undefined) form.append("name", name);
  return form;
}

let entryCounter = 0;
/** An entry no other test has used, so tests share stores without sharing state. */
export function freshEntry(): EntryRef {
  entryCounter += 1;
  return { journalId: `journal-${process.pid}`, entryId: `entry-${entryCounter}` };
}
