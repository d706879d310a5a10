import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FileImageStore } from "../../../origin/adapters/FileImageStore";
import { noisyPng } from "../../support/images";

// A filesystem that cannot hard-link (another device, or one without links): the store copies instead.
vi.mock("node:fs/promises", async (original) => ({
  ...(await original<typeof import("node:fs/promises")>()),
  link: async () => {
    throw Object.assign(new Error("EXDEV: cross-device link not permitted"), { code: "EXDEV" });
  },
}));

describe("FileImageStore where hard links are refused", () => {
  let root: string;
  let store: FileImageStore;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "file-store-copy-"));
    store = await FileImageStore.open(root);
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("copies an object's bytes whole, with the given type, leaving the source and no temporary file", async () => {
    // Prepare: larger than one read and one write batch
    const bytes = noisyPng(3 * 1024 * 1024);
    await store.put("incoming/copy/from", bytes, { contentType: "binary/octet-stream", sha256: "" });

    // Act
    const copied = await store.copy("incoming/copy/from", "dev/copy/to", { contentType: "image/png" });

    // Assess
    expect(copied).toBe(true);
    const to = await store.get("dev/copy/to");
    expect(to?.contentType).toBe("image/png");
    expect(Buffer.compare(Buffer.from(to?.bytes ?? []), bytes)).toBe(0);
    expect(Buffer.compare(Buffer.from((await store.get("incoming/copy/from"))?.bytes ?? []), bytes)).toBe(0);
    expect(await readdir(join(root, ".tmp"))).toEqual([]);
  });
});
