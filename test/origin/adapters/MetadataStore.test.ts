import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EntryRef } from "../../../contract/types";
import type { ImageRecord, MetadataStore, UploadRecord } from "../../../origin/domain/ports";
import { freshEntry, METADATA_ADAPTERS, startMetadata, type TestMetadata } from "../../support/origin";

let counter = 0;
function record(entry: EntryRef, overrides: Partial<ImageRecord> = {}): ImageRecord {
  counter += 1;
  const id = `00000000-0000-4000-8000-${String(counter).padStart(12, "0")}`;
  return {
    id,
    journal_id: entry.journalId,
    entry_id: entry.entryId,
    name: `image ${counter}`,
    extension: "png",
    content_type: "image/png",
    size: 100 + counter,
    sha256: counter.toString(16).padStart(64, "0"),
    width: 40 + counter,
    height: 30 + counter,
    created_at: new Date(Date.UTC(2026, 10, 25, 12, 0, counter)).toISOString(),
    url: `/journals/${entry.journalId}/entries/${entry.entryId}/images/${id}`,
    ...overrides,
  };
}

function upload(entry: EntryRef, overrides: Partial<UploadRecord> = {}): UploadRecord {
  counter += 1;
  return {
    id: `10000000-0000-4000-8000-${String(counter).padStart(12, "0")}`,
    journal_id: entry.journalId,
    entry_id: entry.entryId,
    name: `upload ${counter}`,
    declared_size: 5_000_000 + counter,
    created_at: "2026-11-25T12:00:00.000Z",
    expires_at: "2026-11-25T12:15:00.000Z",
    status: "pending",
    image_id: null,
    error: null,
    ...overrides,
  };
}

const uploadRefOf = (ticket: UploadRecord) => ({
  journalId: ticket.journal_id,
  entryId: ticket.entry_id,
  uploadId: ticket.id,
});

const refOf = (image: ImageRecord) => ({
  journalId: image.journal_id,
  entryId: image.entry_id,
  imageId: image.id,
});

describe.each(METADATA_ADAPTERS)("the %s metadata store", (adapter) => {
  let metadata: TestMetadata;
  let store: MetadataStore;

  beforeAll(async () => {
    metadata = await startMetadata(adapter);
    store = metadata.store;
  });

  afterAll(async () => {
    await metadata?.stop();
  });

  it("writes a record and reads it back exactly", async () => {
    // Prepare
    const image = record(freshEntry());

    // Act
    const outcome = await store.put(image);

    // Assess
    expect(outcome).toEqual({ record: image, created: true });
    expect(await store.get(refOf(image))).toEqual(image);
  });

  it("answers undefined for a record it does not have, or that belongs to another entry", async () => {
    // Prepare
    const image = record(freshEntry());
    await store.put(image);

    // Act
    const elsewhere = await store.get({ ...freshEntry(), imageId: image.id });

    // Assess
    expect(elsewhere).toBeUndefined();
  });

  it("lists an entry's records oldest first", async () => {
    // Prepare
    const entry = freshEntry();
    const newest = record(entry, { created_at: "2026-11-25T12:00:03.000Z" });
    const oldest = record(entry, { created_at: "2026-11-25T12:00:01.000Z" });
    const middle = record(entry, { created_at: "2026-11-25T12:00:02.000Z" });
    for (const image of [newest, oldest, middle]) await store.put(image);
    await store.put(record(freshEntry()));

    // Act
    const listed = await store.listByEntry(entry);

    // Assess
    expect(listed).toEqual([oldest, middle, newest]);
  });

  it("finds a record by the SHA-256 of its bytes, in its entry only", async () => {
    // Prepare
    const image = record(freshEntry());
    await store.put(image);

    // Act
    const found = await store.findBySha256(
      { journalId: image.journal_id, entryId: image.entry_id },
      image.sha256 ?? "",
    );
    const elsewhere = await store.findBySha256(freshEntry(), image.sha256 ?? "");

    // Assess
    expect(found).toEqual(image);
    expect(elsewhere).toBeUndefined();
  });

  it("keeps the first record for bytes the entry already has", async () => {
    // Prepare
    const entry = freshEntry();
    const first = record(entry);
    await store.put(first);
    const again = record(entry, { sha256: first.sha256 });

    // Act
    const outcome = await store.put(again);

    // Assess
    expect(outcome).toEqual({ record: first, created: false });
    expect(await store.listByEntry(entry)).toEqual([first]);
  });

  it("keeps exactly one record when writers on separate connections race with the same bytes", async () => {
    // Prepare
    const entry = freshEntry();
    const stores = [store, await metadata.another(), await metadata.another()];
    const sha256 = "f".repeat(64);
    const candidates = Array.from({ length: 12 }, () => record(entry, { sha256 }));

    // Act
    const outcomes = await Promise.all(candidates.map((image, index) => stores[index % 3]?.put(image)));

    // Assess
    const kept = await store.listByEntry(entry);
    expect(kept).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome?.created)).toHaveLength(1);
    expect(new Set(outcomes.map((outcome) => outcome?.record.id))).toEqual(new Set([kept[0]?.id]));
  });

  it("deletes one record and answers it; a second delete answers undefined", async () => {
    // Prepare
    const entry = freshEntry();
    const image = record(entry);
    const other = record(entry);
    await store.put(image);
    await store.put(other);

    // Act
    const removed = await store.delete(refOf(image));
    const again = await store.delete(refOf(image));

    // Assess
    expect(removed).toEqual(image);
    expect(again).toBeUndefined();
    expect(await store.listByEntry(entry)).toEqual([other]);
  });

  it("deletes every record of an entry, oldest first, and no other entry's", async () => {
    // Prepare
    const entry = freshEntry();
    const later = record(entry, { created_at: "2026-11-25T13:00:00.000Z" });
    const earlier = record(entry, { created_at: "2026-11-25T12:00:00.000Z" });
    const elsewhere = record(freshEntry());
    for (const image of [later, earlier, elsewhere]) await store.put(image);

    // Act
    const removed = await store.deleteByEntry(entry);

    // Assess
    expect(removed).toEqual([earlier, later]);
    expect(await store.listByEntry(entry)).toEqual([]);
    expect(await store.get(refOf(elsewhere))).toEqual(elsewhere);
    expect(await store.deleteByEntry(entry)).toEqual([]);
  });

  it("lists every record of every entry", async () => {
    // Prepare
    const images = [record(freshEntry()), record(freshEntry())];
    for (const image of images) await store.put(image);

    // Act
    const all: ImageRecord[] = [];
    for await (const image of store.listAll()) all.push(image);

    // Assess
    expect(all).toEqual(expect.arrayContaining(images));
  });

  describe("upload tickets", () => {
    it("records a ticket and reads it back exactly, in its entry only", async () => {
      // Prepare
      const ticket = upload(freshEntry());

      // Act
      await store.putUpload(ticket);

      // Assess
      expect(await store.getUpload(uploadRefOf(ticket))).toEqual(ticket);
      expect(await store.getUpload({ ...freshEntry(), uploadId: ticket.id })).toBeUndefined();
    });

    it("settles a pending ticket as ready, then keeps that first settlement", async () => {
      // Prepare
      const ticket = upload(freshEntry());
      await store.putUpload(ticket);
      const imageId = "20000000-0000-4000-8000-000000000001";

      // Act
      const ready = await store.settleUpload(uploadRefOf(ticket), { status: "ready", imageId });
      const later = await store.settleUpload(uploadRefOf(ticket), {
        status: "rejected",
        error: { code: "unsupported_type", message: "no" },
      });

      // Assess
      const expected = { ...ticket, status: "ready", image_id: imageId, error: null };
      expect(ready).toEqual(expected);
      expect(later).toEqual(expected);
      expect(await store.getUpload(uploadRefOf(ticket))).toEqual(expected);
    });

    it("settles a pending ticket as rejected, keeping the reason", async () => {
      // Prepare
      const ticket = upload(freshEntry());
      await store.putUpload(ticket);
      const error = { code: "too_large", message: "An image may be at most 20 bytes." };

      // Act
      const rejected = await store.settleUpload(uploadRefOf(ticket), { status: "rejected", error });

      // Assess
      expect(rejected).toEqual({ ...ticket, status: "rejected", image_id: null, error });
      expect(await store.getUpload(uploadRefOf(ticket))).toEqual(rejected);
    });

    it("answers undefined when settling a ticket it does not have", async () => {
      // Act
      const settled = await store.settleUpload(
        { ...freshEntry(), uploadId: "30000000-0000-4000-8000-000000000001" },
        { status: "ready", imageId: "30000000-0000-4000-8000-000000000002" },
      );

      // Assess
      expect(settled).toBeUndefined();
    });

    it("agrees on one settlement when settlers on separate connections race, and keeps one ticket", async () => {
      // Prepare
      const ticket = upload(freshEntry());
      await store.putUpload(ticket);
      const stores = [store, await metadata.another(), await metadata.another()];
      const outcomes = Array.from({ length: 9 }, (_, index) =>
        index % 2 === 0
          ? ({ status: "ready", imageId: `40000000-0000-4000-8000-00000000000${index}` } as const)
          : ({ status: "rejected", error: { code: "unsupported_type", message: `${index}` } } as const),
      );

      // Act
      const settled = await Promise.all(
        outcomes.map((outcome, index) => stores[index % 3]?.settleUpload(uploadRefOf(ticket), outcome)),
      );

      // Assess
      const final = await store.getUpload(uploadRefOf(ticket));
      expect(final?.status).not.toBe("pending");
      expect(settled).toEqual(settled.map(() => final));
      const kept = (await metadata.storedUploads()).filter((row) => JSON.stringify(row).includes(ticket.id));
      expect(kept).toHaveLength(1);
    });

    it("never lists a ticket among the entry's images", async () => {
      // Prepare
      const entry = freshEntry();
      const image = record(entry);
      await store.put(image);
      const ticket = upload(entry);
      await store.putUpload(ticket);
      await store.settleUpload(uploadRefOf(ticket), { status: "ready", imageId: image.id });

      // Act
      const listed = await store.listByEntry(entry);
      const all: ImageRecord[] = [];
      for await (const each of store.listAll()) all.push(each);
      const deleted = await store.deleteByEntry(entry);

      // Assess
      expect(listed).toEqual([image]);
      expect(all.filter((each) => each.entry_id === entry.entryId)).toEqual([image]);
      expect(deleted).toEqual([image]);
      expect(await store.getUpload(uploadRefOf(ticket))).toMatchObject({
        status: "ready",
        image_id: image.id,
      });
    });
  });
});
