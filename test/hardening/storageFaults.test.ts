import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EntryRef } from "../../contract/types";
import type { ImageRecord } from "../../origin/domain/ports";
import { reconcile } from "../../origin/domain/reconcile";
import { FaultyProxy } from "../support/faultyProxy";
import { pngBytes } from "../support/images";
import {
  imagesPath,
  METADATA_ADAPTERS,
  makeOrigin,
  objectKey,
  startMetadata,
  type TestMetadata,
  type TestOrigin,
  uploadForm,
} from "../support/origin";
import { faultSeed, SeededRandom } from "../support/random";
import { startS3Server, type TestS3, testS3Client } from "../support/s3Server";
import { allRecords, inParallel, sha256, tally } from "../support/workload";

/**
 * The S3-compatible server fails at random: a quarter of the requests are refused, reset, or done and then
 * answered with a reset or a 500, through a real HTTP proxy. The SDK client makes one attempt, so every
 * fault reaches the gateway's code rather than the SDK's retries. Uploads, deletes of one image and of a
 * whole entry, and listings run against it; afterwards no record is without its bytes, every upload
 * acknowledged on an entry nobody deletes from is listed with its own bytes, and `reconcile` finds only
 * orphans it can remove.
 */

const OPERATIONS = 240;
const FAULT_RATE = 0.25;
const CONCURRENCY = 8;
/** Only uploads go to the first entry, so every acknowledged upload there must survive. */
const KEPT: EntryRef = { journalId: "journal-sf", entryId: "kept" };
const CHURNED: readonly EntryRef[] = [
  { journalId: "journal-sf", entryId: "churn-1" },
  { journalId: "journal-sf", entryId: "churn-2" },
];

type Operation =
  | { readonly kind: "upload"; readonly entry: EntryRef; readonly seed: number }
  | { readonly kind: "delete-one"; readonly entry: EntryRef }
  | { readonly kind: "delete-entry"; readonly entry: EntryRef }
  | { readonly kind: "list"; readonly entry: EntryRef };

function workload(random: SeededRandom): Operation[] {
  return Array.from({ length: OPERATIONS }, (_, index): Operation => {
    const roll = random.next();
    const churned = random.pick(CHURNED);
    // One upload in ten repeats bytes sent before, so deduplication meets the faults too.
    const seed = index % 10 === 9 ? index - 3 : index;
    if (roll < 0.3) return { kind: "upload", entry: KEPT, seed };
    if (roll < 0.65) return { kind: "upload", entry: churned, seed };
    if (roll < 0.85) return { kind: "delete-one", entry: churned };
    if (roll < 0.9) return { kind: "delete-entry", entry: churned };
    return { kind: "list", entry: random.pick([KEPT, ...CHURNED]) };
  });
}

describe.each(METADATA_ADAPTERS)("the gateway on a failing S3-compatible server, %s metadata", (adapter) => {
  let s3: TestS3;
  let metadata: TestMetadata;
  let proxy: FaultyProxy;
  let origin: TestOrigin;
  const random = new SeededRandom(faultSeed(adapter === "sqlite" ? 4242 : 4343));

  beforeAll(async () => {
    s3 = await startS3Server();
    metadata = await startMetadata(adapter);
    proxy = new FaultyProxy(s3.endpoint, random, FAULT_RATE);
    const endpoint = await proxy.start();
    // One attempt: each fault reaches the gateway's own code.
    const client = testS3Client(endpoint, { maxAttempts: 1 });
    origin = await makeOrigin({ s3: { ...s3, client }, metadata: metadata.store });
  });

  afterAll(async () => {
    await proxy?.stop();
    await metadata?.stop();
    await s3?.stop();
  });

  it("leaves no record without its bytes and loses no acknowledged upload", async () => {
    // Prepare
    const uploaded = new Map<string, ImageRecord[]>();
    const acknowledged: ImageRecord[] = [];
    const answers: string[] = [];

    // Act
    await inParallel(workload(random), CONCURRENCY, async (operation) => {
      const key = `${operation.entry.journalId}/${operation.entry.entryId}`;
      const known = uploaded.get(key) ?? [];
      let response: Response;
      switch (operation.kind) {
        case "upload": {
          response = await origin.upload(operation.entry, uploadForm(pngBytes(5, 4, operation.seed)));
          if (response.ok) {
            const record = (await response.json()) as ImageRecord;
            acknowledged.push(record);
            uploaded.set(key, [...known, record]);
          }
          break;
        }
        case "delete-one": {
          const victim = known[random.integer(0, Math.max(0, known.length - 1))];
          if (!victim) return;
          response = await origin.send("DELETE", imagesPath(operation.entry, victim.id), {
            entry: operation.entry,
          });
          break;
        }
        case "delete-entry":
          response = await origin.send("DELETE", imagesPath(operation.entry), { entry: operation.entry });
          break;
        case "list":
          response = await origin.send("GET", imagesPath(operation.entry), { entry: operation.entry });
          break;
      }
      answers.push(`${operation.kind} ${response.status}`);
      expect([200, 201, 204, 404, 502]).toContain(response.status);
    });
    proxy.enabled = false;

    // Assess: every record has its own bytes
    const records = await allRecords(metadata.store);
    const missing: string[] = [];
    for (const record of records) {
      const object = await s3.read(objectKey(record));
      if (!object || sha256(object.bytes) !== record.sha256) missing.push(objectKey(record));
    }
    const keys = await s3.keys("dev/");
    const orphans = keys.filter((key) => !records.some((record) => objectKey(record) === key));
    const report = await reconcile(
      { imagesPrefix: "dev", images: origin.deps.images, metadata: metadata.store, now: Date.now },
      { fix: true, graceMs: 0 },
    );
    const after = await reconcile(
      { imagesPrefix: "dev", images: origin.deps.images, metadata: metadata.store, now: Date.now },
      { fix: false, graceMs: 0 },
    );
    console.info(
      `[faults] ${adapter} metadata on failing S3: ${OPERATIONS} operations, ${proxy.injected.length} S3 faults`,
      tally(proxy.injected.map(({ method, fault }) => `${method} ${fault}`)),
      "answers",
      tally(answers),
      `records ${records.length}, without bytes ${missing.length}, orphans ${orphans.length} ` +
        `(reconcile removed ${report.removedObjects.length}, left ${after.orphanObjects.length})`,
    );
    expect(proxy.injected.length).toBeGreaterThan(OPERATIONS * FAULT_RATE * 0.3);
    expect(missing).toEqual([]);
    expect(report.missingObjects).toEqual([]);
    expect([...report.removedObjects].sort()).toEqual(orphans);
    expect(after.orphanObjects).toEqual([]);

    // Assess: nothing acknowledged where nothing is deleted went missing
    const kept = records.filter((record) => record.entry_id === KEPT.entryId).map((record) => record.id);
    for (const record of acknowledged.filter((each) => each.entry_id === KEPT.entryId)) {
      expect(kept).toContain(record.id);
    }
  }, 60_000);
});
