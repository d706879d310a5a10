import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EntryRef } from "../../contract/types";
import { MetadataUnavailableError } from "../../origin/domain/errors";
import type { ImageRecord, MetadataStore } from "../../origin/domain/ports";
import { type Bytes, pngBytes } from "../support/images";
import {
  METADATA_ADAPTERS,
  makeOrigin,
  objectKey,
  startMetadata,
  type TestMetadata,
  type TestOrigin,
  uploadForm,
} from "../support/origin";
import { faultSeed, SeededRandom } from "../support/random";
import { RandomFaults } from "../support/randomFaults";
import { startS3Server, type TestS3 } from "../support/s3Server";
import { allRecords, inParallel, sha256, tally } from "../support/workload";

/**
 * The metadata store fails a seeded-random 20 % of its writes (record puts and deletes), sometimes before
 * the write and sometimes after it (the write done, the answer lost). After 200 uploads, the objects in
 * the bucket and the records are the same set, one for one; every acknowledged upload is among them, and
 * every record reads back with its own bytes.
 */

const UPLOADS = 200;
const FAULT_RATE = 0.2;
const CONCURRENCY = 8;
const ENTRIES: readonly EntryRef[] = [0, 1, 2, 3].map((n) => ({
  journalId: "journal-mf",
  entryId: `entry-${n}`,
}));

describe.each(METADATA_ADAPTERS)("uploads while %s fails a fifth of its writes", (adapter) => {
  let s3: TestS3;
  let metadata: TestMetadata;
  let faults: RandomFaults<MetadataStore>;
  let origin: TestOrigin;

  beforeAll(async () => {
    s3 = await startS3Server();
    metadata = await startMetadata(adapter);
    faults = new RandomFaults<MetadataStore>(metadata.store, {
      methods: ["put", "delete", "deleteByEntry"],
      rate: FAULT_RATE,
      random: new SeededRandom(faultSeed(adapter === "sqlite" ? 2026 : 2027)),
      makeError: () => new MetadataUnavailableError("injected"),
    });
    origin = await makeOrigin({ s3, metadata: faults.target });
  });

  afterAll(async () => {
    await metadata?.stop();
    await s3?.stop();
  });

  it("leaves objects and records equal, one for one, and loses no acknowledged upload", async () => {
    // Prepare: one upload in ten repeats earlier bytes, so deduplication races the faults too
    const work = Array.from({ length: UPLOADS }, (_, index) => ({
      entry: ENTRIES[index % ENTRIES.length] as EntryRef,
      bytes: pngBytes(6, 4, index % 10 === 9 ? index - 4 : index),
    }));
    const answers: { status: number; record?: ImageRecord; bytes: Bytes }[] = [];

    // Act
    await inParallel(work, CONCURRENCY, async ({ entry, bytes }) => {
      const response = await origin.upload(entry, uploadForm(bytes));
      const body = (await response.json()) as ImageRecord;
      answers.push({ status: response.status, record: response.ok ? body : undefined, bytes });
    });
    faults.enabled = false;

    // Assess
    const records = await allRecords(metadata.store);
    const keys = await s3.keys("dev/");
    const statuses = tally(answers.map((answer) => answer.status));
    const injected = tally(faults.injected.map((fault) => `${fault.method}/${fault.timing}`));
    const orphans = keys.filter((key) => !records.some((record) => objectKey(record) === key));
    console.info(
      `[faults] ${adapter} metadata: ${UPLOADS} uploads, ${faults.injected.length} write faults injected`,
      injected,
      "answers",
      statuses,
      `records ${records.length}, objects ${keys.length}, orphans ${orphans.length}`,
    );
    expect(faults.injected.length).toBeGreaterThan(UPLOADS * FAULT_RATE * 0.5);
    expect(Object.keys(statuses).sort()).toEqual(["200", "201", "502"]);
    expect(orphans).toEqual([]);
    expect(keys).toEqual(records.map((record) => objectKey(record)).sort());
    for (const answer of answers.filter((each) => each.record)) {
      expect(records.map((record) => record.id)).toContain(answer.record?.id);
    }
    for (const record of records) {
      const object = await s3.read(objectKey(record));
      expect(sha256(object?.bytes ?? new Uint8Array())).toBe(record.sha256);
    }
  }, 60_000);
});
