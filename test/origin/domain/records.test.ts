import { describe, expect, it } from "vitest";
import { imageOfKey, imageUrl } from "../../../contract/keys";
import type { ImageRecord } from "../../../origin/domain/ports";
import { objectKeyOf, refOf } from "../../../origin/domain/records";

const RECORD: ImageRecord = {
  id: "3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71",
  journal_id: "journal-1",
  entry_id: "entry-7",
  name: "holiday",
  extension: "png",
  content_type: "image/png",
  size: 1234,
  sha256: "ab".repeat(32),
  width: 4032,
  height: 3024,
  created_at: "2026-11-25T12:00:00.000Z",
  url: "/journals/journal-1/entries/entry-7/images/3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71",
};

describe("refOf", () => {
  it("names the image a record describes", () => {
    expect(refOf(RECORD)).toEqual({ journalId: "journal-1", entryId: "entry-7", imageId: RECORD.id });
  });

  it("gives back the record's own URL", () => {
    expect(imageUrl(refOf(RECORD))).toBe(RECORD.url);
  });
});

describe("objectKeyOf", () => {
  it.each([
    ["dev", `dev/journal-1/entries/entry-7/images/${RECORD.id}`],
    ["prod/eu", `prod/eu/journal-1/entries/entry-7/images/${RECORD.id}`],
  ])("keeps the record's bytes under %s", (prefix, key) => {
    expect(objectKeyOf(prefix, RECORD)).toBe(key);
  });

  it("lays out a key that reads back as the same image, so reconcile pairs them", () => {
    expect(imageOfKey("dev", objectKeyOf("dev", RECORD))).toEqual(refOf(RECORD));
  });
});
