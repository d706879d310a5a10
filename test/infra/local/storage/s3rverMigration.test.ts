import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LOCAL_BUCKET, startLocalGateway } from "../../../../infra/local/gateway/LocalGateway";
import { createLocalOrigin } from "../../../../infra/local/gateway/localOrigin";
import type { DemoUser } from "../../../../infra/local/gateway/localState";
import { runReconcile } from "../../../support/gatewayProcess";
import { pngBytes } from "../../../support/images";
import { startLocalS3 } from "../../../support/s3rver";

const IMAGE_KEY = "dev/alice-travel/entries/lisbon-2026/images/0c0c0c0c-0c0c-4c0c-8c0c-0c0c0c0c0c0c";
const STAGED_KEY = "incoming/alice-travel/entries/lisbon-2026/images/1d1d1d1d-1d1d-4d1d-8d1d-1d1d1d1d1d1d";
const BROKEN_KEY = "dev/alice-travel/entries/kyoto-2026/images/2e2e2e2e-2e2e-4e2e-8e2e-2e2e2e2e2e2e";

/**
 * A `DATA_DIR` written by the s3rver-based gateway (`DATA_DIR/s3/{bucket}/...`), made by s3rver itself,
 * with one metadata file a crash left empty as s3rver writes it last.
 */
async function s3rverDataDir(): Promise<{ dataDir: string; image: Uint8Array; staged: Uint8Array }> {
  const dataDir = await mkdtemp(join(tmpdir(), "s3rver-layout-"));
  const s3 = await startLocalS3({ directory: join(dataDir, "s3"), bucket: LOCAL_BUCKET });
  const image = pngBytes(6, 6, 1);
  const staged = pngBytes(7, 7, 2);
  const put = (Key: string, Body: Uint8Array, ContentType: string) =>
    s3.client.send(new PutObjectCommand({ Bucket: LOCAL_BUCKET, Key, Body, ContentType }));
  await put(IMAGE_KEY, image, "image/png");
  await put(STAGED_KEY, staged, "application/octet-stream");
  await put(BROKEN_KEY, pngBytes(2, 2, 3), "image/png");
  await s3.close();
  await writeFile(join(dataDir, "s3", LOCAL_BUCKET, `${BROKEN_KEY}._S3rver_metadata.json`), "");
  return { dataDir, image, staged };
}

describe("a DATA_DIR in s3rver's layout", () => {
  let dataDir: string | undefined;

  beforeEach(() => {
    dataDir = undefined;
  });

  afterEach(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("is moved into the file store on start, said in one line, and its images read as before", async () => {
    // Prepare
    const layout = await s3rverDataDir();
    dataDir = layout.dataDir;
    const logs: Record<string, unknown>[] = [];

    // Act
    const gateway = await startLocalGateway({
      env: { DATA_DIR: dataDir },
      createOrigin: createLocalOrigin,
      port: 0,
      log: (entry) => logs.push({ ...entry }),
    });
    try {
      const [alice] = gateway.demoUsers as [DemoUser];
      const access = await fetch(`${gateway.url}/api/journals/alice-travel/entries/lisbon-2026/access`, {
        method: "POST",
        headers: { authorization: alice.authorization },
      });
      const { token } = (await access.json()) as { token: string };
      const read = await fetch(`${gateway.url}/journals${IMAGE_KEY.slice("dev".length)}?token=${token}`);

      // Assess
      const migrated = logs.filter((entry) => entry.event === "storage_migrated");
      expect(migrated).toEqual([expect.objectContaining({ level: "info", migrated: 3, skipped: 0 })]);
      expect(String(migrated[0]?.message)).toContain("s3rver");
      expect(await readdir(dataDir)).not.toContain("s3");
      expect(read.status).toBe(200);
      expect(read.headers.get("content-type")).toBe("image/png");
      expect(Buffer.compare(Buffer.from(await read.arrayBuffer()), layout.image)).toBe(0);
      expect(await gateway.storage.images.get(STAGED_KEY)).toMatchObject({
        bytes: layout.staged,
        contentType: "application/octet-stream",
      });
      expect((await gateway.storage.images.get(BROKEN_KEY))?.contentType).toBe("binary/octet-stream");
    } finally {
      await gateway.close();
    }
  });

  it("is moved over by npm run reconcile too, which then finds its objects without records", async () => {
    // Prepare
    dataDir = (await s3rverDataDir()).dataDir;

    // Act
    const fix = await runReconcile(dataDir, ["--fix", "--grace-seconds=0", "--allow-mass-removal"]);

    // Assess: no record names any of them, so all three are orphans, and are removed
    expect(fix.code).toBe(0);
    expect([...(fix.report.removedObjects as string[])].sort()).toEqual([BROKEN_KEY, IMAGE_KEY].sort());
    expect(await readdir(dataDir)).not.toContain("s3");
  }, 30_000);
});
