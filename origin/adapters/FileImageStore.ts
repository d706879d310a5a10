import { createHash, randomBytes, randomUUID } from "node:crypto";
import {
  type FileHandle,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rmdir,
  unlink,
} from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { IMAGES_PREFIX_PATTERN } from "../../contract/constants";
import { StorageUnavailableError } from "../domain/errors";
import type {
  CopyObjectOptions,
  ImageStore,
  PutObjectOptions,
  ReadOptions,
  StoredObject,
  StoredObjectInfo,
} from "../domain/ports";

/**
 * The key grammar: `/`-separated segments, each starting with a letter or digit and made of letters,
 * digits, `.`, `_` and `-` (the grammar of `IMAGES_PREFIX`, whose ids and names every gateway key is made
 * of). No segment can be `.`, `..`, empty or hidden, so a key never leaves the store's root and never
 * names one of the store's own files (its temporary directory and metadata files start with a dot).
 */
const KEY_PATTERN = IMAGES_PREFIX_PATTERN;
/** S3's longest key, in bytes. */
const MAX_KEY_BYTES = 1024;
/** The longest file name most filesystems take (NAME_MAX), less room for the metadata file's dots. */
const MAX_SEGMENT_BYTES = 240;
/** Where writes are prepared before their rename, inside the root so that the rename stays atomic. */
const TEMP_DIRECTORY = ".tmp";
/**
 * How much of a file one read takes: 64 KiB (Node's default) costs a thread-pool round trip per 64 KiB,
 * which made reading a 10 MB staged upload take 20 ms; a MiB keeps it near the copy's own cost.
 */
const READ_CHUNK_BYTES = 1024 * 1024;
/** How much of an arriving stream one write takes at least (see `BatchedWriter`). */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** How much of an arriving stream is written before it is flushed to disk while more arrives. */
const FLUSH_AHEAD_BYTES = 4 * 1024 * 1024;
/** What S3 calls an object stored without a type. */
const DEFAULT_CONTENT_TYPE = "binary/octet-stream";

/** An object key that this store cannot hold: it does not match the key grammar. */
export class InvalidObjectKeyError extends StorageUnavailableError {
  public constructor(key: string) {
    super(`"${key.slice(0, 80)}" is not an object key the image store can hold.`);
  }
}

/** A temporary file written, on its way to disk, not yet an object. */
interface Prepared {
  readonly temp: string;
  readonly size: number;
  readonly eTag: string;
  readonly ino: number;
  /** Settles once the bytes are on disk (fsync). */
  readonly synced: Promise<void>;
}

/** What the store keeps beside one version of an object's bytes. */
interface VersionMetadata {
  /** The inode of the bytes this entry describes: how a reader tells the current version apart. */
  readonly ino: number;
  readonly size: number;
  readonly contentType: string;
  /** Quoted, 32 hex digits, new for every version written (see `newVersionTag`). */
  readonly eTag: string;
  /** Milliseconds since the epoch; a copy's own time, though it shares its source's bytes. */
  readonly lastModified: number;
}

/** An object's file and what is known about it: what a server needs to answer a read from disk. */
export interface LocatedObject extends StoredObjectInfo {
  readonly eTag: string;
  readonly contentType: string;
  /** The absolute path of its bytes. */
  readonly path: string;
}

/** Bytes written to a temporary file, not yet an object: `commit` makes them one, `discard` drops them. */
export interface PendingObject {
  readonly size: number;
  /** The ETag the object will have. */
  readonly eTag: string;
  /** Makes the bytes the object at `key`, atomically: a reader sees the old object or this one. */
  commit(key: string, contentType: string): Promise<void>;
  discard(): Promise<void>;
}

/**
 * The gateway's `ImageStore` on the local disk, for `npm start`: each object is a file under `root`
 * whose path ends with its key (so a person can look), and its type and ETag are kept beside it in
 * `.{name}.meta.json`.
 *
 * Every write goes to a temporary file, is flushed to disk (fsync) and then renamed over the object's
 * path, so a crash at any moment leaves the old bytes or the new, never half a file. The metadata file
 * is written the same way just before that rename and describes the last two versions by inode, so
 * whichever version the rename left in place is described. Writes to one key are serialized within the
 * process; objects never change in place, which lets a copy share its source's bytes (a hard link).
 *
 * Unlike S3, a key cannot be both an object and the directory of another (`a/b` beside `a/b/c`); the
 * gateway's keys never are.
 */
export class FileImageStore implements ImageStore {
  private readonly locks = new Map<string, Promise<unknown>>();

  private constructor(
    /** The absolute directory every object lives under. */
    public readonly root: string,
  ) {}

  /** Opens (and creates) a store at `root`. */
  public static async open(root: string): Promise<FileImageStore> {
    const store = new FileImageStore(resolve(root));
    await mkdir(join(store.root, TEMP_DIRECTORY), { recursive: true });
    return store;
  }

  /** Whether `key` is one this store can hold. */
  public static isValidKey(key: string): boolean {
    return (
      Buffer.byteLength(key) <= MAX_KEY_BYTES &&
      KEY_PATTERN.test(key) &&
      key.split("/").every((segment) => Buffer.byteLength(segment) <= MAX_SEGMENT_BYTES)
    );
  }

  /**
   * Writes `bytes` as the object at `key`. `options.sha256` is not checked again: S3 checks it because the
   * bytes cross a network to reach it, while these never leave this process between the caller's hash and
   * the write, and a second pass over every byte cost a tenth of a direct upload's time.
   */
  public async put(key: string, bytes: Uint8Array, options: PutObjectOptions): Promise<void> {
    const path = this.pathOf(key);
    await this.serialized(path, async () => {
      // The current version is looked up while the temporary file opens; its bytes are then written and
      // flushed while the metadata file is (see `install`).
      const [pending, current] = await Promise.allSettled([
        this.prepareBytes(bytes),
        this.currentVersions(path),
      ]);
      if (pending.status === "rejected") throw pending.reason;
      if (current.status === "rejected") {
        await removeFile(pending.value.temp).catch(() => undefined);
        throw new StorageUnavailableError("The image store could not write the image.", current.reason);
      }
      await this.install(path, pending.value, current.value, options.contentType);
    });
  }

  /**
   * Streams `source` to a temporary file, at most `maxBytes` of it: what the upload door writes before it
   * knows the form is whole. Nothing is an object until `commit`.
   *
   * @throws {ObjectTooLargeError} as soon as `source` has given more than `maxBytes` (nothing is kept)
   */
  public async prepareFrom(source: Readable, maxBytes: number): Promise<PendingObject> {
    const pending = await this.prepare((file) =>
      writeChunks(file, source as AsyncIterable<Buffer>, maxBytes),
    );
    return {
      size: pending.size,
      eTag: pending.eTag,
      commit: (key, contentType) => this.commitAt(this.pathOf(key), pending, contentType),
      discard: () => removeFile(pending.temp),
    };
  }

  public async head(key: string): Promise<StoredObjectInfo | undefined> {
    const located = await this.locate(key);
    return (
      located && {
        key,
        size: located.size,
        lastModified: located.lastModified,
        eTag: located.eTag,
        contentType: located.contentType,
      }
    );
  }

  /**
   * The object's file and its metadata, for serving it from disk (`send`), or `undefined` when there is
   * no such object (or the key cannot be one).
   */
  public async locate(key: string): Promise<LocatedObject | undefined> {
    if (!FileImageStore.isValidKey(key)) return undefined;
    const path = join(this.root, key);
    return this.reading(async () => {
      const stats = await lstat(path).catch(absentAsUndefined);
      if (!stats?.isFile()) return undefined;
      const metadata = await this.metadataOf(path, stats.ino, stats.size, stats.mtimeMs);
      return { key, path, ...publicInfo(metadata) };
    });
  }

  public async get(key: string): Promise<StoredObject | undefined> {
    return this.withOpen(key, {}, async (file, info) => {
      const bytes = new Uint8Array(await file.readFile());
      return { ...info, size: bytes.byteLength, bytes };
    });
  }

  public async readStart(
    key: string,
    length: number,
    options: ReadOptions = {},
  ): Promise<Uint8Array | undefined> {
    return this.withOpen(key, options, async (file, info) => {
      const buffer = Buffer.alloc(Math.min(length, info.size));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
      return new Uint8Array(buffer.subarray(0, bytesRead));
    });
  }

  /**
   * Read straight into the one buffer, a MiB per read: no chunk is allocated on the way (fresh memory
   * costs its page faults once more), and the version opened is the version read.
   */
  public async readAll(
    key: string,
    size: number,
    options: ReadOptions = {},
  ): Promise<Uint8Array | undefined> {
    return this.withOpen(key, options, async (file, info) => {
      if (info.size !== size) return undefined;
      const bytes = Buffer.allocUnsafe(size);
      for (let read = 0; read < size; ) {
        const { bytesRead } = await file.read(bytes, read, Math.min(READ_CHUNK_BYTES, size - read), read);
        if (bytesRead === 0) return undefined;
        read += bytesRead;
      }
      return bytes;
    });
  }

  public async stream(
    key: string,
    options: ReadOptions = {},
  ): Promise<AsyncIterable<Uint8Array> | undefined> {
    const path = this.readablePath(key);
    if (!path) return undefined;
    const opened = await this.reading(() => this.openVersion(path, key, options));
    if (!opened) return undefined;
    // The handle is the version checked: a later write renames another file over the path, never into it.
    return chunksOf(opened.file);
  }

  public async copy(from: string, to: string, options: CopyObjectOptions): Promise<boolean> {
    const target = this.pathOf(to);
    const source = this.readablePath(from);
    if (!source) return false;
    const opened = await this.reading(() => this.openVersion(source, from, options));
    if (!opened) return false;
    try {
      const pending = await this.shareOrCopy(source, opened.file, opened.info);
      if (!pending) return false;
      await this.commitAt(target, pending, options.contentType);
      return true;
    } finally {
      await opened.file.close().catch(() => undefined);
    }
  }

  public async delete(key: string): Promise<void> {
    if (!FileImageStore.isValidKey(key)) return;
    const path = join(this.root, key);
    await this.serialized(path, async () => {
      try {
        await removeFile(path);
        await removeFile(metadataPath(path));
      } catch (error) {
        throw new StorageUnavailableError("The image store could not delete the image.", error);
      }
      await this.pruneEmptyDirectories(dirname(path));
    });
  }

  public async *list(prefix: string): AsyncIterable<StoredObjectInfo> {
    const slash = prefix.lastIndexOf("/");
    const directory = prefix.slice(0, slash + 1);
    // A prefix lists nothing outside the root: its directory part must be made of key segments.
    if (directory !== "" && !FileImageStore.isValidKey(directory.slice(0, -1))) return;
    try {
      for await (const key of this.walk(directory)) {
        if (!key.startsWith(prefix)) continue;
        const info = await this.head(key);
        if (info) yield { key, size: info.size, lastModified: info.lastModified };
      }
    } catch (error) {
      if (error instanceof StorageUnavailableError) throw error;
      throw new StorageUnavailableError("The image store could not be listed.", error);
    }
  }

  /**
   * Removes what interrupted writes left in the temporary directory. Only safe when no write of this
   * store is under way (at start, before serving).
   *
   * @returns how many files were removed
   */
  public async discardInterruptedWrites(): Promise<number> {
    const directory = join(this.root, TEMP_DIRECTORY);
    const names = await readdir(directory).catch(() => []);
    await Promise.all(names.map((name) => removeFile(join(directory, name))));
    return names.length;
  }

  /**
   * Removes `directory` and then each parent below the root while it is empty, as S3 keeps no folder
   * for keys that are gone. A write racing into one of them makes it again (`renameInto`). Best effort:
   * the object is already deleted, and a directory left behind only costs a listing a look.
   */
  private async pruneEmptyDirectories(directory: string): Promise<void> {
    for (let current = directory; current.startsWith(`${this.root}/`); current = dirname(current)) {
      try {
        await rmdir(current);
      } catch {
        // Not empty (ENOTEMPTY, EEXIST), already gone (ENOENT), or anything else: nothing more to prune.
        return;
      }
    }
  }

  /** Every key under `directory` (`""` or ending with `/`), in S3's order: by their UTF-8 bytes. */
  private async *walk(directory: string): AsyncGenerator<string> {
    const entries = await readdir(join(this.root, directory), { withFileTypes: true }).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT" || error.code === "ENOTDIR") return [];
        throw error;
      },
    );
    // A directory sorts as its name and a slash, so `a-b` (0x2d) comes before the keys under `a/` (0x2f).
    const named = entries
      .filter((entry) => !entry.name.startsWith(".") && (entry.isFile() || entry.isDirectory()))
      .map((entry) => ({ entry, sortName: entry.isDirectory() ? `${entry.name}/` : entry.name }))
      .sort((a, b) => Buffer.compare(Buffer.from(a.sortName), Buffer.from(b.sortName)));
    for (const { entry } of named) {
      if (entry.isDirectory()) yield* this.walk(`${directory}${entry.name}/`);
      else yield `${directory}${entry.name}`;
    }
  }

  /**
   * Writes a temporary file with `write` and starts flushing it to disk; it gets `eTag`, or a new one.
   * The flush runs while the caller goes on (the metadata file is written meanwhile, and the disk
   * commits both together); `commitAt` waits for it before the rename.
   */
  private async prepare(
    write: (file: FileHandle) => Promise<void>,
    eTag = newVersionTag(),
  ): Promise<Prepared> {
    const temp = join(this.root, TEMP_DIRECTORY, randomUUID());
    let file: FileHandle | undefined;
    try {
      file = await open(temp, "wx", 0o644);
      await write(file);
      const { size, ino } = await file.stat();
      const handle = file;
      file = undefined;
      const synced = handle.sync().finally(() => handle.close());
      // Awaited by the commit; a discarded write's failed flush matters to no one.
      synced.catch(() => undefined);
      return { temp, size, ino, eTag, synced };
    } catch (error) {
      await file?.close().catch(() => undefined);
      await removeFile(temp).catch(() => undefined);
      if (error instanceof StorageUnavailableError) throw error;
      throw new StorageUnavailableError("The image store could not write the image.", error);
    }
  }

  /** Makes a prepared temporary file the object at `path` (see `install`), after any earlier write to it. */
  private async commitAt(path: string, pending: Prepared, contentType: string): Promise<void> {
    await this.serialized(path, async () => {
      let current: VersionMetadata[];
      try {
        current = await this.currentVersions(path);
      } catch (error) {
        await removeFile(pending.temp).catch(() => undefined);
        throw new StorageUnavailableError("The image store could not write the image.", error);
      }
      await this.install(path, pending, current, contentType);
    });
  }

  /**
   * What the metadata file says of the version now at `path` (none for a new key), with the directory
   * made ready for a write. Run under the path's lock.
   */
  private async currentVersions(path: string): Promise<VersionMetadata[]> {
    await mkdir(dirname(path), { recursive: true });
    const current = await lstat(path).catch(absentAsUndefined);
    return current ? (await readVersions(path)).filter((version) => version.ino === current.ino) : [];
  }

  /**
   * A temporary file for `bytes`, known in size and inode as soon as it is open: their write and flush
   * run on in `synced`, so that `install` writes the metadata file meanwhile rather than after.
   */
  private async prepareBytes(bytes: Uint8Array): Promise<Prepared> {
    const temp = join(this.root, TEMP_DIRECTORY, randomUUID());
    let file: FileHandle | undefined;
    try {
      file = await open(temp, "wx", 0o644);
      const { ino } = await file.stat();
      const handle = file;
      const synced = (async () => {
        try {
          await handle.writeFile(bytes);
          await handle.sync();
        } finally {
          await handle.close();
        }
      })();
      // Awaited by `install`, which removes the file when it failed.
      synced.catch(() => undefined);
      return { temp, size: bytes.byteLength, ino, eTag: newVersionTag(), synced };
    } catch (error) {
      await file?.close().catch(() => undefined);
      await removeFile(temp).catch(() => undefined);
      throw new StorageUnavailableError("The image store could not write the image.", error);
    }
  }

  /**
   * Makes a prepared temporary file the object at `path`, under the path's lock: its metadata first
   * (describing the `current` version and this one), then the rename, then the directory flushed so both
   * renames last. The temporary file is removed when any step fails.
   */
  private async install(
    path: string,
    pending: Prepared,
    current: readonly VersionMetadata[],
    contentType: string,
  ): Promise<void> {
    try {
      const version: VersionMetadata = {
        ino: pending.ino,
        size: pending.size,
        contentType,
        eTag: pending.eTag,
        lastModified: Date.now(),
      };
      await writeDurably(metadataPath(path), JSON.stringify({ versions: [...current, version] }), this.root);
      await pending.synced;
      await renameInto(pending.temp, path);
      await syncDirectory(dirname(path));
    } catch (error) {
      await removeFile(pending.temp).catch(() => undefined);
      throw new StorageUnavailableError("The image store could not write the image.", error);
    }
  }

  /**
   * A temporary file with the bytes of the open `file`: a hard link to its inode when the filesystem
   * allows (objects never change in place), a copy otherwise. `undefined` when the path no longer holds
   * that version (a write replaced it since it was opened).
   */
  private async shareOrCopy(
    source: string,
    file: FileHandle,
    info: VersionMetadata,
  ): Promise<Prepared | undefined> {
    const temp = join(this.root, TEMP_DIRECTORY, randomUUID());
    try {
      await link(source, temp);
      const linked = await lstat(temp);
      // The source's bytes were flushed when it was written.
      const synced = Promise.resolve();
      if (linked.ino === info.ino) return { temp, size: info.size, eTag: info.eTag, ino: linked.ino, synced };
      await removeFile(temp);
      return undefined;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return undefined;
      if (code !== "EPERM" && code !== "EXDEV" && code !== "EMLINK" && code !== "ENOTSUP") {
        throw new StorageUnavailableError("The image store could not copy the image.", error);
      }
    }
    const chunks = file.createReadStream({ start: 0, autoClose: false, highWaterMark: READ_CHUNK_BYTES });
    return this.prepare((target) => writeChunks(target, chunks as AsyncIterable<Buffer>), info.eTag);
  }

  /** Opens the current version at `path`, if it matches `options.ifMatch`; the caller closes the handle. */
  private async openVersion(
    path: string,
    key: string,
    options: ReadOptions,
  ): Promise<{ file: FileHandle; info: VersionMetadata & { key: string } } | undefined> {
    const file = await open(path, "r").catch(absentAsUndefined);
    if (!file) return undefined;
    try {
      const stats = await file.stat();
      if (!stats.isFile()) throw Object.assign(new Error("not a file"), { code: "EISDIR" });
      const metadata = await this.metadataOf(path, stats.ino, stats.size, stats.mtimeMs);
      if (options.ifMatch !== undefined && options.ifMatch !== metadata.eTag) {
        await file.close();
        return undefined;
      }
      return { file, info: { ...metadata, key } };
    } catch (error) {
      await file.close().catch(() => undefined);
      throw error;
    }
  }

  /** Runs `use` on the open current version of `key`, and closes it. */
  private async withOpen<T>(
    key: string,
    options: ReadOptions,
    use: (file: FileHandle, info: StoredObject) => Promise<T>,
  ): Promise<T | undefined> {
    const path = this.readablePath(key);
    if (!path) return undefined;
    return this.reading(async () => {
      const opened = await this.openVersion(path, key, options);
      if (!opened) return undefined;
      try {
        const info = { key, ...publicInfo(opened.info), bytes: new Uint8Array() };
        return await use(opened.file, info);
      } finally {
        await opened.file.close();
      }
    });
  }

  /**
   * The metadata of the version with inode `ino`. Without one (a file put there by hand, or restored
   * from a copy that changed its inode), the newest entry of the same size, else a tag of the file's
   * identity and the type S3 gives an object stored without one.
   */
  private async metadataOf(
    path: string,
    ino: number,
    size: number,
    mtimeMs: number,
  ): Promise<VersionMetadata> {
    const versions = await readVersions(path);
    const described =
      versions.find((version) => version.ino === ino) ??
      versions.findLast((version) => version.size === size);
    if (described) return { ...described, ino, size };
    const eTag = `"${createHash("md5").update(`${ino}:${size}:${mtimeMs}`).digest("hex")}"`;
    return { ino, size, contentType: DEFAULT_CONTENT_TYPE, eTag, lastModified: mtimeMs };
  }

  /** The path of `key`, checked against the key grammar before it is built. */
  private pathOf(key: string): string {
    if (!FileImageStore.isValidKey(key)) throw new InvalidObjectKeyError(key);
    return join(this.root, key);
  }

  /** The path of `key`, or `undefined` for a key that cannot name an object (so reads it as absent). */
  private readablePath(key: string): string | undefined {
    return FileImageStore.isValidKey(key) ? join(this.root, key) : undefined;
  }

  /** Runs a read: a path under an object (`a/b` a file, `a/b/c` asked) is absent; other failures 502. */
  private async reading<T>(read: () => Promise<T | undefined>): Promise<T | undefined> {
    try {
      return await read();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOTDIR" || code === "EISDIR") return undefined;
      if (error instanceof StorageUnavailableError) throw error;
      throw new StorageUnavailableError("The image store could not read the image.", error);
    }
  }

  /** Runs `task` after every earlier task on the same path: metadata updates never interleave. */
  private async serialized<T>(path: string, task: () => Promise<T>): Promise<T> {
    const before = this.locks.get(path) ?? Promise.resolve();
    const run = before.then(task, task);
    const settled = run.catch(() => undefined);
    this.locks.set(path, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(path) === settled) this.locks.delete(path);
    }
  }
}

/**
 * A new version's ETag: random, quoted, 32 hex digits, as opaque as HTTP means an entity tag to be. S3
 * happens to use the MD5 of a one-part object, but not of a multipart or KMS-encrypted one, so nothing may
 * rely on it; hashing every byte for it would cost more than the write (MD5 runs at a fraction of disk
 * speed here). A copy keeps its source's tag: the same bytes.
 */
function newVersionTag(): string {
  return `"${randomBytes(16).toString("hex")}"`;
}

/** More bytes than a write allows. */
export class ObjectTooLargeError extends StorageUnavailableError {
  public constructor(public readonly maxBytes: number) {
    super(`The object may be at most ${maxBytes} bytes.`);
  }
}

function publicInfo(metadata: VersionMetadata) {
  return {
    size: metadata.size,
    lastModified: new Date(metadata.lastModified),
    eTag: metadata.eTag,
    contentType: metadata.contentType,
  };
}

/** The metadata file beside an object: hidden, so no key can name it. */
function metadataPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.meta.json`);
}

async function readVersions(path: string): Promise<VersionMetadata[]> {
  try {
    const parsed = JSON.parse(await readFile(metadataPath(path), "utf8")) as { versions?: unknown };
    return Array.isArray(parsed.versions) ? (parsed.versions as VersionMetadata[]) : [];
  } catch {
    // Absent, or from before a crash that the rename never completed: the bytes speak for themselves.
    return [];
  }
}

/** Writes `text` to `path` atomically and durably: a temporary file, fsync, rename. */
async function writeDurably(path: string, text: string, root: string): Promise<void> {
  const temp = join(root, TEMP_DIRECTORY, randomUUID());
  const file = await open(temp, "wx", 0o644);
  try {
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await renameInto(temp, path);
  } catch (error) {
    await removeFile(temp).catch(() => undefined);
    throw error;
  }
}

/**
 * Renames `from` to `to`, making `to`'s directory again when a delete that emptied it removed it in
 * between (`pruneEmptyDirectories`).
 */
async function renameInto(from: string, to: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await rename(from, to);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 5) throw error;
      await mkdir(dirname(to), { recursive: true });
    }
  }
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes every chunk of `source` to `file` (see `BatchedWriter`), at most `maxBytes` of them.
 *
 * @throws {ObjectTooLargeError} as soon as `source` has given more than `maxBytes` (it is destroyed)
 */
async function writeChunks(
  file: FileHandle,
  source: AsyncIterable<Buffer>,
  maxBytes = Infinity,
): Promise<void> {
  const writer = new BatchedWriter(file);
  let size = 0;
  for await (const chunk of source) {
    size += chunk.byteLength;
    // Leaving the loop destroys the source: nothing more of it is read.
    if (size > maxBytes) throw new ObjectTooLargeError(maxBytes);
    await writer.add(chunk);
  }
  await writer.end();
}

/**
 * Writes a stream's chunks to a file in batches of at least `WRITE_BATCH_BYTES`, one batch on its way
 * to disk while the next is gathered: a thread-pool round trip per network chunk (64 KiB) held a 10 MB
 * form's arrival back by the time of every write. Every `FLUSH_AHEAD_BYTES` written are flushed while
 * the rest arrives (`datasync`), so the flush that makes the file durable finds little left to do.
 */
class BatchedWriter {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private writing: Promise<void> = Promise.resolve();
  private flushed: Promise<void> = Promise.resolve();
  private unflushedBytes = 0;

  public constructor(private readonly file: FileHandle) {}

  /** Takes `chunk`; waits only when a full batch must wait for the one before it. */
  public async add(chunk: Buffer): Promise<void> {
    this.batch.push(chunk);
    this.batchBytes += chunk.byteLength;
    if (this.batchBytes >= WRITE_BATCH_BYTES) await this.writeBatch();
  }

  /**
   * Writes what is gathered and waits for every write and early flush. A failed early flush fails the
   * write: Linux reports a writeback error once per open file, so the final flush might not.
   */
  public async end(): Promise<void> {
    await this.writeBatch();
    await this.writing;
    await this.flushed;
  }

  /** Starts writing what is gathered once the batch before it is written; flushes ahead when due. */
  private async writeBatch(): Promise<void> {
    await this.writing;
    const batch = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    if (batch.length === 0) return;
    const written = writeAllOf(this.file, batch);
    this.writing = written;
    // Awaited by the next batch or by `end`; until then a failure must not count as unhandled.
    written.catch(() => undefined);
    this.unflushedBytes += bytes;
    if (this.unflushedBytes >= FLUSH_AHEAD_BYTES) {
      this.unflushedBytes = 0;
      const before = this.flushed;
      this.flushed = (async () => {
        await before;
        await written;
        await this.file.datasync();
      })();
      this.flushed.catch(() => undefined);
    }
  }
}

/** Writes every byte of `chunks`, in order, in as few `writev` calls as the file takes. */
async function writeAllOf(file: FileHandle, chunks: readonly Buffer[]): Promise<void> {
  if (chunks.length === 1) return writeAll(file, chunks[0] as Buffer);
  const remaining = [...chunks];
  while (remaining.length > 0) {
    let { bytesWritten } = await file.writev(remaining);
    // A short write: what is left of the chunk it stopped in, then the rest.
    while (remaining.length > 0 && bytesWritten >= (remaining[0] as Buffer).byteLength) {
      bytesWritten -= (remaining[0] as Buffer).byteLength;
      remaining.shift();
    }
    if (bytesWritten > 0) remaining[0] = (remaining[0] as Buffer).subarray(bytesWritten);
  }
}

/** Writes every byte of `chunk`: one `write` may take fewer. */
async function writeAll(file: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.byteLength; ) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

async function removeFile(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
  });
}

function absentAsUndefined(error: NodeJS.ErrnoException): undefined {
  if (error.code === "ENOENT") return undefined;
  throw error;
}

/** The chunks of an open file, closing it when read to the end or abandoned. */
async function* chunksOf(file: FileHandle): AsyncIterable<Uint8Array> {
  try {
    yield* file.createReadStream({ start: 0, autoClose: false, highWaterMark: READ_CHUNK_BYTES });
  } catch (error) {
    throw new StorageUnavailableError("The image store could not read the image.", error);
  } finally {
    await file.close().catch(() => undefined);
  }
}
