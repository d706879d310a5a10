import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { finalizeDepsOf } from "../../../origin/domain/finalize";
import {
  FINALIZE_FAILED,
  settleStalledUploads,
  stalledNeedAttention,
} from "../../../origin/domain/stalledUploads";
import { pngBytes } from "../../support/images";
import {
  freshEntry,
  imagesPath,
  METADATA_ADAPTERS,
  makeOrigin,
  postForm,
  stagingKey,
  startMetadata,
  type TestMetadata,
  type TestOrigin,
} from "../../support/origin";
import { startS3Server, type TestS3 } from "../../support/s3Server";

describe.each(METADATA_ADAPTERS)("stalled presigned uploads on %s metadata", (adapter) => {
  let s3: TestS3;
  let metadata: TestMetadata;
  let origin: TestOrigin;

  beforeAll(async () => {
    s3 = await startS3Server();
    metadata = await startMetadata(adapter);
    origin = await makeOrigin({ s3, metadata: metadata.store });
  });

  afterAll(async () => {
    await metadata?.stop();
    await s3?.stop();
  });

  beforeEach(async () => {
    origin.imageFaults.reset();
    metadata.resetFaults();
    // Each test starts with an empty staging prefix: what an earlier one left would count as stalled.
    await settleStalledUploads(finalizeDeps(), { fix: true, graceMs: 0 });
  });

  // The origin's clock is the tests' own; staged objects carry the storage server's real time, a moment ago.
  const finalizeDeps = () => ({ ...finalizeDepsOf(origin.deps), now: () => Date.now() + 1_000 });

  /** A ticket whose file reached the bucket while every finalize attempt failed on the metadata store. */
  async function failedFinalize(seed: number) {
    const entry = freshEntry();
    const ticket = await origin.ticket(entry, { name: "late", size: 1 });
    const bytes = pngBytes(6, 6, seed);
    const key = stagingKey(entry, ticket.id);
    metadata.fail("put", 3);
    expect((await postForm({ ...ticket.upload }, bytes, "late.png")).status).toBe(204);
    for (let attempt = 0; attempt < 3; attempt += 1) await expect(origin.notify(key)).rejects.toThrow();
    metadata.resetFaults();
    return { entry, ticket, key };
  }

  const statusOf = async (entry: ReturnType<typeof freshEntry>, id: string) =>
    (await (await origin.uploadStatus(entry, id)).json()) as { status: string; error?: unknown };

  it("reports an upload whose finalize never completed, and with fix finalizes it again: ready", async () => {
    // Prepare: Lambda's three attempts all failed; the staged object is still there, the ticket pending
    const { entry, ticket, key } = await failedFinalize(1);
    expect((await statusOf(entry, ticket.id)).status).toBe("pending");

    // Act
    const report = await settleStalledUploads(finalizeDeps(), { fix: false, graceMs: 0 });
    const fixed = await settleStalledUploads(finalizeDeps(), { fix: true, graceMs: 0 });

    // Assess
    expect(report).toEqual({ stalled: [key], finalized: [], settled: [], unsettled: [] });
    expect(stalledNeedAttention(report)).toBe(true);
    expect(fixed).toEqual({
      stalled: [key],
      finalized: [{ key, status: "ready" }],
      settled: [],
      unsettled: [],
    });
    expect(stalledNeedAttention(fixed)).toBe(false);
    expect((await statusOf(entry, ticket.id)).status).toBe("ready");
    const listed = await (await origin.send("GET", imagesPath(entry), { entry })).json();
    expect(listed.images).toHaveLength(1);
    expect(await s3.keys(key)).toEqual([]);
  });

  it("settles one that fails again as rejected finalize_failed, and removes its staged object", async () => {
    // Prepare
    const { entry, ticket, key } = await failedFinalize(2);
    origin.imageFaults.failNext("head");

    // Act
    const fixed = await settleStalledUploads(finalizeDeps(), { fix: true, graceMs: 0 });

    // Assess: the client polling the ticket is told, and nothing is left behind
    expect(fixed.settled).toEqual([{ key, error: expect.stringContaining("StorageUnavailableError") }]);
    expect(await statusOf(entry, ticket.id)).toEqual({
      status: "rejected",
      id: ticket.id,
      error: FINALIZE_FAILED,
    });
    expect(await s3.keys(key)).toEqual([]);
    const listed = await (await origin.send("GET", imagesPath(entry), { entry })).json();
    expect(listed.images).toEqual([]);
  });

  it("leaves a staged object younger than the grace period alone: Lambda may still be retrying it", async () => {
    // Prepare
    const { entry, ticket, key } = await failedFinalize(3);

    // Act
    const report = await settleStalledUploads(finalizeDeps(), { fix: true, graceMs: 3_600_000 });

    // Assess
    expect(report.stalled).not.toContain(key);
    expect((await statusOf(entry, ticket.id)).status).toBe("pending");
  });
});
