import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HttpError } from "../../../contract/errors";
import { SqliteMetadataStore } from "../../../origin/adapters/SqliteMetadataStore";
import type { ImageRecord } from "../../../origin/domain/ports";

function record(index: number): ImageRecord {
  const id = `00000000-0000-4000-8000-${String(index).padStart(12, "0")}`;
  return {
    id,
    journal_id: "j",
    entry_id: "e",
    name: `n${index}`,
    extension: "png",
    content_type: "image/png",
    size: index,
    sha256: index.toString(16).padStart(64, "0"),
    width: 4,
    height: 3,
    created_at: new Date(Date.UTC(2026, 0, 1) + index).toISOString(),
    url: `/journals/j/entries/e/images/${id}`,
  };
}

describe("SqliteMetadataStore", () => {
  let directory: string;
  let file: string;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), "image-gateway-sqlite-"));
    file = join(directory, "nested", "metadata.sqlite");
  });

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it("creates its directory, file and schema on open", async () => {
    // Act
    const store = await SqliteMetadataStore.open(file);
    await store.close();

    // Assess
    const db = new BetterSqlite3(file, { readonly: true });
    const columns = db.prepare("SELECT name FROM pragma_table_info('images')").all();
    const uploadColumns = db.prepare("SELECT name FROM pragma_table_info('uploads')").all();
    const version = db.pragma("user_version", { simple: true });
    const mode = db.pragma("journal_mode", { simple: true });
    db.close();
    expect(columns.map((column) => (column as { name: string }).name)).toEqual([
      "id",
      "journal_id",
      "entry_id",
      "name",
      "extension",
      "content_type",
      "size",
      "sha256",
      "created_at",
      "width",
      "height",
    ]);
    expect(uploadColumns.map((column) => (column as { name: string }).name)).toEqual([
      "id",
      "journal_id",
      "entry_id",
      "name",
      "declared_size",
      "created_at",
      "expires_at",
      "status",
      "image_id",
      "error_code",
      "error_message",
    ]);
    expect(version).toBe(3);
    expect(mode).toBe("wal");
  });

  it("migrates a database left at an earlier schema, keeping what it holds", async () => {
    // Prepare: a file that exists but has no schema yet (version 0), with a table of its own
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(directory, "nested"));
    const old = new BetterSqlite3(file);
    old.exec("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('kept');");
    old.close();

    // Act
    const store = await SqliteMetadataStore.open(file);
    await store.put(record(1));
    await store.close();

    // Assess
    const db = new BetterSqlite3(file, { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(3);
    expect(db.prepare("SELECT text FROM notes").all()).toEqual([{ text: "kept" }]);
    expect(db.prepare("SELECT COUNT(*) AS n FROM images").get()).toEqual({ n: 1 });
    db.close();
  });

  it("adds upload tickets to a database the first release wrote, keeping its images", async () => {
    // Prepare: schema 1 exactly as the first release created it, holding one image
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(directory, "nested"));
    const old = new BetterSqlite3(file);
    old.exec(`CREATE TABLE images (
       id TEXT PRIMARY KEY, journal_id TEXT NOT NULL, entry_id TEXT NOT NULL, name TEXT NOT NULL,
       extension TEXT NOT NULL, content_type TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
       created_at TEXT NOT NULL, UNIQUE (journal_id, entry_id, sha256));
     CREATE INDEX images_by_entry ON images (journal_id, entry_id, created_at);`);
    const { url: _url, width: _width, height: _height, ...row } = record(1);
    old
      .prepare(
        "INSERT INTO images VALUES (@id, @journal_id, @entry_id, @name, @extension, @content_type, @size, @sha256, @created_at)",
      )
      .run(row);
    old.pragma("user_version = 1");
    old.close();
    const upload = {
      id: "0f6c1c8e-2d4b-4c3a-9e1f-5a7b9c0d1e2f",
      journal_id: "j",
      entry_id: "e",
      name: "holiday",
      declared_size: 5_000_000,
      created_at: "2026-01-01T00:00:00.000Z",
      expires_at: "2026-01-01T00:15:00.000Z",
      status: "pending" as const,
      image_id: null,
      error: null,
    };

    // Act
    const store = await SqliteMetadataStore.open(file);
    await store.putUpload(upload);
    const listed = await store.listByEntry({ journalId: "j", entryId: "e" });
    const ticket = await store.getUpload({ journalId: "j", entryId: "e", uploadId: upload.id });
    await store.close();

    // Assess: the image written before sizes were kept reads them null
    expect(listed).toEqual([{ ...record(1), width: null, height: null }]);
    expect(ticket).toEqual(upload);
    const db = new BetterSqlite3(file, { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(3);
    db.close();
  });

  it("keeps its records across reopening", async () => {
    // Prepare
    const first = await SqliteMetadataStore.open(file);
    await first.put(record(1));
    await first.close();

    // Act
    const second = await SqliteMetadataStore.open(file);
    const listed = await second.listByEntry({ journalId: "j", entryId: "e" });
    await second.close();

    // Assess
    expect(listed).toEqual([record(1)]);
  });

  it("refuses a database written by a newer schema", async () => {
    // Prepare
    await (await SqliteMetadataStore.open(file)).close();
    const db = new BetterSqlite3(file);
    db.pragma("user_version = 7");
    db.close();

    // Act
    const opening = SqliteMetadataStore.open(file);

    // Assess
    await expect(opening).rejects.toThrow("schema 7");
  });

  it("enforces one record per bytes and entry in the schema itself", async () => {
    // Prepare
    await (await SqliteMetadataStore.open(file)).close();
    const db = new BetterSqlite3(file);
    const insert = db.prepare(
      "INSERT INTO images VALUES (?, 'j', 'e', 'n', 'png', 'image/png', 1, 'same', '2026-01-01T00:00:00.000Z', 1, 1)",
    );
    insert.run("a");

    // Act
    const duplicate = () => insert.run("b");

    // Assess
    expect(duplicate).toThrow(/UNIQUE constraint failed/);
    db.close();
  });

  it("pages through more records than one page holds", async () => {
    // Prepare
    const store = await SqliteMetadataStore.open(file);
    const images = Array.from({ length: 1203 }, (_, index) => record(index + 1));
    for (const image of images) await store.put(image);

    // Act
    const listed: ImageRecord[] = [];
    for await (const image of store.listAll()) listed.push(image);
    await store.close();

    // Assess
    expect(listed).toEqual(images);
  });

  it("answers 502 metadata_unavailable when the database fails", async () => {
    // Prepare
    const store = await SqliteMetadataStore.open(file);
    await store.close();

    // Act
    const listing = store.listByEntry({ journalId: "j", entryId: "e" });

    // Assess
    const error = await listing.catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 502, code: "metadata_unavailable" });
  });
});
