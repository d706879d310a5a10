import { describe, expect, it } from "vitest";
import { imageObjectKey, imageOfKey, imageUrl, stagingKeyOf, uploadOfStagingKey } from "../../contract/keys";

const IMAGE = {
  journalId: "journal-1",
  entryId: "entry_2",
  imageId: "3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71",
} as const;
const UPLOAD = {
  journalId: "journal-1",
  entryId: "entry_2",
  uploadId: "0d6f7e2a-5c1b-4f3e-8a9d-7b6c5d4e3f21",
};

describe("the object key and URL of an image", () => {
  it.each([
    ["dev", "dev/journal-1/entries/entry_2/images/3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71"],
    ["team/prod.v2", "team/prod.v2/journal-1/entries/entry_2/images/3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71"],
  ])("lays out the key under the prefix %s", (prefix, key) => {
    expect(imageObjectKey(prefix, IMAGE)).toBe(key);
  });

  it("serves the image under /journals/…, without the prefix", () => {
    expect(imageUrl(IMAGE)).toBe(
      "/journals/journal-1/entries/entry_2/images/3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71",
    );
  });
});

describe("imageOfKey", () => {
  it.each(["dev", "team/prod.v2"])("reads back every key imageObjectKey lays out under %s", (prefix) => {
    expect(imageOfKey(prefix, imageObjectKey(prefix, IMAGE))).toEqual(IMAGE);
  });

  const id = IMAGE.imageId;
  it.each([
    ["another prefix", `prod/journal-1/entries/e/images/${id}`],
    ["a prefix that only starts like ours", `development/journal-1/entries/e/images/${id}`],
    ["the prefix alone", "dev/"],
    ["a key beyond the image (a variant)", `dev/journal-1/entries/e/images/${id}/w320`],
    ["a trailing slash", `dev/journal-1/entries/e/images/${id}/`],
    ["a missing image id", "dev/journal-1/entries/e/images"],
    ["entry instead of entries", `dev/journal-1/entry/e/images/${id}`],
    ["image instead of images", `dev/journal-1/entries/e/image/${id}`],
    ["an empty journal id", `dev//entries/e/images/${id}`],
    ["a journal id with a dot", `dev/journal.1/entries/e/images/${id}`],
    ["an entry id starting with a dash", `dev/journal-1/entries/-e/images/${id}`],
    ["an entry id of 129 characters", `dev/journal-1/entries/${"e".repeat(129)}/images/${id}`],
    ["an upper-case image id", `dev/journal-1/entries/e/images/${id.toUpperCase()}`],
    ["an image id that is not a UUID", "dev/journal-1/entries/e/images/photo.png"],
    ["a staging key", `incoming/journal-1/entries/e/images/${id}`],
  ])("refuses %s", (_what, key) => {
    expect(imageOfKey("dev", key)).toBeUndefined();
  });

  it("accepts ids at the longest the grammar allows", () => {
    const long = `a${"_".repeat(127)}`;
    expect(imageOfKey("dev", `dev/${long}/entries/${long}/images/${id}`)).toEqual({
      journalId: long,
      entryId: long,
      imageId: id,
    });
  });
});

describe("staging keys", () => {
  it("puts a presigned upload under incoming/, by its upload id", () => {
    expect(stagingKeyOf(UPLOAD)).toBe(`incoming/journal-1/entries/entry_2/images/${UPLOAD.uploadId}`);
  });

  it("reads back the upload of its own staging key", () => {
    expect(uploadOfStagingKey(stagingKeyOf(UPLOAD))).toEqual(UPLOAD);
  });

  it.each([
    ["an image key", imageObjectKey("dev", IMAGE)],
    ["an image key under a prefix named incoming", imageObjectKey("incoming/x", IMAGE)],
    ["a staging key with an upper-case id", `incoming/j/entries/e/images/${UPLOAD.uploadId.toUpperCase()}`],
    ["a staging key with a further segment", `${stagingKeyOf(UPLOAD)}/part`],
  ])("is not the upload of %s", (_what, key) => {
    expect(uploadOfStagingKey(key)).toBeUndefined();
  });
});
