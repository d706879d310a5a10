import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ROOT } from "../../../infra/aws/bundle";
import { FileImageStore } from "../../../origin/adapters/FileImageStore";
import { FILE_STORE_CRASH_KEYS, fileStoreVersion } from "../../support/fileStoreVersions";
import { pngBytes } from "../../support/images";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const ETAG = /^"[0-9a-f]{32}"$/;

describe("FileImageStore on the local disk", () => {
  let parent: string;
  let root: string;
  let store: FileImageStore;
  const put = (key: string, bytes: Uint8Array, contentType = "image/png") =>
    store.put(key, bytes, { contentType, sha256: sha256(bytes) });

  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), "file-store-"));
    root = join(parent, "objects");
    store = await FileImageStore.open(root);
  });

  afterAll(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it("keeps each object as a file whose path ends with its key, its type and ETag beside it", async () => {
    // Prepare
    const bytes = pngBytes(4, 4, 1);

    // Act
    await put("dev/j/entries/e/images/3f2c7a1e-0000-4000-8000-000000000001", bytes);

    // Assess
    const directory = join(root, "dev/j/entries/e/images");
    expect(await readFile(join(directory, "3f2c7a1e-0000-4000-8000-000000000001"))).toEqual(
      Buffer.from(bytes),
    );
    const metadata = JSON.parse(
      await readFile(join(directory, ".3f2c7a1e-0000-4000-8000-000000000001.meta.json"), "utf8"),
    ) as { versions: { contentType: string; eTag: string; size: number }[] };
    expect(metadata.versions.at(-1)).toMatchObject({
      contentType: "image/png",
      eTag: (await store.head("dev/j/entries/e/images/3f2c7a1e-0000-4000-8000-000000000001"))?.eTag,
      size: bytes.byteLength,
    });
    expect(await readdir(join(root, ".tmp"))).toEqual([]);
  });

  it.each([
    "../escaped",
    "dev/../../escaped",
    "dev/./x",
    "/absolute",
    "dev//x",
    "dev/x/",
    ".tmp/x",
    "dev/.x.meta.json",
    "dev\\..\\escaped",
    "dev/%2e%2e/escaped",
    "dev/x\u0000y",
    "",
    `dev/${"a".repeat(241)}`,
    `dev/${"a/".repeat(600)}x`,
  ])(
    "refuses the key %j before building any path: no write, no read, nothing outside the root",
    async (key) => {
      // Act
      const written = await put(key, pngBytes(2, 2, 2)).catch((error: unknown) => error);
      const copied = await store
        .copy("dev/j/entries/e/images/3f2c7a1e-0000-4000-8000-000000000001", key, {
          contentType: "image/png",
        })
        .catch((error: unknown) => error);
      const reads = await Promise.all([
        store.head(key),
        store.get(key),
        store.readStart(key, 4),
        store.stream(key),
      ]);
      await store.delete(key);

      // Assess
      expect(written).toMatchObject({
        status: 502,
        code: "storage_unavailable",
        name: "InvalidObjectKeyError",
      });
      expect(copied).toMatchObject({ name: "InvalidObjectKeyError" });
      expect(reads).toEqual([undefined, undefined, undefined, undefined]);
      expect((await readdir(parent)).sort()).toEqual(["objects"]);
    },
  );

  it("lists nothing for a prefix that would leave the root", async () => {
    // Prepare: a file beside the root that a `../` prefix would reach
    await writeFile(join(parent, "outside"), "x");

    // Act
    const listed: string[] = [];
    for (const prefix of ["../", "../out", "dev/../../"]) {
      for await (const object of store.list(prefix)) listed.push(object.key);
    }
    await rm(join(parent, "outside"));

    // Assess
    expect(listed).toEqual([]);
  });

  it("lists in the byte order of the keys, as S3 does, whatever the directories", async () => {
    // Prepare: `a-b` and `a.c` sort before `a/…` ('-' and '.' < '/'), `a_b` after ('_' > '/')
    const keys = ["order/a-b", "order/a.c", "order/a/x", "order/a/y/z", "order/a_b", "order/b"];
    for (const key of [...keys].reverse()) await put(key, new Uint8Array([1]));

    // Act
    const listed: string[] = [];
    for await (const object of store.list("order/")) listed.push(object.key);

    // Assess
    expect(listed).toEqual(keys);
  });

  it("reads a version replaced since its ETag was taken as absent, by every pinned read and copy", async () => {
    // Prepare
    await put("incoming/changed/x", pngBytes(3, 3, 4), "binary/octet-stream");
    const old = (await store.head("incoming/changed/x"))?.eTag;
    await put("incoming/changed/x", pngBytes(3, 3, 5), "binary/octet-stream");

    // Act
    const start = await store.readStart("incoming/changed/x", 8, { ifMatch: old });
    const chunks = await store.stream("incoming/changed/x", { ifMatch: old });
    const whole = await store.readAll("incoming/changed/x", pngBytes(3, 3, 4).byteLength, { ifMatch: old });
    const copied = await store.copy("incoming/changed/x", "dev/changed/x", {
      ifMatch: old,
      contentType: "image/png",
    });

    // Assess
    expect([start, chunks, whole, copied]).toEqual([undefined, undefined, undefined, false]);
    expect(await store.head("dev/changed/x")).toBeUndefined();
  });

  it("reads a key below an object's key (`a/b` is a file, `a/b/c` asked) as absent", async () => {
    // Prepare
    await put("dev/file/here", pngBytes(2, 2, 6));

    // Act
    const reads = await Promise.all([store.head("dev/file/here/below"), store.get("dev/file/here/below")]);

    // Assess
    expect(reads).toEqual([undefined, undefined]);
  });

  it("leaves no directory behind once an entry's last object is deleted, as S3 keeps no folders", async () => {
    // Prepare
    const keys = [1, 2, 3].map((index) => `pruned/j/entries/e/images/${index}`);
    for (const key of keys) await put(key, pngBytes(2, 2, 20));
    await put("pruned/j/entries/kept/images/1", pngBytes(2, 2, 21));

    // Act
    await Promise.all(keys.map((key) => store.delete(key)));

    // Assess
    expect(await readdir(join(root, "pruned/j/entries"))).toEqual(["kept"]);
    await store.delete("pruned/j/entries/kept/images/1");
    expect(await readdir(root)).not.toContain("pruned");
  });

  it("lands every write whose directory a delete empties and removes at the same time", async () => {
    // Prepare: each round, the only object of a directory is deleted while a new one is written there
    const written: string[] = [];

    // Act
    for (let round = 0; round < 100; round += 1) {
      const directory = `race/j/entries/e${round % 4}/images`;
      await put(`${directory}/old`, pngBytes(2, 2, 30));
      const key = `${directory}/new-${round}`;
      await Promise.all([store.delete(`${directory}/old`), put(key, pngBytes(2, 2, round))]);
      written.push(key);
    }

    // Assess
    const read = await Promise.all(written.map(async (key) => (await store.get(key))?.bytes));
    expect(read).toEqual(written.map((_, round) => pngBytes(2, 2, round)));
  });

  it("streams from a file to a pending object that becomes one only on commit, at most maxBytes", async () => {
    // Prepare
    const { Readable } = await import("node:stream");
    const bytes = pngBytes(30, 30, 7);

    // Act
    const pending = await store.prepareFrom(Readable.from([Buffer.from(bytes)]), bytes.byteLength);
    const before = await store.head("incoming/pending/x");
    await pending.commit("incoming/pending/x", "binary/octet-stream");
    const tooLarge = await store
      .prepareFrom(Readable.from([Buffer.from(bytes)]), bytes.byteLength - 1)
      .catch((error: unknown) => error);

    // Assess
    expect(before).toBeUndefined();
    expect(pending).toMatchObject({ size: bytes.byteLength, eTag: expect.stringMatching(ETAG) });
    expect((await store.head("incoming/pending/x"))?.eTag).toBe(pending.eTag);
    expect(await store.get("incoming/pending/x")).toMatchObject({ bytes });
    expect(tooLarge).toMatchObject({ name: "ObjectTooLargeError" });
    expect(await readdir(join(root, ".tmp"))).toEqual([]);
  });

  it("writes a stream of many chunks in batches, every byte in order, and stops mid-batch at maxBytes", async () => {
    // Prepare: 5 MiB (past the first early flush) in network-sized chunks of unequal length, every byte
    // telling its place
    const { Readable } = await import("node:stream");
    const chunks = Array.from({ length: 80 }, (_, index) =>
      Buffer.from(Array.from({ length: 65_536 + (index % 3) * 7 }, (_, at) => (index * 31 + at) % 251)),
    );
    const whole = Buffer.concat(chunks);

    // Act
    const pending = await store.prepareFrom(Readable.from(chunks), whole.byteLength);
    await pending.commit("incoming/pending/batched", "binary/octet-stream");
    const tooLarge = await store
      .prepareFrom(Readable.from(chunks), 2 * 1024 * 1024 + 5)
      .catch((error: unknown) => error);

    // Assess
    expect(pending.size).toBe(whole.byteLength);
    const stored = await readFile(join(root, "incoming/pending/batched"));
    expect(stored.equals(whole)).toBe(true);
    expect(tooLarge).toMatchObject({ name: "ObjectTooLargeError" });
    expect(await readdir(join(root, ".tmp"))).toEqual([]);
  });

  it("flushes a long stream to disk while it arrives, and a failed early flush fails the write", async () => {
    // Prepare: 9 MiB, two early flushes' worth; file handles share one prototype
    const { Readable } = await import("node:stream");
    const chunks = Array.from({ length: 144 }, (_, index) => Buffer.alloc(65_536, index));
    const probe = await open(join(parent, "probe"), "w");
    const handles = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
    await probe.close();
    const datasync = vi.spyOn(handles, "datasync");

    // Act
    const pending = await store.prepareFrom(Readable.from(chunks), 16 * 1024 * 1024);
    const flushes = datasync.mock.calls.length;
    await pending.discard();
    datasync.mockRejectedValueOnce(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    const failed = await store
      .prepareFrom(Readable.from(chunks), 16 * 1024 * 1024)
      .catch((error: unknown) => error);
    datasync.mockRestore();

    // Assess
    expect(flushes).toBe(2);
    expect(failed).toMatchObject({ status: 502, code: "storage_unavailable" });
    expect(await readdir(join(root, ".tmp"))).toEqual([]);
  });
});

describe("FileImageStore killed with SIGKILL while it writes", () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "file-store-crash-"));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("leaves every object whole, with the metadata of the bytes it holds", async () => {
    // Prepare: a process that rewrites and copies a few keys as fast as it can
    const writer = spawn(process.execPath, ["--import", "tsx", "test/support/fileStoreWriter.ts", root], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      writer.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("ready")) resolve();
      });
      writer.once("exit", (code) => reject(new Error(`the writer exited with ${code}`)));
    });

    // Act: kill it at some moment of its writes, then open the store again
    await new Promise((resolve) => setTimeout(resolve, 150 + Math.random() * 300));
    writer.kill("SIGKILL");
    await new Promise((resolve) => writer.once("exit", resolve));
    const store = await FileImageStore.open(root);
    const discarded = await store.discardInterruptedWrites();

    // Assess: each object is one whole version, described by its own metadata
    const seen: string[] = [];
    for await (const { key } of store.list("dev/")) {
      seen.push(key);
      const object = await store.get(key);
      const bytes = object?.bytes ?? new Uint8Array();
      const round = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
      const original = key.replace(/-copy$/, "");
      expect(Buffer.compare(bytes, fileStoreVersion(original, round))).toBe(0);
      expect(object?.size).toBe(bytes.byteLength);
      expect((await store.head(key))?.eTag).toMatch(ETAG);
      const typedRound = key.endsWith("-copy") ? round + 1 : round;
      expect(object?.contentType).toBe(`image/x-round-${typedRound}`);
    }
    console.info(
      `[file store] SIGKILL: ${seen.length} objects whole, ${discarded} interrupted writes discarded`,
    );
    expect(seen).toEqual(expect.arrayContaining(FILE_STORE_CRASH_KEYS));
    expect(await readdir(join(root, ".tmp"))).toEqual([]);
  }, 30_000);
});
