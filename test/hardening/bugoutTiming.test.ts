import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BugoutMetadataStore } from "../../origin/adapters/BugoutMetadataStore";
import type { ImageRecord } from "../../origin/domain/ports";
import { BugoutApiDouble } from "../support/bugoutApi";
import { pngBytes } from "../support/images";
import {
  BUGOUT_APPLICATION_ID,
  BUGOUT_TOKEN,
  freshEntry,
  imagesPath,
  makeOrigin,
  objectKey,
  type TestOrigin,
  uploadForm,
} from "../support/origin";
import { startS3Server, type TestS3 } from "../support/s3Server";

const UPLOADS = 20;
const CONTAINERS = 4;
/** Brood's replica, this far behind the primary. */
const REPLICA_LAG_MS = 100;
/** The longest any upload's INSERT waits for its COMMIT. */
const MAX_COMMIT_DELAY_MS = 150;

/**
 * Brood's timing against concurrent uploads of the same bytes on several containers (each its own
 * adapter, so nothing is shared but brood and the bucket): `created_at` is stamped at INSERT and the
 * resource appears at COMMIT, and the earlier an upload's INSERT the later its COMMIT, so a writer that
 * lists early sees only the later copies; lists come from a replica `REPLICA_LAG_MS` behind.
 */
describe("concurrent identical uploads on Bugout under commit delay and replica lag", () => {
  let s3: TestS3;
  let api: BugoutApiDouble;
  let url: string;

  beforeAll(async () => {
    s3 = await startS3Server();
    api = new BugoutApiDouble(BUGOUT_TOKEN, BUGOUT_APPLICATION_ID);
    url = await api.start();
  });

  afterAll(async () => {
    await api?.stop();
    await s3?.stop();
  });

  /** Containers over the one brood and bucket, each waiting `settleMs` after its writes. */
  async function containers(settleMs: number): Promise<TestOrigin[]> {
    return Promise.all(
      Array.from({ length: CONTAINERS }, () =>
        makeOrigin({
          s3,
          metadata: new BugoutMetadataStore({
            apiUrl: url,
            applicationId: BUGOUT_APPLICATION_ID,
            accessToken: async () => BUGOUT_TOKEN,
            settleMs,
          }),
        }),
      ),
    );
  }

  /** The n-th INSERT commits last: the first writer's resource is the last to appear. */
  function invertedCommits(): () => number {
    let inserts = 0;
    return () => {
      inserts += 1;
      return Math.max(0, MAX_COMMIT_DELAY_MS - inserts * (MAX_COMMIT_DELAY_MS / UPLOADS));
    };
  }

  async function uploadAll(origins: readonly TestOrigin[], replicaLagMs = REPLICA_LAG_MS) {
    const entry = freshEntry();
    const bytes = pngBytes(6, 6, 424242);
    api.timing = { commitDelayMs: invertedCommits(), replicaLagMs };
    try {
      const responses = await Promise.all(
        Array.from({ length: UPLOADS }, (_, index) =>
          (origins[index % origins.length] as TestOrigin).upload(entry, uploadForm(bytes)),
        ),
      );
      const answers = await Promise.all(
        responses.map(async (response) => ({
          status: response.status,
          record: (await response.json()) as ImageRecord,
        })),
      );
      // Read once brood has settled: what any container lists from now on.
      await new Promise((resolve) => setTimeout(resolve, replicaLagMs + MAX_COMMIT_DELAY_MS));
      const listing = await (origins[0] as TestOrigin).send("GET", imagesPath(entry), { entry });
      const prefix = `dev/${entry.journalId}/entries/${entry.entryId}/`;
      const resources = api.data.filter((data) => data.entry_id === entry.entryId);
      return {
        answers,
        listed: ((await listing.json()) as { images: ImageRecord[] }).images,
        resources,
        objects: await s3.keys(prefix),
      };
    } finally {
      api.timing = {};
    }
  }

  it("keeps one record and one object, and answers every upload with that record", async () => {
    // Prepare: a settle time above the commit delay plus the replica lag, with room for a busy machine
    const origins = await containers(MAX_COMMIT_DELAY_MS + REPLICA_LAG_MS + 250);

    // Act
    const { answers, listed, resources, objects } = await uploadAll(origins);

    // Assess
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(1);
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(UPLOADS - 1);
    const [kept] = listed;
    expect(listed).toHaveLength(1);
    expect(resources).toHaveLength(1);
    expect(objects).toEqual([objectKey(kept as ImageRecord)]);
    expect(new Set(answers.map((answer) => answer.record.id))).toEqual(new Set([kept?.id]));
    expect((await s3.read(objectKey(kept as ImageRecord)))?.bytes).toEqual(pngBytes(6, 6, 424242));
  }, 30_000);

  it("would keep several copies if writers decided without waiting: the double catches it", async () => {
    // Prepare: a replica far enough behind that no writer sees another's resource, however busy the machine
    const origins = await containers(0);

    // Act
    const { resources, objects } = await uploadAll(origins, 5_000);

    // Assess: each writer decided on what it saw, which was itself alone
    expect(resources.length).toBeGreaterThan(1);
    expect(objects.length).toBe(resources.length);
  }, 30_000);
});

describe("a delete on Bugout whose token brood no longer knows", () => {
  let s3: TestS3;
  let api: BugoutApiDouble;
  let origin: TestOrigin;
  const token = "3c6e9f12-4a7b-4d8e-9f01-2b3c4d5e6f70";

  beforeAll(async () => {
    s3 = await startS3Server();
    api = new BugoutApiDouble(BUGOUT_TOKEN, BUGOUT_APPLICATION_ID);
    api.memberToken(token);
    origin = await makeOrigin({
      s3,
      metadata: new BugoutMetadataStore({
        apiUrl: await api.start(),
        applicationId: BUGOUT_APPLICATION_ID,
        accessToken: async () => token,
        settleMs: 20,
      }),
    });
  });

  afterAll(async () => {
    await api?.stop();
    await s3?.stop();
  });

  it("answers 5xx, deletes no bytes and keeps the record when brood answers 'Access token not found'", async () => {
    // Prepare: the token is revoked after the listing, just as the DELETE reaches brood
    const entry = freshEntry();
    const record = (await (await origin.upload(entry, uploadForm(pngBytes(4, 4, 77)))).json()) as ImageRecord;
    api.beforeAnswer = (call) => {
      if (call.method === "DELETE") api.revoke(token);
    };

    // Act
    const response = await origin.send("DELETE", imagesPath(entry, record.id), { entry });
    api.beforeAnswer = undefined;

    // Assess
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ error: { code: "metadata_unavailable" } });
    expect(await s3.read(objectKey(record))).toBeDefined();
    expect(api.data.filter((data) => data.id === record.id)).toHaveLength(1);
    expect(origin.invalidations).toEqual([]);
  });
});
