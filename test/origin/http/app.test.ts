import { beforeEach, describe, expect, it } from "vitest";
import { GRANT_HEADER } from "../../../contract/constants";
import { KeyRing } from "../../../contract/KeyRing";
import { signGrant } from "../../../contract/tokens";
import { MetadataUnavailableError } from "../../../origin/domain/errors";
import type { ImageRecord } from "../../../origin/domain/ports";
import { makeKey } from "../../support/edge";
import { FaultSwitch } from "../../support/faults";
import {
  allBytesPng,
  animatedPng,
  avif,
  gif,
  heic,
  jpeg,
  pdf,
  pngBytes,
  storedAllBytesPng,
  svg,
  webp,
} from "../../support/images";
import {
  freshEntry,
  imagesPath,
  METADATA_ADAPTERS,
  makeOrigin,
  objectKey,
  type TestOrigin,
  uploadForm,
  useOriginStack,
} from "../../support/origin";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MISSING_IMAGE_ID = "3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71";

describe.each(METADATA_ADAPTERS)("the origin app on %s metadata", (adapter) => {
  const { s3, metadata, origin } = useOriginStack(adapter);

  beforeEach(() => {
    origin.logs.length = 0;
    origin.invalidations.length = 0;
    origin.imageFaults.reset();
    origin.invalidatorFaults.reset();
    metadata.resetFaults();
  });

  async function uploaded(entry = freshEntry(), bytes = pngBytes(4, 4, Math.random() * 1e9)) {
    const response = await origin.upload(entry, uploadForm(bytes, { filename: "holiday.png" }));
    expect(response.status).toBe(201);
    return { entry, bytes, record: (await response.json()) as ImageRecord };
  }

  async function storedFor(entry: { journalId: string; entryId: string }) {
    return (await metadata.stored()).filter(
      (row) => row.journal_id === entry.journalId && row.entry_id === entry.entryId,
    );
  }

  describe("health", () => {
    it("answers without a grant", async () => {
      // Act
      const response = await origin.send("GET", "/api/health");

      // Assess
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "ok" });
      expect(response.headers.get("cache-control")).toBe("no-store");
    });

    it("answers HEAD, as the edge allows", async () => {
      // Act
      const response = await origin.send("HEAD", "/api/health");

      // Assess
      expect(response.status).toBe(200);
    });
  });

  describe("direct upload", () => {
    it("stores a PNG byte for byte and answers 201 with its record", async () => {
      // Prepare
      const entry = freshEntry();
      const bytes = pngBytes(8, 6, 1);

      // Act
      const response = await origin.upload(entry, uploadForm(bytes, { filename: "holiday.png" }));

      // Assess
      expect(response.status).toBe(201);
      expect(response.headers.get("cache-control")).toBe("no-store");
      const record = (await response.json()) as ImageRecord;
      expect(record).toEqual({
        id: expect.stringMatching(UUID),
        journal_id: entry.journalId,
        entry_id: entry.entryId,
        name: "holiday",
        extension: "png",
        content_type: "image/png",
        size: bytes.byteLength,
        sha256: Buffer.from(await crypto.subtle.digest("SHA-256", bytes)).toString("hex"),
        width: 8,
        height: 6,
        created_at: new Date(origin.clock.ms).toISOString(),
        url: `/journals/${entry.journalId}/entries/${entry.entryId}/images/${record.id}`,
      });
      expect(Object.keys(record)).toEqual([
        "id",
        "journal_id",
        "entry_id",
        "name",
        "extension",
        "content_type",
        "size",
        "sha256",
        "width",
        "height",
        "created_at",
        "url",
      ]);
      const object = await s3.read(objectKey(record));
      expect(object?.bytes).toEqual(bytes);
      expect(object?.contentType).toBe("image/png");
      // None stored: the response headers policy alone tells browsers how long (the token's lifetime).
      expect(object?.cacheControl).toBeUndefined();
      expect(await storedFor(entry)).toEqual([
        expect.objectContaining({ id: record.id, sha256: record.sha256 }),
      ]);
    });

    it("keeps every byte value intact", async () => {
      // Prepare
      const entry = freshEntry();
      const bytes = allBytesPng();

      // Act
      const response = await origin.upload(entry, uploadForm(bytes));

      // Assess: stored without its private chunk, every byte value still in the pixels
      const record = (await response.json()) as ImageRecord;
      expect((await s3.read(objectKey(record)))?.bytes).toEqual(storedAllBytesPng());
    });

    it.each([
      ["JPEG", jpeg(), "jpg", "image/jpeg"],
      ["GIF", gif(), "gif", "image/gif"],
      ["WebP", webp(), "webp", "image/webp"],
      ["AVIF", avif(), "avif", "image/avif"],
      ["animated PNG", animatedPng(), "png", "image/png"],
    ])("accepts %s, typed from its bytes", async (_format, bytes, extension, contentType) => {
      // Prepare: the declared name and type say otherwise
      const entry = freshEntry();

      // Act
      const response = await origin.upload(
        entry,
        uploadForm(bytes, { filename: "picture.bin", type: "application/octet-stream" }),
      );

      // Assess
      expect(response.status).toBe(201);
      const record = (await response.json()) as ImageRecord;
      expect(record).toMatchObject({ extension, content_type: contentType, name: "picture" });
      expect((await s3.read(objectKey(record)))?.contentType).toBe(contentType);
    });

    it("types a PNG declared as a GIF as a PNG", async () => {
      // Act
      const response = await origin.upload(
        freshEntry(),
        uploadForm(pngBytes(2, 2, 2), { filename: "cat.gif", type: "image/gif" }),
      );

      // Assess
      expect(await response.json()).toMatchObject({
        extension: "png",
        content_type: "image/png",
        name: "cat",
      });
    });

    it.each([
      ["an SVG declared as a PNG", svg(), "image/png"],
      ["a PDF", pdf(), "application/pdf"],
      ["a HEIC image", heic(), "image/heic"],
      ["plain text", new Uint8Array(Buffer.from("just some words")), "text/plain"],
    ])("refuses %s with 415 and stores nothing", async (_what, bytes, type) => {
      // Prepare
      const entry = freshEntry();

      // Act
      const response = await origin.upload(entry, uploadForm(bytes, { filename: "x.png", type }));

      // Assess
      expect(response.status).toBe(415);
      expect((await response.json()).error.code).toBe("unsupported_type");
      expect(await s3.keys(entryPrefix(entry))).toEqual([]);
      expect(await storedFor(entry)).toEqual([]);
    });

    it.each([
      ["the name part", { name: "  Summer 2026  ", filename: "IMG_0001.png" }, "Summer 2026"],
      ["the file name without its extension", { filename: "beach.day.png" }, "beach.day"],
      ["the last segment of a path", { name: "../../etc/passwd" }, "passwd"],
      ["a Windows path", { filename: "C:\\Users\\ann\\cat.png" }, "cat"],
      ["control characters removed", { name: "a\u0000b\u0007c\u001bd\u007f\u202eefg" }, "abcdefg"],
      ["the file name when the name part is empty", { name: " \t", filename: "dog.png" }, "dog"],
      ["a fallback when nothing is left", { name: "..", filename: ".png" }, "image"],
    ])("names the image from %s", async (_what, options, expected) => {
      // Act
      const response = await origin.upload(freshEntry(), uploadForm(pngBytes(2, 2, 3), options));

      // Assess
      expect(response.status).toBe(201);
      expect((await response.json()).name).toBe(expected);
    });

    it("cuts a name to 200 characters without splitting one", async () => {
      // Prepare
      const name = `${"é".repeat(150)}${"😀".repeat(100)}`;

      // Act
      const response = await origin.upload(freshEntry(), uploadForm(pngBytes(2, 2, 4), { name }));

      // Assess
      const stored = (await response.json()).name as string;
      expect(Array.from(stored)).toHaveLength(200);
      expect(stored).toBe(`${"é".repeat(150)}${"😀".repeat(50)}`);
    });

    it("answers 200 with the existing record for the same bytes in the same entry", async () => {
      // Prepare
      const { entry, bytes, record } = await uploaded();

      // Act
      const again = await origin.upload(entry, uploadForm(bytes, { filename: "other-name.png" }));

      // Assess
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual(record);
      expect(await storedFor(entry)).toHaveLength(1);
      expect(await s3.keys(entryPrefix(entry))).toEqual([objectKey(record)]);
    });

    it("stores the same bytes again in another entry", async () => {
      // Prepare
      const { bytes, record } = await uploaded();
      const other = freshEntry();

      // Act
      const response = await origin.upload(other, uploadForm(bytes));

      // Assess
      expect(response.status).toBe(201);
      expect((await response.json()).id).not.toBe(record.id);
    });

    it("keeps one record and one object for 20 parallel uploads of one file", async () => {
      // Prepare
      const entry = freshEntry();
      const bytes = pngBytes(16, 16, 20);

      // Act
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => origin.upload(entry, uploadForm(bytes))),
      );

      // Assess
      const statuses = responses.map((response) => response.status).sort();
      expect(statuses.every((status) => status === 200 || status === 201)).toBe(true);
      const ids = new Set(await Promise.all(responses.map(async (response) => (await response.json()).id)));
      expect(ids.size).toBe(1);
      const [id] = ids;
      expect(await storedFor(entry)).toEqual([expect.objectContaining({ id })]);
      expect(await s3.keys(entryPrefix(entry))).toEqual([
        objectKey({ journal_id: entry.journalId, entry_id: entry.entryId, id }),
      ]);
    });

    it("keeps one record and one object when two containers race on the same bytes", async () => {
      // Prepare: a second app on its own connection to the same stores, as a second Lambda container
      const entry = freshEntry();
      const bytes = pngBytes(16, 16, 21);
      const second = await makeOrigin({ s3, metadata: await metadata.another() });
      const sign = async (app: TestOrigin) => app.grant("POST", entry);

      // Act
      const responses = await Promise.all(
        Array.from({ length: 10 }, async (_, index) => {
          const app = index % 2 === 0 ? origin : second;
          return app.send("POST", imagesPath(entry), { grant: await sign(app), body: uploadForm(bytes) });
        }),
      );

      // Assess
      const ids = new Set(await Promise.all(responses.map(async (response) => (await response.json()).id)));
      expect(ids.size).toBe(1);
      expect(await storedFor(entry)).toHaveLength(1);
      expect(await s3.keys(entryPrefix(entry))).toHaveLength(1);
    });

    it("refuses an empty file with 400 empty_file", async () => {
      // Act
      const response = await origin.upload(freshEntry(), uploadForm(new Uint8Array(0)));

      // Assess
      expect(response.status).toBe(400);
      expect((await response.json()).error.code).toBe("empty_file");
    });

    it.each([
      ["no file part", () => withParts([["name", "x"]])],
      [
        "two file parts",
        () =>
          withParts([
            ["file", file()],
            ["file", file()],
          ]),
      ],
      ["a file part that is text", () => withParts([["file", "not a file"]])],
      [
        "two name parts",
        () =>
          withParts([
            ["file", file()],
            ["name", "a"],
            ["name", "b"],
          ]),
      ],
      [
        "a name part that is a file",
        () =>
          withParts([
            ["file", file()],
            ["name", file()],
          ]),
      ],
    ])("refuses %s with 400 invalid_upload", async (_what, form) => {
      // Prepare
      const entry = freshEntry();

      // Act
      const response = await origin.upload(entry, form());

      // Assess
      expect(response.status).toBe(400);
      expect((await response.json()).error.code).toBe("invalid_upload");
      expect(await storedFor(entry)).toEqual([]);
    });

    it("refuses a body that is not multipart with 400 invalid_upload", async () => {
      // Prepare
      const entry = freshEntry();

      // Act
      const response = await origin.send("POST", imagesPath(entry), {
        entry,
        body: JSON.stringify({ file: "x" }),
        headers: { "content-type": "application/json" },
      });

      // Assess
      expect(response.status).toBe(400);
      expect((await response.json()).error.code).toBe("invalid_upload");
    });

    it("refuses a broken multipart body with 400 invalid_upload", async () => {
      // Prepare
      const entry = freshEntry();

      // Act
      const response = await origin.send("POST", imagesPath(entry), {
        entry,
        body: '--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nunterminated',
        headers: { "content-type": "multipart/form-data; boundary=b" },
      });

      // Assess
      expect(response.status).toBe(400);
      expect((await response.json()).error.code).toBe("invalid_upload");
    });

    it("refuses a file above MAX_DIRECT_UPLOAD_BYTES with 413 pointing at /uploads", async () => {
      // Prepare: the harness sets the limit to 64 KiB
      const entry = freshEntry();
      const bytes = new Uint8Array(64 * 1024 + 1);
      bytes.set(pngBytes(2, 2, 5));

      // Act
      const response = await origin.upload(entry, uploadForm(bytes));

      // Assess
      expect(response.status).toBe(413);
      const { error } = await response.json();
      expect(error.code).toBe("too_large");
      expect(error.message).toContain(`/api/journals/${entry.journalId}/entries/${entry.entryId}/uploads`);
      expect(await storedFor(entry)).toEqual([]);
    });

    it("accepts a file of exactly MAX_DIRECT_UPLOAD_BYTES", async () => {
      // Prepare
      const bytes = new Uint8Array(64 * 1024);
      bytes.set(pngBytes(2, 2, 6));

      // Act
      const response = await origin.upload(freshEntry(), uploadForm(bytes));

      // Assess
      expect(response.status).toBe(201);
    });

    it("refuses a body whose Content-Length is too large before reading it", async () => {
      // Prepare: a body that never ends; only the declared length can answer in time
      const entry = freshEntry();
      const endless = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => undefined) });

      // Act
      const response = await origin.app.request(
        new Request(`http://origin${imagesPath(entry)}`, {
          method: "POST",
          body: endless,
          duplex: "half",
          headers: {
            "content-type": "multipart/form-data; boundary=b",
            "content-length": String(2 * 1024 * 1024),
            [GRANT_HEADER]: await origin.grant("POST", entry),
          },
        } as RequestInit),
      );

      // Assess
      expect(response.status).toBe(413);
      expect((await response.json()).error.code).toBe("too_large");
    });

    it("refuses a streamed body without Content-Length once it outgrows the limit", async () => {
      // Prepare: 1 MiB of a single part, sent in chunks with no declared length
      const entry = freshEntry();
      const head = new TextEncoder().encode(
        '--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n',
      );
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull: (controller) => {
          if (sent === 0) controller.enqueue(head);
          sent += 1;
          if (sent > 16) controller.close();
          else controller.enqueue(new Uint8Array(64 * 1024));
        },
      });

      // Act
      const response = await origin.app.request(
        new Request(`http://origin${imagesPath(entry)}`, {
          method: "POST",
          body,
          duplex: "half",
          headers: {
            "content-type": "multipart/form-data; boundary=b",
            [GRANT_HEADER]: await origin.grant("POST", entry),
          },
        } as RequestInit),
      );

      // Assess
      expect(response.status).toBe(413);
    });
  });

  describe("listing and reading", () => {
    it("lists an entry without images as empty", async () => {
      // Prepare
      const entry = freshEntry();

      // Act
      const response = await origin.send("GET", imagesPath(entry), { entry });

      // Assess
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ images: [] });
    });

    it("lists an entry's images oldest first, and no other entry's", async () => {
      // Prepare
      const entry = freshEntry();
      const first = await uploaded(entry, pngBytes(3, 3, 31));
      origin.clock.advance(1);
      const second = await uploaded(entry, pngBytes(3, 3, 32));
      origin.clock.advance(1);
      const third = await uploaded(entry, pngBytes(3, 3, 33));
      await uploaded(freshEntry(), pngBytes(3, 3, 34));

      // Act
      const response = await origin.send("GET", imagesPath(entry), { entry });

      // Assess
      expect(await response.json()).toEqual({ images: [first.record, second.record, third.record] });
    });

    it("answers one record", async () => {
      // Prepare
      const { entry, record } = await uploaded();

      // Act
      const response = await origin.send("GET", imagesPath(entry, record.id), { entry });

      // Assess
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(record);
    });

    it("answers 404 not_found for an image the entry does not have", async () => {
      // Prepare: an image of another entry
      const { record } = await uploaded();
      const entry = freshEntry();

      // Act
      const response = await origin.send("GET", imagesPath(entry, record.id), { entry });

      // Assess
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: { code: "not_found", message: "No such image." } });
    });
  });

  describe("deleting", () => {
    it("deletes one image: record, object, then both CDN paths; answers 204", async () => {
      // Prepare
      const { entry, record } = await uploaded();
      const { record: kept } = await uploaded(entry);

      // Act
      const response = await origin.send("DELETE", imagesPath(entry, record.id), { entry });

      // Assess
      expect(response.status).toBe(204);
      expect(await response.text()).toBe("");
      expect((await storedFor(entry)).map((row) => row.id)).toEqual([kept.id]);
      expect(await s3.read(objectKey(record))).toBeUndefined();
      expect(await s3.read(objectKey(kept))).toBeDefined();
      expect(origin.invalidations).toEqual([[record.url, `/${objectKey(record)}*`]]);
    });

    it("answers 404 for an image already deleted, and invalidates nothing", async () => {
      // Prepare
      const { entry, record } = await uploaded();
      await origin.send("DELETE", imagesPath(entry, record.id), { entry });
      origin.invalidations.length = 0;

      // Act
      const response = await origin.send("DELETE", imagesPath(entry, record.id), { entry });

      // Assess
      expect(response.status).toBe(404);
      expect(origin.invalidations).toEqual([]);
    });

    it("deletes every image of an entry with one wildcard per CDN path, and no other entry's", async () => {
      // Prepare
      const entry = freshEntry();
      const images = [await uploaded(entry), await uploaded(entry), await uploaded(entry)];
      const other = await uploaded();

      // Act
      const response = await origin.send("DELETE", imagesPath(entry), { entry });

      // Assess
      expect(response.status).toBe(204);
      expect(await storedFor(entry)).toEqual([]);
      for (const { record } of images) expect(await s3.read(objectKey(record))).toBeUndefined();
      expect(await s3.read(objectKey(other.record))).toBeDefined();
      expect(await storedFor(other.entry)).toHaveLength(1);
      const { journalId, entryId } = entry;
      expect(origin.invalidations).toEqual([
        [
          `/journals/${journalId}/entries/${entryId}/images/*`,
          `/dev/${journalId}/entries/${entryId}/images/*`,
        ],
      ]);
    });

    it("answers 204 for an entry without images, and invalidates nothing", async () => {
      // Prepare
      const entry = freshEntry();

      // Act
      const response = await origin.send("DELETE", imagesPath(entry), { entry });

      // Assess
      expect(response.status).toBe(204);
      expect(origin.invalidations).toEqual([]);
    });

    it("still answers 204 when the invalidation fails, and logs it", async () => {
      // Prepare
      const { entry, record } = await uploaded();
      origin.invalidatorFaults.failNext("invalidate");

      // Act
      const response = await origin.send("DELETE", imagesPath(entry, record.id), { entry });

      // Assess
      expect(response.status).toBe(204);
      expect(await s3.read(objectKey(record))).toBeUndefined();
      expect(origin.logs).toContainEqual(
        expect.objectContaining({
          level: "warn",
          event: "invalidation_failed",
          paths: [record.url, `/${objectKey(record)}*`],
        }),
      );
    });
  });

  describe("when a store fails", () => {
    it("leaves no object when the record cannot be written (502 metadata_unavailable)", async () => {
      // Prepare
      const entry = freshEntry();
      metadata.fail("put");

      // Act
      const response = await origin.upload(entry, uploadForm(pngBytes(5, 5, 50)));

      // Assess
      expect(response.status).toBe(502);
      expect((await response.json()).error.code).toBe("metadata_unavailable");
      expect(await storedFor(entry)).toEqual([]);
      expect(await s3.keys(entryPrefix(entry))).toEqual([]);
    });

    it("answers 201 when the record was written but the store answered a failure", async () => {
      // Prepare
      const entry = freshEntry();
      metadata.fail("put", 1, "after");

      // Act
      const response = await origin.upload(entry, uploadForm(pngBytes(5, 5, 51)));

      // Assess: stored after all, and kept (a concurrent upload of the same bytes may hold this record)
      expect(response.status).toBe(201);
      const record = (await response.json()) as ImageRecord;
      expect((await storedFor(entry)).map((row) => row.id)).toEqual([record.id]);
      expect(await s3.keys(entryPrefix(entry))).toEqual([objectKey(record)]);
    });

    it("keeps the object, and logs it, when it cannot tell whether the record was written", async () => {
      // Prepare: the record write lands but fails, and the read that would tell fails too
      const entry = freshEntry();
      const faults = new FaultSwitch(metadata.store, () => new MetadataUnavailableError("injected"));
      const blind = await makeOrigin({ s3, metadata: faults.target });
      faults.failNext("put", 1, "after");
      faults.failNext("get");

      // Act
      const response = await blind.upload(entry, uploadForm(pngBytes(5, 5, 52)));

      // Assess: the record stayed, so its bytes must too; reconcile sees no record without bytes
      expect(response.status).toBe(502);
      const rows = await storedFor(entry);
      expect(rows).toHaveLength(1);
      expect(await s3.keys(entryPrefix(entry))).toEqual([
        objectKey({ journal_id: entry.journalId, entry_id: entry.entryId, id: rows[0]?.id as string }),
      ]);
      expect(blind.logs).toContainEqual(expect.objectContaining({ event: "upload_rollback_incomplete" }));
    });

    it("writes no record when the object cannot be written (502 storage_unavailable)", async () => {
      // Prepare
      const entry = freshEntry();
      origin.imageFaults.failNext("put");

      // Act
      const response = await origin.upload(entry, uploadForm(pngBytes(5, 5, 53)));

      // Assess
      expect(response.status).toBe(502);
      expect((await response.json()).error.code).toBe("storage_unavailable");
      expect(await storedFor(entry)).toEqual([]);
      expect(await s3.keys(entryPrefix(entry))).toEqual([]);
    });

    it("keeps the image listed when its object cannot be deleted (502 storage_unavailable)", async () => {
      // Prepare
      const { entry, record } = await uploaded();
      origin.imageFaults.failNext("delete");

      // Act
      const response = await origin.send("DELETE", imagesPath(entry, record.id), { entry });

      // Assess
      expect(response.status).toBe(502);
      expect((await response.json()).error.code).toBe("storage_unavailable");
      const listed = await origin.send("GET", imagesPath(entry), { entry });
      expect((await listed.json()).images).toEqual([record]);
      expect(await s3.read(objectKey(record))).toBeDefined();
      expect(origin.invalidations).toEqual([]);
    });

    it("deletes what it can of an entry and keeps listing the rest", async () => {
      // Prepare
      const entry = freshEntry();
      const first = await uploaded(entry);
      const second = await uploaded(entry);
      origin.imageFaults.failNext("delete");

      // Act
      const response = await origin.send("DELETE", imagesPath(entry), { entry });

      // Assess
      expect(response.status).toBe(502);
      const listed = (
        (await (await origin.send("GET", imagesPath(entry), { entry })).json()) as {
          images: ImageRecord[];
        }
      ).images;
      expect(listed).toHaveLength(1);
      const [kept] = listed;
      const gone = kept?.id === first.record.id ? second.record : first.record;
      expect(await s3.read(objectKey(kept as ImageRecord))).toBeDefined();
      expect(await s3.read(objectKey(gone))).toBeUndefined();
      expect(origin.invalidations).toHaveLength(1);
    });

    it("answers 502 metadata_unavailable when records cannot be listed", async () => {
      // Prepare
      const entry = freshEntry();
      metadata.fail("listByEntry");

      // Act
      const response = await origin.send("GET", imagesPath(entry), { entry });

      // Assess
      expect(response.status).toBe(502);
      expect(await response.json()).toEqual({
        error: { code: "metadata_unavailable", message: expect.any(String) },
      });
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(origin.logs).toContainEqual(
        expect.objectContaining({ level: "error", event: "request_failed" }),
      );
    });
  });

  describe("grants", () => {
    const routes = [
      ["GET", (entry: { journalId: string; entryId: string }) => imagesPath(entry)],
      ["POST", (entry: { journalId: string; entryId: string }) => imagesPath(entry)],
      ["DELETE", (entry: { journalId: string; entryId: string }) => imagesPath(entry)],
      ["GET", (entry: { journalId: string; entryId: string }) => imagesPath(entry, MISSING_IMAGE_ID)],
      ["DELETE", (entry: { journalId: string; entryId: string }) => imagesPath(entry, MISSING_IMAGE_ID)],
    ] as const;

    it.each(routes)("refuses %s without a grant with 401 invalid_grant", async (method, path) => {
      // Prepare
      const entry = freshEntry();

      // Act
      const response = await origin.send(method, path(entry), { grant: null });

      // Assess
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({
        error: { code: "invalid_grant", message: "The request carries no grant from the edge." },
      });
      expect(response.headers.get("cache-control")).toBe("no-store");
    });

    it.each([
      ["another journal", { journalId: "journal-other" }, "GET"],
      ["another entry", { entryId: "entry-other" }, "GET"],
      ["another method", {}, "DELETE"],
    ])("refuses a grant for %s", async (_what, change, grantedMethod) => {
      // Prepare
      const entry = freshEntry();
      const grant = await origin.grant(grantedMethod, { ...entry, ...change });

      // Act
      const response = await origin.send("GET", imagesPath(entry), { grant });

      // Assess
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe("invalid_grant");
    });

    it("refuses a grant minted for another path of the same entry and method", async () => {
      // Prepare: the edge granted deleting one image; the request would delete every image of the entry
      const entry = freshEntry();
      const stored = await (await origin.upload(entry, uploadForm(pngBytes(3, 3, 71)))).json();
      const grant = await origin.grant("DELETE", entry, imagesPath(entry, stored.id));

      // Act
      const response = await origin.send("DELETE", imagesPath(entry), { grant });

      // Assess: refused, and the image is still listed
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe("invalid_grant");
      const listed = await (await origin.send("GET", imagesPath(entry), { entry })).json();
      expect(listed.images.map((image: { id: string }) => image.id)).toEqual([stored.id]);
    });

    it("refuses an expired grant", async () => {
      // Prepare
      const entry = freshEntry();
      const grant = await origin.grant("GET", entry);
      origin.clock.advance(61 + 5);

      // Act
      const response = await origin.send("GET", imagesPath(entry), { grant });

      // Assess
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe("invalid_grant");
    });

    it("refuses a grant signed with a key it does not have", async () => {
      // Prepare
      const entry = freshEntry();
      const stranger = await KeyRing.create([makeKey("stranger")]);
      const { token } = await signGrant(
        stranger,
        { ...entry, method: "GET", path: imagesPath(entry) },
        origin.clock.seconds,
      );

      // Act
      const response = await origin.send("GET", imagesPath(entry), { grant: token });

      // Assess
      expect(response.status).toBe(401);
    });

    it("refuses a garbled grant", async () => {
      // Prepare
      const entry = freshEntry();

      // Act
      const response = await origin.send("GET", imagesPath(entry), { grant: "not.a.jwt" });

      // Assess
      expect(response.status).toBe(401);
    });

    it("stores nothing for an upload without a grant", async () => {
      // Prepare
      const entry = freshEntry();

      // Act
      const response = await origin.send("POST", imagesPath(entry), {
        grant: null,
        body: uploadForm(pngBytes(2, 2, 60)),
      });

      // Assess
      expect(response.status).toBe(401);
      expect(await storedFor(entry)).toEqual([]);
    });
  });

  describe("paths", () => {
    it.each([
      ["a journal id with a dot", "/api/journals/j.1/entries/e/images"],
      ["an entry id of 129 characters", `/api/journals/j/entries/${"e".repeat(129)}/images`],
      ["an encoded slash", "/api/journals/a%2Fb/entries/e/images"],
      ["an image id that is not a UUID", "/api/journals/j/entries/e/images/holiday.png"],
      ["an upper-case image id", `/api/journals/j/entries/e/images/${MISSING_IMAGE_ID.toUpperCase()}`],
    ])("refuses %s with 400 invalid_id before the grant", async (_what, path) => {
      // Act
      const response = await origin.send("GET", path, { grant: null });

      // Assess
      expect(response.status).toBe(400);
      expect((await response.json()).error.code).toBe("invalid_id");
    });

    it.each([["/api/nothing"], ["/journals/j/entries/e/images"], ["/"]])(
      "answers 404 for %s",
      async (path) => {
        // Act
        const response = await origin.send("GET", path, { grant: null });

        // Assess
        expect(response.status).toBe(404);
        expect((await response.json()).error.code).toBe("not_found");
      },
    );

    it("answers 405 with Allow for a method the contract does not have", async () => {
      // Act
      const response = await origin.send("PUT", imagesPath(freshEntry()), { grant: null });

      // Assess
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("GET, POST, DELETE");
    });
  });

  describe("logs", () => {
    it("writes one line per request with method, route, status, ms and the ALB's trace id", async () => {
      // Prepare
      const entry = freshEntry();

      // Act
      await origin.send("GET", imagesPath(entry), {
        entry,
        headers: { "x-amzn-trace-id": "Root=1-67891233-abcdef012345678912345678" },
      });

      // Assess
      expect(origin.logs).toEqual([
        {
          level: "info",
          event: "request",
          method: "GET",
          route: "/api/journals/:journalId/entries/:entryId/images",
          status: 200,
          ms: expect.any(Number),
          request_id: "Root=1-67891233-abcdef012345678912345678",
        },
      ]);
    });

    it("makes up a request id when there is no trace id, and logs refusals too", async () => {
      // Act
      await origin.send("GET", imagesPath(freshEntry(), MISSING_IMAGE_ID), { grant: null });

      // Assess
      expect(origin.logs).toEqual([
        expect.objectContaining({
          route: "/api/journals/:journalId/entries/:entryId/images/:imageId",
          status: 401,
          request_id: expect.stringMatching(UUID),
        }),
      ]);
    });

    it("never logs a grant, a credential or a header", async () => {
      // Prepare
      const entry = freshEntry();
      const grant = await origin.grant("POST", entry);
      metadata.fail("put");

      // Act
      await origin.send("POST", imagesPath(entry), {
        grant,
        body: uploadForm(pngBytes(2, 2, 70)),
        headers: { authorization: "Bearer viewer-secret", cookie: "image_token=cookie-secret" },
      });

      // Assess
      const written = JSON.stringify(origin.logs);
      expect(origin.logs.length).toBeGreaterThan(0);
      for (const secret of [
        grant,
        "viewer-secret",
        "cookie-secret",
        "authorization",
        "x-image-gateway-grant",
      ]) {
        expect(written).not.toContain(secret);
      }
    });
  });

  it("answers 500 internal_error without details for an unexpected failure", async () => {
    // Prepare: a bug, not a store outage
    const buggy = new FaultSwitch(metadata.store, () => new TypeError("Cannot read properties of undefined"));
    buggy.failNext("listByEntry");
    const failing = await makeOrigin({ s3, metadata: buggy.target });
    const entry = freshEntry();

    // Act
    const response = await failing.send("GET", imagesPath(entry), { entry });

    // Assess
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({
      error: { code: "internal_error", message: "The gateway could not answer." },
    });
    expect(failing.logs).toContainEqual(
      expect.objectContaining({ event: "request_failed", error: expect.stringContaining("TypeError") }),
    );
  });
});

function entryPrefix(entry: { journalId: string; entryId: string }): string {
  return `dev/${entry.journalId}/entries/${entry.entryId}/`;
}

function file(): File {
  return new File([pngBytes(2, 2, 99)], "a.png", { type: "image/png" });
}

function withParts(parts: readonly (readonly [string, string | File])[]): FormData {
  const form = new FormData();
  for (const [name, value] of parts) form.append(name, value);
  return form;
}
