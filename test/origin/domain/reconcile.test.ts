import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteMetadataStore } from "../../../origin/adapters/SqliteMetadataStore";
import type { ImageRecord } from "../../../origin/domain/ports";
import { needsAttention, reconcile } from "../../../origin/domain/reconcile";
import { pngBytes } from "../../support/images";
import { freshEntry, METADATA_ADAPTERS, objectKey, uploadForm, useOriginStack } from "../../support/origin";
import { S3RVER_CREDENTIALS, startS3Server, type TestS3 } from "../../support/s3Server";

const run = promisify(execFile);
const ORPHAN_ID = "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f";

describe.each(METADATA_ADAPTERS)("reconcile with %s metadata", (adapter) => {
  const { s3, metadata, origin } = useOriginStack(adapter, { config: { imagesPrefix: `rc-${adapter}` } });

  const deps = () => ({
    imagesPrefix: origin.deps.config.imagesPrefix,
    images: origin.deps.images,
    metadata: origin.deps.metadata,
    now: Date.now,
  });

  async function upload(): Promise<ImageRecord> {
    const response = await origin.upload(freshEntry(), uploadForm(pngBytes(3, 3, Math.random() * 1e9)));
    return (await response.json()) as ImageRecord;
  }

  it("finds a planted orphan and a record whose bytes are gone, and with fix removes only the orphan", async () => {
    // Prepare: three healthy images (more than one listing page), an orphan, and a record without bytes
    const prefix = origin.deps.config.imagesPrefix;
    const healthy = [await upload(), await upload(), await upload()];
    const orphanKey = `${prefix}/journal-x/entries/entry-x/images/${ORPHAN_ID}`;
    await s3.plant(orphanKey, pngBytes(2, 2, 7), "image/png");
    const lost = await upload();
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: objectKey(lost, prefix) }));

    // Act
    const report = await reconcile(deps(), { fix: false, graceMs: 0 });
    const fixed = await reconcile(deps(), { fix: true, graceMs: 0 });

    // Assess
    expect(report).toEqual({
      orphanObjects: [orphanKey],
      removedObjects: [],
      failedRemovals: [],
      missingObjects: [{ key: objectKey(lost, prefix), record: lost }],
      recentObjects: 0,
      refused: null,
      protectedOrphans: [],
      removedRecords: [],
      contentTypes: [],
      expiredUploadsRemoved: 0,
    });
    expect(needsAttention(report)).toBe(true);
    expect(fixed.removedObjects).toEqual([orphanKey]);
    expect(fixed.missingObjects).toEqual(report.missingObjects);
    expect(await s3.read(orphanKey)).toBeUndefined();
    for (const record of healthy) expect(await s3.read(objectKey(record, prefix))).toBeDefined();
    expect((await metadata.stored()).map((row) => row.id)).toContain(lost.id);

    // Clean up the lost record, so the next test starts consistent
    await origin.deps.metadata.delete({
      journalId: lost.journal_id,
      entryId: lost.entry_id,
      imageId: lost.id,
    });
  });

  it("counts a variant whose image has no record as an orphan, and keeps the variants of a recorded image", async () => {
    // Prepare: a recorded image with a variant beside it, and a variant left of an image gone
    const prefix = origin.deps.config.imagesPrefix;
    const kept = await upload();
    const keptVariant = `${objectKey(kept, prefix)}.w320.webp`;
    await s3.plant(keptVariant, pngBytes(2, 2, 8), "image/webp");
    const orphanVariant = `${prefix}/journal-x/entries/entry-x/images/${ORPHAN_ID}.w640.avif`;
    await s3.plant(orphanVariant, pngBytes(2, 2, 9), "image/avif");

    // Act
    const report = await reconcile(deps(), { fix: true, graceMs: 0 });

    // Assess
    expect(report.orphanObjects).toEqual([orphanVariant]);
    expect(report.removedObjects).toEqual([orphanVariant]);
    expect(await s3.read(orphanVariant)).toBeUndefined();
    expect(await s3.read(keptVariant)).toBeDefined();
  });

  it("leaves objects younger than the grace period alone: their upload may still be writing the record", async () => {
    // Prepare
    const key = `${origin.deps.config.imagesPrefix}/journal-y/entries/entry-y/images/${ORPHAN_ID}`;
    await s3.plant(key, pngBytes(2, 2, 8), "image/png");

    // Act
    const report = await reconcile(deps(), { fix: true });

    // Assess
    expect(report.orphanObjects).toEqual([]);
    expect(report.recentObjects).toBeGreaterThanOrEqual(1);
    expect(await s3.read(key)).toBeDefined();
    expect(needsAttention(report)).toBe(false);
  });

  it("ignores keys under the prefix that are not images of the layout", async () => {
    // Prepare
    const key = `${origin.deps.config.imagesPrefix}/README.txt`;
    await s3.plant(key, new Uint8Array(Buffer.from("not an image")));

    // Act
    const report = await reconcile({ ...deps(), now: () => Date.now() + 3_600_000 }, { fix: true });

    // Assess
    expect(report.orphanObjects).not.toContain(key);
    expect(await s3.read(key)).toBeDefined();
  });

  it("reports an orphan it could not remove", async () => {
    // Prepare
    const key = `${origin.deps.config.imagesPrefix}/journal-z/entries/entry-z/images/${ORPHAN_ID}`;
    await s3.plant(key, pngBytes(2, 2, 9), "image/png");
    origin.imageFaults.failNext("delete");

    // Act
    const report = await reconcile(deps(), { fix: true, graceMs: 0 });

    // Assess
    expect(report.orphanObjects).toContain(key);
    expect(report.failedRemovals).toEqual([{ key, error: "StorageUnavailableError: injected" }]);
    expect(needsAttention(report)).toBe(true);
    await origin.deps.images.delete(key);
  });
});

describe("npm run reconcile", () => {
  let s3: TestS3;
  let dataDir: string;

  beforeAll(async () => {
    s3 = await startS3Server();
    dataDir = await mkdtemp(join(tmpdir(), "image-gateway-reconcile-"));
  });

  afterAll(async () => {
    await s3?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const env = () => ({
    ...process.env,
    BUCKET_NAME: s3.bucket,
    S3_ENDPOINT: s3.endpoint,
    DATA_DIR: dataDir,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  });
  const reconcileCli = (...args: string[]) =>
    run(process.execPath, ["--import", "tsx", "origin/reconcileCli.ts", ...args], { env: env() }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );

  it("removes a planted orphan with --fix and exits 0 when nothing is left", async () => {
    // Prepare
    const key = `dev/journal-cli/entries/entry-cli/images/${ORPHAN_ID}`;
    await s3.plant(key, pngBytes(2, 2, 10), "image/png");

    // Act: with no record at all, --fix alone refuses, as it would for a blind listing
    const dryRun = await reconcileCli("--grace-seconds=0");
    const refused = await reconcileCli("--fix", "--grace-seconds=0");
    const fix = await reconcileCli("--fix", "--grace-seconds=0", "--allow-mass-removal");

    // Assess
    expect(dryRun.code).toBe(1);
    expect(JSON.parse(dryRun.stdout).orphanObjects).toEqual([key]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({
      removedObjects: [],
      refused:
        "the metadata store listed no record while 1 objects are present: check METADATA_STORE and BUGOUT_ACCESS_TOKEN, or pass --allow-mass-removal.",
    });
    expect(fix.code).toBe(0);
    expect(JSON.parse(fix.stdout).removedObjects).toEqual([key]);
    expect(await s3.keys("dev/")).toEqual([]);
  });

  it("exits 1 for a record whose bytes are missing, and keeps the record", async () => {
    // Prepare: a record in the SQLite file the command opens, without its object
    const store = await SqliteMetadataStore.open(join(dataDir, "metadata.sqlite"));
    const id = "1e1e1e1e-1e1e-4e1e-8e1e-1e1e1e1e1e1e";
    await store.put({
      id,
      journal_id: "journal-cli",
      entry_id: "entry-cli",
      name: "lost",
      extension: "png",
      content_type: "image/png",
      size: 10,
      sha256: "b".repeat(64),
      width: 2,
      height: 2,
      created_at: new Date().toISOString(),
      url: `/journals/journal-cli/entries/entry-cli/images/${id}`,
    });

    // Act
    const result = await reconcileCli("--fix");

    // Assess
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).missingObjects).toEqual([
      expect.objectContaining({ key: `dev/journal-cli/entries/entry-cli/images/${id}` }),
    ]);
    expect(await store.get({ journalId: "journal-cli", entryId: "entry-cli", imageId: id })).toBeDefined();
    await store.close();
  });
});
