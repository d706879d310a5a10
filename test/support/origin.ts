import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "aws-lambda";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll } from "vitest";
import { GRANT_HEADER } from "../../contract/constants";
import { KeyRing, type SigningKey } from "../../contract/KeyRing";
import { signGrant } from "../../contract/tokens";
import type { EntryRef } from "../../contract/types";
import { BugoutMetadataStore } from "../../origin/adapters/BugoutMetadataStore";
import type { OriginDeps } from "../../origin/adapters/dependencies";
import { S3ImageStore } from "../../origin/adapters/S3ImageStore";
import { S3UploadSigner } from "../../origin/adapters/S3UploadSigner";
import { SqliteMetadataStore } from "../../origin/adapters/SqliteMetadataStore";
import { type OriginConfigInput, resolveOriginConfig } from "../../origin/config";
import { MetadataUnavailableError, StorageUnavailableError } from "../../origin/domain/errors";
import type {
  ImageRecord,
  ImageStore,
  Invalidator,
  MetadataStore,
  UploadSigner,
} from "../../origin/domain/ports";
import { createApp } from "../../origin/http/app";
import { createOriginHandler } from "../../origin/http/handler";
import { BugoutApiDouble, type FaultTiming } from "./bugoutApi";
import { makeKey, TestClock } from "./edge";
import { FaultSwitch } from "./faults";
import { objectCreated } from "./s3Events";
import { startS3Server, type TestS3 } from "./s3Server";

export type MetadataAdapter = "sqlite" | "bugout";
export const METADATA_ADAPTERS: readonly MetadataAdapter[] = ["sqlite", "bugout"];

/** Brood's tokens are UUIDs (its query casts them); this one is of a member of the application's group. */
export const BUGOUT_TOKEN = "0d9c3a52-6b1e-4f7a-9c2d-5e8f1a3b7c40";
/**
 * Brood's timing in every suite on the Bugout adapter: commits up to 20 ms after the INSERT, a replica
 * 30 ms behind, and a settle time that covers both.
 */
export const BUGOUT_TEST_TIMING = { commitDelayMs: () => Math.random() * 20, replicaLagMs: 30 } as const;
export const BUGOUT_TEST_SETTLE_MS = 200;
export const BUGOUT_APPLICATION_ID = "7b1c3c2e-0f4e-4d8a-9a55-2f0b8d2d6a10";

/** Metadata operations a test can make fail. */
export type FaultyOperation =
  | "put"
  | "delete"
  | "get"
  | "listByEntry"
  | "findBySha256"
  | "putUpload"
  | "getUpload"
  | "settleUpload";

/** A real metadata store of either kind, with its faults and a view of what it holds underneath. */
export interface TestMetadata {
  readonly adapter: MetadataAdapter;
  /** The store as the origin uses it. */
  readonly store: MetadataStore;
  /** Makes the next `times` calls of `operation` fail, at the store itself where it can (Bugout). */
  fail(operation: FaultyOperation, times?: number, timing?: FaultTiming): void;
  /** Every record as the backing store holds it: SQLite rows, or Bugout `resource_data`. */
  stored(): Promise<Record<string, unknown>[]>;
  /** Every upload ticket as the backing store holds it: SQLite rows, or Bugout `resource_data`. */
  storedUploads(): Promise<Record<string, unknown>[]>;
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
    stored: () => rows(file, "images"),
    storedUploads: () => rows(file, "uploads"),
    another: open,
    resetFaults: () => faults.reset(),
    stop: async () => {
      for (const store of opened) await store.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

async function rows(file: string, table: "images" | "uploads"): Promise<Record<string, unknown>[]> {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

async function startBugout(): Promise<TestMetadata> {
  const api = new BugoutApiDouble(BUGOUT_TOKEN, BUGOUT_APPLICATION_ID);
  api.timing = BUGOUT_TEST_TIMING;
  const url = await api.start();
  const make = () =>
    new BugoutMetadataStore({
      apiUrl: url,
      applicationId: BUGOUT_APPLICATION_ID,
      accessToken: async () => BUGOUT_TOKEN,
      settleMs: BUGOUT_TEST_SETTLE_MS,
    });
  // Each operation fails at its first brood call of that method (a settlement's is its write), an upload
  // ticket's only at a call about tickets.
  const methods = {
    put: ["POST", ""],
    delete: ["DELETE", ""],
    get: ["GET", ""],
    listByEntry: ["GET", ""],
    findBySha256: ["GET", ""],
    putUpload: ["POST", '"image_upload"'],
    getUpload: ["GET", ""],
    settleUpload: ["POST", '"image_upload"'],
  } as const;
  return {
    adapter: "bugout",
    store: make(),
    fail: (operation, times = 1, timing = "before") => {
      const [method, bodyIncludes] = methods[operation];
      api.failNext(method, times, timing, bodyIncludes);
    },
    stored: async () => api.data,
    storedUploads: async () => api.data.filter((data) => data.type === "image_upload"),
    another: async () => make(),
    resetFaults: () => api.resetFaults(),
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
  /** Signs a grant for `method` on `path` (default: the entry's images) of `entry` as the edge would, now. */
  grant(method: string, entry: EntryRef, path?: string): Promise<string>;
  /** Sends a request with a grant for its method, path and `entry`, unless `grant` says otherwise. */
  send(
    method: string,
    path: string,
    options?: { entry?: EntryRef; grant?: string | null; body?: BodyInit; headers?: Record<string, string> },
  ): Promise<Response>;
  /** `POST`s a multipart upload of `form` to `entry`. */
  upload(entry: EntryRef, form: FormData): Promise<Response>;
  /** `POST`s `…/uploads` with `body` as JSON: a presigned upload ticket, or a refusal. */
  requestTicket(entry: EntryRef, body: unknown): Promise<Response>;
  /** Asks for a ticket that must be issued. */
  ticket(entry: EntryRef, body?: { name?: string; size?: number }): Promise<IssuedTicket>;
  /** `GET …/uploads/{id}`. */
  uploadStatus(entry: EntryRef, uploadId: string): Promise<Response>;
  /** Delivers S3's notification that `key` was created to the origin function, as S3 would. */
  notify(key: string): Promise<void>;
}

/** A ticket as `POST …/uploads` answers it. */
export interface IssuedTicket {
  readonly id: string;
  readonly upload: { readonly url: string; readonly fields: Record<string, string> };
  readonly expires_at: string;
  readonly max_bytes: number;
}

export interface TestOriginOptions {
  readonly s3: TestS3;
  readonly metadata: MetadataStore;
  readonly config?: Partial<OriginConfigInput>;
  /** Instead of a signer of presigned POSTs to the test server. */
  readonly uploadSigner?: UploadSigner;
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
    uploadSigner: options.uploadSigner ?? new S3UploadSigner(options.s3.client, options.s3.bucket),
    invalidator: invalidatorFaults.target,
    log: (entry) => logs.push({ ...entry }),
    now: clock.now,
    uuid: () => crypto.randomUUID(),
  };
  const app = createApp(deps);
  const grant = async (method: string, entry: EntryRef, path = imagesPath(entry)) =>
    (await signGrant(ring, { ...entry, method, path }, clock.seconds)).token;
  const send: TestOrigin["send"] = async (method, path, { entry, grant: given, body, headers } = {}) => {
    const token = given === undefined && entry ? await grant(method, entry, path) : given;
    return app.request(path, {
      method,
      body,
      headers: { ...headers, ...(token ? { [GRANT_HEADER]: token } : {}) },
    });
  };
  const handler = createOriginHandler(async () => deps);
  const requestTicket: TestOrigin["requestTicket"] = (entry, body) =>
    send("POST", uploadsPath(entry), {
      entry,
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
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
    requestTicket,
    ticket: async (entry, body = { name: "holiday", size: 1024 }) => {
      const response = await requestTicket(entry, body);
      if (response.status !== 201)
        throw new Error(`ticket answered ${response.status}: ${await response.text()}`);
      return (await response.json()) as IssuedTicket;
    },
    uploadStatus: (entry, uploadId) => send("GET", uploadsPath(entry, uploadId), { entry }),
    notify: (key) => handler(objectCreated(deps.config.bucketName, key), {} as Context),
  };
}

/** `/api/journals/{j}/entries/{e}/uploads`, and one upload below it. */
export function uploadsPath(entry: EntryRef, uploadId?: string): string {
  const path = `/api/journals/${entry.journalId}/entries/${entry.entryId}/uploads`;
  return uploadId ? `${path}/${uploadId}` : path;
}

/**
 * Sends a file with a presigned form, as a browser would: the fields in order, then the file. The
 * S3-compatible server checks nothing of the policy, so any bytes get through.
 */
export async function postForm(
  upload: IssuedTicket["upload"],
  bytes: Uint8Array<ArrayBuffer>,
  filename = "photo.png",
): Promise<Response> {
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
  form.append("file", new File([bytes], filename));
  return fetch(upload.url, { method: "POST", body: form });
}

/** The staging key of an upload. */
export function stagingKey(entry: EntryRef, uploadId: string): string {
  return `incoming/${entry.journalId}/entries/${entry.entryId}/images/${uploadId}`;
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

/** The parts most origin suites run on, started for one suite. */
export interface OriginStack {
  readonly s3: TestS3;
  readonly metadata: TestMetadata;
  readonly origin: TestOrigin;
}

/**
 * Starts, for the surrounding `describe`, the stack most origin suites run on: a real S3-compatible
 * server, a real metadata store of `adapter`'s kind, and an origin built on both (with `options`); they are
 * stopped after the suite. The values answered stand for the started parts from `beforeAll` on, so a suite
 * writes `const { s3, metadata, origin } = useOriginStack(adapter)` once instead of its own hooks.
 */
export function useOriginStack(
  adapter: MetadataAdapter,
  options: Omit<TestOriginOptions, "s3" | "metadata"> = {},
): OriginStack {
  let started: { s3: TestS3; metadata?: TestMetadata; origin?: TestOrigin } | undefined;
  beforeAll(async () => {
    started = { s3: await startS3Server() };
    started.metadata = await startMetadata(adapter);
    started.origin = await makeOrigin({ ...options, s3: started.s3, metadata: started.metadata.store });
  });
  afterAll(async () => {
    await started?.metadata?.stop();
    await started?.s3.stop();
  });
  return {
    s3: lateBound("the S3 server", () => started?.s3),
    metadata: lateBound("the metadata store", () => started?.metadata),
    origin: lateBound("the origin", () => started?.origin),
  };
}

/** An object that forwards every use to the value `resolve` answers once it exists. */
function lateBound<T extends object>(what: string, resolve: () => T | undefined): T {
  const target = (): T => {
    const value = resolve();
    if (value === undefined) throw new Error(`${what} is used before the suite started it.`);
    return value;
  };
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(target(), key),
    set: (_, key, value) => Reflect.set(target(), key, value),
    has: (_, key) => Reflect.has(target(), key),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_, key) => Reflect.getOwnPropertyDescriptor(target(), key),
  });
}
