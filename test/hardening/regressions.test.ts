import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LOCAL_BUCKET } from "../../infra/local/gateway/LocalGateway";
import { discardInterruptedWrites } from "../../infra/local/storage/s3Recovery";
import { localS3Directory, startLocalS3 } from "../../infra/local/storage/s3Server";
import { BugoutMetadataStore } from "../../origin/adapters/BugoutMetadataStore";
import { MetadataUnavailableError } from "../../origin/domain/errors";
import type { ImageRecord, MetadataStore } from "../../origin/domain/ports";
import { reconcile } from "../../origin/domain/reconcile";
import { BugoutApiDouble } from "../support/bugoutApi";
import { FaultSwitch } from "../support/faults";
import { runReconcile } from "../support/gatewayProcess";
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
    expect(origin.invalidations).toContainEqual([record.url, `/${objectKey(record)}`]);
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

describe("defect: reconcile of the local gateway's data failed after a crash left a half-written object", () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "regression-reconcile-"));
  });

  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it("discards the broken metadata and removes the object as the orphan it is", async () => {
    // Prepare: an object whose metadata file a SIGKILL left empty, as s3rver writes it last
    const key = "dev/journal-x/entries/entry-x/images/0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b";
    const s3 = await startLocalS3({ directory: localS3Directory(dataDir), bucket: LOCAL_BUCKET });
    await s3.client.send(new PutObjectCommand({ Bucket: LOCAL_BUCKET, Key: key, Body: pngBytes(2, 2, 5) }));
    await s3.close();
    const metadataFile = join(localS3Directory(dataDir), LOCAL_BUCKET, `${key}._S3rver_metadata.json`);
    await writeFile(metadataFile, "");

    // Act
    const fix = await runReconcile(dataDir, ["--fix", "--grace-seconds=0", "--allow-mass-removal"]);

    // Assess
    expect(fix.code).toBe(0);
    expect(fix.report.removedObjects).toEqual([key]);
  }, 30_000);

  it("leaves alone a metadata file that a running gateway finishes writing meanwhile", async () => {
    // Prepare: a metadata file caught empty, in the middle of its write
    const directory = join(dataDir, "live");
    const file = join(directory, "bucket", "dev", "k._S3rver_metadata.json");
    await mkdir(join(directory, "bucket", "dev"), { recursive: true });
    await writeFile(file, "");

    // Act: the write completes while the recovery looks again
    const recovery = discardInterruptedWrites(directory);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await writeFile(file, JSON.stringify({ "content-type": "image/png" }));
    const removed = await recovery;

    // Assess
    expect(removed).toEqual([]);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ "content-type": "image/png" });
  });
});
