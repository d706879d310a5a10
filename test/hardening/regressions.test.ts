import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BugoutMetadataStore } from "../../origin/adapters/BugoutMetadataStore";
import { MetadataUnavailableError } from "../../origin/domain/errors";
import type { ImageRecord, MetadataStore } from "../../origin/domain/ports";
import { reconcile } from "../../origin/domain/reconcile";
import { BugoutApiDouble } from "../support/bugoutApi";
import { FaultSwitch } from "../support/faults";
import { pngBytes } from "../support/images";
import {
  BUGOUT_APPLICATION_ID,
  BUGOUT_TEST_SETTLE_MS,
  BUGOUT_TOKEN,
  freshEntry,
  imagesPath,
  makeOrigin,
  objectKey,
  startMetadata,
  type TestMetadata,
  type TestOrigin,
  uploadForm,
} from "../support/origin";
import { startS3Server, type TestS3 } from "../support/s3Server";

/**
 * One test per defect the hardening search found, each reproducing it deterministically (the fault runs
 * found them by chance and timing): they fail on the code before the fix and pass after it.
 */

let s3: TestS3;
let metadata: TestMetadata;
let faults: FaultSwitch<MetadataStore>;
let origin: TestOrigin;
/** Runs inside the next record write, after it landed and before its failure is answered. */
let duringLostAnswer: (() => Promise<void>) | undefined;

beforeAll(async () => {
  s3 = await startS3Server();
  metadata = await startMetadata("sqlite");
  const racing = new Proxy(metadata.store, {
    get: (store, property, receiver) => {
      const value = Reflect.get(store, property, receiver);
      if (property !== "put" || !duringLostAnswer)
        return typeof value === "function" ? value.bind(store) : value;
      const meanwhile = duringLostAnswer;
      duringLostAnswer = undefined;
      return async (record: ImageRecord) => {
        await store.put(record);
        await meanwhile();
        throw new MetadataUnavailableError("injected: the answer was lost");
      };
    },
  });
  faults = new FaultSwitch<MetadataStore>(racing, () => new MetadataUnavailableError("injected"));
  origin = await makeOrigin({ s3, metadata: faults.target });
});

afterAll(async () => {
  await metadata?.stop();
  await s3?.stop();
});

beforeEach(() => {
  faults.reset();
  origin.imageFaults.reset();
  origin.logs.length = 0;
});

async function listed(entry: { journalId: string; entryId: string }): Promise<ImageRecord[]> {
  const response = await origin.send("GET", imagesPath(entry), { entry });
  return ((await response.json()) as { images: ImageRecord[] }).images;
}

const prefixOf = (entry: { journalId: string; entryId: string }) =>
  `dev/${entry.journalId}/entries/${entry.entryId}/`;

describe("defect: a failed record write was rolled back after another upload had been answered with it", () => {
  it("keeps a record whose write landed but failed, once a concurrent duplicate upload was answered with it", async () => {
    // Prepare: while the first upload's record write is landing-but-failing, the same bytes come again
    const entry = freshEntry();
    const bytes = pngBytes(5, 5, 9001);
    let duplicate: { status: number; record: ImageRecord } | undefined;
    duringLostAnswer = async () => {
      const response = await origin.upload(entry, uploadForm(bytes));
      duplicate = { status: response.status, record: (await response.json()) as ImageRecord };
    };

    // Act
    const first = await origin.upload(entry, uploadForm(bytes));

    // Assess: the duplicate was told the image is stored, and it is, bytes and all
    expect(duplicate?.status).toBe(200);
    expect(first.status).toBe(201);
    expect(await listed(entry)).toEqual([duplicate?.record]);
    const object = await s3.read(objectKey(duplicate?.record as ImageRecord));
    expect(object?.bytes).toEqual(bytes);
  });
});

describe("defect: a failed record write left its object behind when the store also refused the cleanup", () => {
  it("removes the object when a read shows the record was never written", async () => {
    // Prepare: the record write fails before reaching the store, and so would any delete of it
    const entry = freshEntry();
    faults.failNext("put");
    faults.failNext("delete");

    // Act
    const response = await origin.upload(entry, uploadForm(pngBytes(5, 5, 9002)));

    // Assess
    expect(response.status).toBe(502);
    expect(await s3.keys(prefixOf(entry))).toEqual([]);
    expect(await listed(entry)).toEqual([]);
  });
});

describe("defect: an object write whose answer was lost left an orphan object", () => {
  it("removes the object of an upload whose object write landed but failed", async () => {
    // Prepare
    const entry = freshEntry();
    origin.imageFaults.failNext("put", 1, "after");

    // Act
    const response = await origin.upload(entry, uploadForm(pngBytes(5, 5, 9003)));

    // Assess
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("storage_unavailable");
    expect(await s3.keys(prefixOf(entry))).toEqual([]);
    expect(await listed(entry)).toEqual([]);
  });
});

describe("defect: a delete whose answer was lost put the record back over bytes that were gone", () => {
  it("answers 204 and lists nothing when the delete landed but its answer was lost", async () => {
    // Prepare
    const entry = freshEntry();
    const record = (await (
      await origin.upload(entry, uploadForm(pngBytes(5, 5, 9004)))
    ).json()) as ImageRecord;
    origin.imageFaults.failNext("delete", 1, "after");

    // Act
    const response = await origin.send("DELETE", imagesPath(entry, record.id), { entry });

    // Assess
    expect(response.status).toBe(204);
    expect(await listed(entry)).toEqual([]);
    expect(await s3.read(objectKey(record))).toBeUndefined();
    expect(origin.invalidations).toContainEqual([record.url, `/${objectKey(record)}*`]);
  });

  it("never lists an image whose delete cannot be confirmed, and leaves its bytes to reconcile", async () => {
    // Prepare: the delete fails, and so does the look that would tell whether the object is gone
    const entry = freshEntry();
    const record = (await (
      await origin.upload(entry, uploadForm(pngBytes(5, 5, 9005)))
    ).json()) as ImageRecord;
    origin.imageFaults.failNext("delete");
    origin.imageFaults.failNext("head");

    // Act
    const response = await origin.send("DELETE", imagesPath(entry, record.id), { entry });
    const report = await reconcile(
      { imagesPrefix: "dev", images: origin.deps.images, metadata: metadata.store, now: Date.now },
      // The entry's only record is gone: a listing with no record at all is what a blind one looks like.
      { fix: true, graceMs: 0, allowMassRemoval: true },
    );

    // Assess
    expect(response.status).toBe(502);
    expect(await listed(entry)).toEqual([]);
    expect(origin.logs).toContainEqual(
      expect.objectContaining({ event: "orphan_object", object_key: objectKey(record) }),
    );
    expect(report.removedObjects).toContain(objectKey(record));
    expect(report.missingObjects).toEqual([]);
  });

  it("still puts the record back when the object is certainly kept", async () => {
    // Prepare
    const entry = freshEntry();
    const record = (await (
      await origin.upload(entry, uploadForm(pngBytes(5, 5, 9006)))
    ).json()) as ImageRecord;
    origin.imageFaults.failNext("delete");

    // Act
    const response = await origin.send("DELETE", imagesPath(entry, record.id), { entry });

    // Assess
    expect(response.status).toBe(502);
    expect(await listed(entry)).toEqual([record]);
    expect(await s3.read(objectKey(record))).toBeDefined();
  });
});

describe("defect: on Bugout, an upload of bytes the entry held answered 502 when an entry delete removed its copy first", () => {
  it("answers the first holder's record when its own later copy is already gone", async () => {
    // Prepare: the entry holds the bytes; the second write's own copy vanishes before it removes it
    const api = new BugoutApiDouble(BUGOUT_TOKEN, BUGOUT_APPLICATION_ID);
    const store = new BugoutMetadataStore({
      apiUrl: await api.start(),
      applicationId: BUGOUT_APPLICATION_ID,
      accessToken: async () => BUGOUT_TOKEN,
      settleMs: BUGOUT_TEST_SETTLE_MS,
    });
    const record = (id: string): ImageRecord => ({
      id,
      journal_id: "journal-r",
      entry_id: "entry-r",
      name: "same",
      extension: "png",
      content_type: "image/png",
      size: 3,
      sha256: "c".repeat(64),
      width: 1,
      height: 1,
      created_at: new Date().toISOString(),
      url: `/journals/journal-r/entries/entry-r/images/${id}`,
    });
    const first = record("11111111-1111-4111-8111-111111111111");
    await store.put(first);
    api.beforeAnswer = (call) => {
      if (call.method !== "DELETE") return;
      // As a concurrent DELETE of the whole entry would have: the later copy is gone already.
      const id = call.path.split("/")[2] ?? "";
      api.remove(id);
    };

    // Act
    const outcome = await store.put(record("22222222-2222-4222-8222-222222222222")).finally(() => api.stop());

    // Assess
    expect(outcome).toEqual({ record: first, created: false });
  });
});
