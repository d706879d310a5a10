import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { Database, Statement } from "better-sqlite3";
import { imageUrl } from "../../contract/keys";
import type { EntryRef, ImageRef, UploadRef } from "../../contract/types";
import { MetadataUnavailableError } from "../domain/errors";
import type { ImageRecord, MetadataStore, PutOutcome, UploadOutcome, UploadRecord } from "../domain/ports";

/** One step of the schema; `PRAGMA user_version` counts the steps applied. Append, never edit. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE images (
     id           TEXT PRIMARY KEY,
     journal_id   TEXT NOT NULL,
     entry_id     TEXT NOT NULL,
     name         TEXT NOT NULL,
     extension    TEXT NOT NULL,
     content_type TEXT NOT NULL,
     size         INTEGER NOT NULL,
     sha256       TEXT NOT NULL,
     created_at   TEXT NOT NULL,
     -- The same bytes once per entry, however many uploads race: the last word on deduplication.
     UNIQUE (journal_id, entry_id, sha256)
   );
   CREATE INDEX images_by_entry ON images (journal_id, entry_id, created_at);`,
  `CREATE TABLE uploads (
     id            TEXT PRIMARY KEY,
     journal_id    TEXT NOT NULL,
     entry_id      TEXT NOT NULL,
     name          TEXT NOT NULL,
     declared_size INTEGER NOT NULL,
     created_at    TEXT NOT NULL,
     expires_at    TEXT NOT NULL,
     status        TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'rejected')),
     -- No foreign key: the image may be deleted later, and the upload's outcome stays what it was.
     image_id      TEXT,
     error_code    TEXT,
     error_message TEXT
   );`,
  // Displayed size; rows written before it was kept read NULL, as the contract says.
  `ALTER TABLE images ADD COLUMN width INTEGER;
   ALTER TABLE images ADD COLUMN height INTEGER;`,
];

const COLUMNS =
  "id, journal_id, entry_id, name, extension, content_type, size, sha256, width, height, created_at";
const UPLOAD_COLUMNS =
  "id, journal_id, entry_id, name, declared_size, created_at, expires_at, status, image_id, error_code, error_message";
const LIST_ALL_PAGE_SIZE = 500;

type Row = Omit<ImageRecord, "url"> & { readonly rowid?: number };
type UploadRow = Omit<UploadRecord, "error"> & {
  readonly error_code: string | null;
  readonly error_message: string | null;
};

/**
 * Records in a SQLite file (better-sqlite3): the local gateway's store, and the reference behaviour
 * the Bugout adapter follows. The schema is created and migrated when the file is opened.
 */
export class SqliteMetadataStore implements MetadataStore {
  private readonly statements: {
    readonly insert: Statement;
    readonly get: Statement;
    readonly listByEntry: Statement;
    readonly findBySha256: Statement;
    readonly delete: Statement;
    readonly deleteByEntry: Statement;
    readonly page: Statement;
    readonly insertUpload: Statement;
    readonly getUpload: Statement;
    readonly settleUpload: Statement;
  };

  private constructor(private readonly db: Database) {
    const byEntry = "journal_id = @journalId AND entry_id = @entryId";
    this.statements = {
      insert: db.prepare(
        `INSERT INTO images (${COLUMNS})
         VALUES (@id, @journal_id, @entry_id, @name, @extension, @content_type, @size, @sha256, @width, @height,
                 @created_at)
         ON CONFLICT (journal_id, entry_id, sha256) DO NOTHING`,
      ),
      get: db.prepare(`SELECT ${COLUMNS} FROM images WHERE ${byEntry} AND id = @imageId`),
      listByEntry: db.prepare(`SELECT ${COLUMNS} FROM images WHERE ${byEntry} ORDER BY created_at, rowid`),
      findBySha256: db.prepare(`SELECT ${COLUMNS} FROM images WHERE ${byEntry} AND sha256 = @sha256`),
      delete: db.prepare(`DELETE FROM images WHERE ${byEntry} AND id = @imageId RETURNING ${COLUMNS}`),
      deleteByEntry: db.prepare(`DELETE FROM images WHERE ${byEntry}`),
      page: db.prepare(`SELECT rowid, ${COLUMNS} FROM images WHERE rowid > ? ORDER BY rowid LIMIT ?`),
      insertUpload: db.prepare(
        `INSERT INTO uploads (${UPLOAD_COLUMNS})
         VALUES (@id, @journal_id, @entry_id, @name, @declared_size, @created_at, @expires_at, @status,
                 @image_id, @error_code, @error_message)`,
      ),
      getUpload: db.prepare(`SELECT ${UPLOAD_COLUMNS} FROM uploads WHERE ${byEntry} AND id = @uploadId`),
      // Only a pending upload changes: the first settlement wins, whoever comes second.
      settleUpload: db.prepare(
        `UPDATE uploads SET status = @status, image_id = @image_id, error_code = @error_code,
                error_message = @error_message
         WHERE ${byEntry} AND id = @uploadId AND status = 'pending'`,
      ),
    };
  }

  /**
   * Opens (creating if needed) the database file and brings its schema up to date.
   *
   * @throws {Error} when the file was written by a newer schema than this code knows
   */
  public static async open(file: string): Promise<SqliteMetadataStore> {
    // Loaded here, not at module scope: the AWS bundle never ships the native module.
    const { default: BetterSqlite3 } = await import("better-sqlite3");
    if (file !== ":memory:") await mkdir(dirname(file), { recursive: true });
    const db = new BetterSqlite3(file);
    try {
      // WAL lets the reconcile command read while the gateway writes; a busy writer is waited for.
      db.pragma("journal_mode = WAL");
      db.pragma("busy_timeout = 5000");
      migrate(db);
      return new SqliteMetadataStore(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  public async put(record: ImageRecord): Promise<PutOutcome> {
    return this.run(() =>
      this.db.transaction((): PutOutcome => {
        const { changes } = this.statements.insert.run(toRow(record));
        if (changes === 1) return { record, created: true };
        const existing = this.statements.findBySha256.get({
          journalId: record.journal_id,
          entryId: record.entry_id,
          sha256: record.sha256,
        }) as Row;
        return { record: toRecord(existing), created: false };
      })(),
    );
  }

  public async get(image: ImageRef): Promise<ImageRecord | undefined> {
    return this.run(() => optionalRecord(this.statements.get.get(image)));
  }

  public async listByEntry(entry: EntryRef): Promise<ImageRecord[]> {
    return this.run(() => (this.statements.listByEntry.all(entryParams(entry)) as Row[]).map(toRecord));
  }

  public async findBySha256(entry: EntryRef, sha256: string): Promise<ImageRecord | undefined> {
    return this.run(() =>
      optionalRecord(this.statements.findBySha256.get({ ...entryParams(entry), sha256 })),
    );
  }

  public async delete(image: ImageRef): Promise<ImageRecord | undefined> {
    return this.run(() => optionalRecord(this.statements.delete.get(image)));
  }

  public async deleteByEntry(entry: EntryRef): Promise<ImageRecord[]> {
    return this.run(() =>
      this.db.transaction(() => {
        const removed = (this.statements.listByEntry.all(entryParams(entry)) as Row[]).map(toRecord);
        this.statements.deleteByEntry.run(entryParams(entry));
        return removed;
      })(),
    );
  }

  public async *listAll(): AsyncIterable<ImageRecord> {
    // Paged by rowid rather than one open cursor: the caller may use the store while it iterates.
    let after = 0;
    for (;;) {
      const rows = await this.run(() => this.statements.page.all(after, LIST_ALL_PAGE_SIZE) as Row[]);
      for (const row of rows) yield toRecord(row);
      const last = rows.at(-1);
      if (!last || rows.length < LIST_ALL_PAGE_SIZE) return;
      after = last.rowid ?? after;
    }
  }

  public async putUpload(upload: UploadRecord): Promise<void> {
    this.run(() => this.statements.insertUpload.run(toUploadRow(upload)));
  }

  public async getUpload(upload: UploadRef): Promise<UploadRecord | undefined> {
    return this.run(() => optionalUpload(this.statements.getUpload.get(uploadParams(upload))));
  }

  public async settleUpload(upload: UploadRef, outcome: UploadOutcome): Promise<UploadRecord | undefined> {
    return this.run(() =>
      this.db.transaction(() => {
        this.statements.settleUpload.run({
          ...uploadParams(upload),
          status: outcome.status,
          image_id: outcome.status === "ready" ? outcome.imageId : null,
          error_code: outcome.status === "rejected" ? outcome.error.code : null,
          error_message: outcome.status === "rejected" ? outcome.error.message : null,
        });
        return optionalUpload(this.statements.getUpload.get(uploadParams(upload)));
      })(),
    );
  }

  public async close(): Promise<void> {
    this.db.close();
  }

  private run<T>(query: () => T): T {
    try {
      return query();
    } catch (error) {
      throw new MetadataUnavailableError("The image metadata database failed.", error);
    }
  }
}

function migrate(db: Database): void {
  // IMMEDIATE takes the write lock before reading the version, so two processes opening a new file
  // cannot both apply the same step.
  db.transaction(() => {
    const applied = db.pragma("user_version", { simple: true }) as number;
    if (applied > MIGRATIONS.length) {
      throw new Error(
        `The metadata database has schema ${applied}; this code knows up to ${MIGRATIONS.length}.`,
      );
    }
    for (const step of MIGRATIONS.slice(applied)) db.exec(step);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

function entryParams(entry: EntryRef): { journalId: string; entryId: string } {
  return { journalId: entry.journalId, entryId: entry.entryId };
}

function toRow(record: ImageRecord): Row {
  const { url: _url, ...row } = record;
  return row;
}

function toRecord(row: Row): ImageRecord {
  const { rowid: _rowid, ...columns } = row;
  return {
    ...columns,
    url: imageUrl({ journalId: row.journal_id, entryId: row.entry_id, imageId: row.id }),
  };
}

function optionalRecord(row: unknown): ImageRecord | undefined {
  return row === undefined ? undefined : toRecord(row as Row);
}

function uploadParams(upload: UploadRef): { journalId: string; entryId: string; uploadId: string } {
  return { journalId: upload.journalId, entryId: upload.entryId, uploadId: upload.uploadId };
}

function toUploadRow(upload: UploadRecord): UploadRow {
  const { error, ...columns } = upload;
  return { ...columns, error_code: error?.code ?? null, error_message: error?.message ?? null };
}

function optionalUpload(row: unknown): UploadRecord | undefined {
  if (row === undefined) return undefined;
  const { error_code, error_message, ...columns } = row as UploadRow;
  return {
    ...columns,
    error: error_code === null ? null : { code: error_code, message: error_message ?? "" },
  };
}
