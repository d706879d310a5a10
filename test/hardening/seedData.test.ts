import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EntryRef } from "../../contract/types";
import { BugoutMetadataStore } from "../../origin/adapters/BugoutMetadataStore";
import type { ImageRecord } from "../../origin/domain/ports";
import { reconcile } from "../../origin/domain/reconcile";
import { BugoutApiDouble } from "../support/bugoutApi";
import { gif, jpeg, pngBytes } from "../support/images";
import {
  BUGOUT_APPLICATION_ID,
  BUGOUT_TOKEN,
  imagesPath,
  makeOrigin,
  objectKey,
  type TestOrigin,
  uploadForm,
} from "../support/origin";
import { S3RVER_CREDENTIALS, startS3Server, type TestS3 } from "../support/s3Server";

const run = promisify(execFile);

/** The seed's `FILES_S3_BUCKET_PREFIX`, which a migrated deployment keeps as `IMAGES_PREFIX`. */
const SEED_PREFIX = "dev";
/** What S3 answers for an object written without a Content-Type, as the seed wrote every one. */
const S3_DEFAULT_TYPE = "binary/octet-stream";

/** A 1×1 24-bit BMP, a type the seed accepted. */
function bmp(): Uint8Array<ArrayBuffer> {
  const bytes = Buffer.alloc(58);
  bytes.write("BM", 0, "latin1");
  bytes.writeUInt32LE(58, 2);
  bytes.writeUInt32LE(54, 10);
  bytes.writeUInt32LE(40, 14);
  bytes.writeInt32LE(1, 18);
  bytes.writeInt32LE(1, 22);
  bytes.writeUInt16LE(1, 26);
  bytes.writeUInt16LE(24, 28);
  bytes.writeUInt32LE(4, 34);
  bytes.set([0x20, 0x40, 0x80], 54);
  return new Uint8Array(bytes);
}

/** One image as the seed's Lambda stored it: a resource made with a viewer's token, then the object. */
interface SeedImage {
  readonly id: string;
  readonly name: string;
  readonly extension: string;
  readonly createdAt: string;
  /** `undefined`: the resource was created and the S3 write failed, which the seed never undid. */
  readonly bytes: Uint8Array<ArrayBuffer> | undefined;
  readonly contentType: string;
}

/**
 * A data set written exactly as the seed's Lambda writes it (kompotkot/hatchery at 7d490df,
 * `files_distributor/bucket/modules/s3_bucket/files/lambda_function.py`): `resource_data` with its six keys,
 * `created_at` from `datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")`, the name lower-cased with its
 * dots made `_`, the extension as typed (`png`, `jpg`, `jpeg`, `bmp`, `gif`), each resource created with
 * the viewer's own token, objects at `{prefix}/{j}/entries/{e}/images/{id}` put without a Content-Type.
 */
describe("a deployment of the seed, migrated to the gateway", () => {
  let s3: TestS3;
  let api: BugoutApiDouble;
  let url: string;
  let origin: TestOrigin;
  const entry: EntryRef = { journalId: randomUUID(), entryId: randomUUID() };
  const images: SeedImage[] = [
    ["holiday", "png", "2021-09-20 12:35:14.123456", pngBytes(3, 2, 1), "image/png"],
    ["my_cat", "jpg", "2021-09-20 12:36:01.000001", jpeg(), "image/jpeg"],
    ["scan_2021", "jpeg", "2021-09-21 08:00:00.5", jpeg(), "image/jpeg"],
    ["old_screenshot", "bmp", "2021-10-02 17:45:59.999999", bmp(), "image/bmp"],
    ["smile", "gif", "2021-11-30 23:59:59.000000", gif(), "image/gif"],
    ["lost_upload", "png", "2021-12-01 00:00:00.000000", undefined, "image/png"],
  ].map(([name, extension, createdAt, bytes, contentType]) => ({
    id: randomUUID(),
    name: name as string,
    extension: extension as string,
    createdAt: createdAt as string,
    bytes: bytes as Uint8Array<ArrayBuffer> | undefined,
    contentType: contentType as string,
  }));
  /** An object whose resource is gone: the seed's delete removed the resource, then failed on S3. */
  const strayKey = `${SEED_PREFIX}/${entry.journalId}/entries/${entry.entryId}/images/${randomUUID()}`;
  const keyOf = (image: SeedImage) =>
    `${SEED_PREFIX}/${entry.journalId}/entries/${entry.entryId}/images/${image.id}`;

  beforeAll(async () => {
    s3 = await startS3Server();
    api = new BugoutApiDouble(BUGOUT_TOKEN, BUGOUT_APPLICATION_ID);
    url = await api.start();
    // Each viewer's own token created its resources; brood also gave them to the application's group.
    const viewers = [randomUUID(), randomUUID()].map((token) =>
      api.addToken(token, { groups: [api.applicationGroupId] }),
    );
    for (const [index, image] of images.entries()) {
      api.seed(
        {
          id: image.id,
          entry_id: entry.entryId,
          journal_id: entry.journalId,
          name: image.name,
          extension: image.extension,
          created_at: image.createdAt,
        },
        { holderUserId: viewers[index % viewers.length]?.userId },
      );
      if (image.bytes) await s3.plant(keyOf(image), image.bytes, S3_DEFAULT_TYPE);
    }
    await s3.plant(strayKey, pngBytes(2, 2, 2), S3_DEFAULT_TYPE);
    origin = await makeOrigin({
      s3,
      metadata: new BugoutMetadataStore({
        apiUrl: url,
        applicationId: BUGOUT_APPLICATION_ID,
        accessToken: async () => BUGOUT_TOKEN,
        settleMs: 20,
      }),
      config: { imagesPrefix: SEED_PREFIX },
    });
  });

  afterAll(async () => {
    await api?.stop();
    await s3?.stop();
  });

  const listed = async (): Promise<ImageRecord[]> =>
    ((await (await origin.send("GET", imagesPath(entry), { entry })).json()) as { images: ImageRecord[] })
      .images;

  const reconcileCli = (token: string, ...args: string[]) =>
    run(process.execPath, ["--import", "tsx", "origin/reconcileCli.ts", ...args], {
      env: {
        ...process.env,
        // The AWS SDK warns about Node 20 on standard error, which holds the refusal's one line.
        NODE_NO_WARNINGS: "1",
        BUCKET_NAME: s3.bucket,
        S3_ENDPOINT: s3.endpoint,
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        IMAGES_PREFIX: SEED_PREFIX,
        METADATA_STORE: "bugout",
        BUGOUT_API_URL: url,
        BUGOUT_APPLICATION_ID,
        BUGOUT_ACCESS_TOKEN: token,
      },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

  it("refuses reconcile --fix with a token outside the application's group, in one line, deleting nothing", async () => {
    // Prepare: a token Bugout knows, whose user is in no group: it would see none of these resources
    const outsider = randomUUID();
    api.addToken(outsider);
    const before = await s3.keys(`${SEED_PREFIX}/`);

    // Act
    const result = await reconcileCli(
      outsider,
      "--fix",
      "--grace-seconds=0",
      "--allow-mass-removal",
      "--remove-old-orphans",
    );

    // Assess
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^reconcile: refused: BUGOUT_ACCESS_TOKEN's user is not in the group of Bugout application/,
      ),
    ]);
    expect(await s3.keys(`${SEED_PREFIX}/`)).toEqual(before);
    expect(api.data).toHaveLength(images.length);
  }, 30_000);

  it("lists every image the seed stored, oldest first, with ISO 8601 times and the types of their extensions", async () => {
    // Act
    const records = await listed();

    // Assess
    expect(records).toEqual(
      images.map((image) => ({
        id: image.id,
        journal_id: entry.journalId,
        entry_id: entry.entryId,
        name: image.name,
        extension: image.extension,
        content_type: image.contentType,
        size: null,
        sha256: null,
        width: null,
        height: null,
        created_at: new Date(`${image.createdAt.replace(" ", "T").slice(0, 23)}Z`).toISOString(),
        url: `/journals/${entry.journalId}/entries/${entry.entryId}/images/${image.id}`,
      })),
    );
    expect(records[0]?.created_at).toBe("2021-09-20T12:35:14.123Z");
  });

  it("reads one image's record by its id", async () => {
    // Prepare
    const image = images[3] as SeedImage;

    // Act
    const response = await origin.send("GET", imagesPath(entry, image.id), { entry });

    // Assess
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      id: image.id,
      extension: "bmp",
      content_type: "image/bmp",
    });
  });

  it("reconcile --fix types every object by its bytes, settles the record without bytes, and keeps the old stray", async () => {
    // Act
    const deps = {
      imagesPrefix: SEED_PREFIX,
      images: origin.deps.images,
      metadata: origin.deps.metadata,
      now: Date.now,
    };
    const report = await reconcile(deps, { fix: true, graceMs: 0 });
    const again = await reconcile(deps, { fix: false, graceMs: 0 });

    // Assess
    const stored = images.filter((image) => image.bytes !== undefined);
    const lost = images.find((image) => image.bytes === undefined) as SeedImage;
    expect(report.refused).toBeNull();
    expect(report.contentTypes).toEqual(
      expect.arrayContaining(
        stored.map((image) => ({
          key: keyOf(image),
          stored: S3_DEFAULT_TYPE,
          detected: image.contentType,
          fixed: true,
        })),
      ),
    );
    expect(report.contentTypes).toHaveLength(stored.length);
    expect(report.removedRecords.map((record) => record.id)).toEqual([lost.id]);
    expect(report.missingObjects).toEqual([]);
    expect(report.protectedOrphans).toEqual([strayKey]);
    expect(report.removedObjects).toEqual([]);
    for (const image of stored) {
      const object = await s3.read(keyOf(image));
      expect(object?.contentType).toBe(image.contentType);
      expect(object?.bytes).toEqual(image.bytes);
    }
    expect(await s3.read(strayKey)).toBeDefined();
    expect(again.contentTypes).toEqual([]);
    expect(again.missingObjects).toEqual([]);
    expect((await listed()).map((record) => record.id)).toEqual(stored.map((image) => image.id));
  });

  it("takes new uploads beside the old images, and deletes old images with their bytes", async () => {
    // Prepare
    const uploaded = await origin.upload(entry, uploadForm(pngBytes(5, 5, 5)));
    const fresh = (await uploaded.json()) as ImageRecord;
    const victim = images[1] as SeedImage;

    // Act
    const one = await origin.send("DELETE", imagesPath(entry, victim.id), { entry });
    const afterOne = await listed();
    const all = await origin.send("DELETE", imagesPath(entry), { entry });

    // Assess
    expect(uploaded.status).toBe(201);
    expect(afterOne.at(-1)).toEqual(fresh);
    expect(one.status).toBe(204);
    expect(afterOne.map((record) => record.id)).not.toContain(victim.id);
    expect(await s3.read(keyOf(victim))).toBeUndefined();
    expect(all.status).toBe(204);
    expect(await listed()).toEqual([]);
    expect(api.data).toEqual([]);
    expect(await s3.keys(`${SEED_PREFIX}/${entry.journalId}/`)).toEqual([strayKey]);
    expect(await s3.read(objectKey(fresh, SEED_PREFIX))).toBeUndefined();
  });

  it("keeps an orphan older than the gateway's own records until --remove-old-orphans", async () => {
    // Prepare: an hour after the seed's objects, the gateway writes its first record
    origin.clock.advance(3600);
    const uploaded = (await (
      await origin.upload(entry, uploadForm(pngBytes(4, 3, 9)))
    ).json()) as ImageRecord;
    const deps = {
      imagesPrefix: SEED_PREFIX,
      images: origin.deps.images,
      metadata: origin.deps.metadata,
      now: origin.clock.now,
    };

    // Act
    const kept = await reconcile(deps, { fix: true, graceMs: 0 });
    const removed = await reconcile(deps, { fix: true, graceMs: 0, removeOldOrphans: true });

    // Assess
    expect(kept.protectedOrphans).toEqual([strayKey]);
    expect(kept.removedObjects).toEqual([]);
    expect(removed.removedObjects).toEqual([strayKey]);
    expect(await s3.read(strayKey)).toBeUndefined();
    expect(await s3.read(objectKey(uploaded, SEED_PREFIX))).toBeDefined();
  });
});
