import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { EntryRef } from "../../contract/types";
import type { DemoUser } from "../../infra/local/gateway/localState";
import { FileImageStore } from "../../origin/adapters/FileImageStore";
import { SqliteMetadataStore } from "../../origin/adapters/SqliteMetadataStore";
import { OBJECTS_DIRECTORY_NAME, SQLITE_FILE_NAME } from "../../origin/domain/constants";
import type { ImageRecord } from "../../origin/domain/ports";
import { type ReconcileReport, reconcile } from "../../origin/domain/reconcile";
import { demoUsers, type GatewayProcess, runReconcile, startGatewayProcess } from "../support/gatewayProcess";
import { type Bytes, noisyPng } from "../support/images";
import { uploadForm } from "../support/origin";
import { sha256 } from "../support/workload";

/**
 * The gateway process is killed with SIGKILL in the middle of 40 uploads: no shutdown, no cleanup,
 * requests cut wherever they were, writes to the file store among them. After a restart on the same
 * `DATA_DIR`, `npm run reconcile -- --fix --grace-seconds=0 --allow-mass-removal --remove-old-orphans` (no
 * grace period: every object is old enough to judge, since nothing uploads while it runs) leaves no orphan and no record
 * without bytes, every upload acknowledged before the kill is listed, and every listed record reads back
 * through the gateway byte for byte.
 */

/** Uploads under way at once, each from a client of its own. */
const UPLOADS = 40;
const ACKNOWLEDGED_BEFORE_KILL = 5;
let dataDir: string | undefined;
const running: GatewayProcess[] = [];

afterAll(async () => {
  for (const gateway of running) gateway.child.kill("SIGKILL");
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("a gateway killed with SIGKILL mid-upload", () => {
  it("restarts, and reconcile --fix leaves no orphan and every listed record byte-identical", async () => {
    // Prepare
    dataDir = await mkdtemp(join(tmpdir(), "gateway-crash-"));
    const first = await startGatewayProcess({ DATA_DIR: dataDir });
    running.push(first);
    const [alice] = (await demoUsers(dataDir)) as [DemoUser];
    const journal = alice.journals[0];
    const entries: EntryRef[] = (journal?.entries ?? []).map((entry) => ({
      journalId: journal?.id ?? "",
      entryId: entry.id,
    }));
    const sent = new Map<string, Bytes>();
    const acknowledged: ImageRecord[] = [];
    let started = 0;
    let inFlight = 0;
    let killed = false;
    let inFlightAtKill = 0;

    // Act: 40 uploads from many workers; the process dies under them
    const worker = async (index: number) => {
      while (!killed && started < UPLOADS) {
        const bytes = noisyPng(48 * 1024);
        started += 1;
        const entry = entries[started % entries.length] as EntryRef;
        sent.set(sha256(bytes), bytes);
        inFlight += 1;
        try {
          const response = await fetch(`${first.url}/api${entryPath(entry)}/images`, {
            method: "POST",
            headers: { authorization: alice.authorization },
            body: uploadForm(bytes, { filename: `worker-${index}.png` }),
          });
          if (response.status === 201) acknowledged.push((await response.json()) as ImageRecord);
          else await response.arrayBuffer();
        } catch {
          // The connection died with the process.
        } finally {
          inFlight -= 1;
        }
        if (!killed && acknowledged.length >= ACKNOWLEDGED_BEFORE_KILL && inFlight > 0) {
          killed = true;
          inFlightAtKill = inFlight;
          first.child.kill("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: UPLOADS }, (_, index) => worker(index)));
    expect(await first.exited()).toBe("SIGKILL");
    expect(started).toBe(UPLOADS);
    // The kill landed while uploads were still being written: not every one was answered.
    expect(acknowledged.length).toBeLessThan(UPLOADS);

    const second = await startGatewayProcess({ DATA_DIR: dataDir });
    running.push(second);
    // Most objects may be orphans here (the kill lands early), which reconcile would take for a blind
    // listing, and an upload cut early may have written its bytes before the first record: this listing
    // is the real SQLite file, so both removals are allowed.
    const fix = await runReconcile(dataDir, [
      "--fix",
      "--grace-seconds=0",
      "--allow-mass-removal",
      "--remove-old-orphans",
    ]);
    const check = await reconcileInProcess(dataDir);

    // Assess: reconcile fixed what the kill left, and nothing is left after it
    console.info(
      `[faults] SIGKILL: ${started} uploads started, ${acknowledged.length} acknowledged before the kill, ` +
        `${inFlightAtKill} cut by it; reconcile found ${(fix.report.orphanObjects as unknown[]).length} ` +
        `orphans and removed ${(fix.report.removedObjects as unknown[]).length}, ` +
        `${(fix.report.missingObjects as unknown[]).length} records without bytes; ` +
        `afterwards ${check.orphanObjects.length} orphans`,
    );
    expect(fix.code).toBe(0);
    expect(fix.report.removedObjects).toEqual(fix.report.orphanObjects);
    expect(fix.report.failedRemovals).toEqual([]);
    expect(fix.report.missingObjects).toEqual([]);
    expect(check).toEqual({
      orphanObjects: [],
      removedObjects: [],
      failedRemovals: [],
      missingObjects: [],
      recentObjects: 0,
      refused: null,
      protectedOrphans: [],
      removedRecords: [],
      contentTypes: [],
      expiredUploadsRemoved: 0,
    });

    // Assess: every acknowledged upload is listed, and every listed record reads back byte for byte
    const token = await accessToken(second, alice, entries);
    const listed: ImageRecord[] = [];
    for (const entry of entries) {
      const response = await fetch(`${second.url}/api${entryPath(entry)}/images`, {
        headers: { authorization: alice.authorization },
      });
      listed.push(...((await response.json()) as { images: ImageRecord[] }).images);
    }
    expect(listed.map((record) => record.id)).toEqual(expect.arrayContaining(acknowledged.map((r) => r.id)));
    for (const record of listed) {
      const read = await fetch(`${second.url}${record.url}?token=${token.get(record.entry_id)}`);
      const bytes = new Uint8Array(await read.arrayBuffer());
      expect(read.status).toBe(200);
      expect(sha256(bytes)).toBe(record.sha256);
      expect(bytes).toEqual(sent.get(sha256(bytes)));
    }

    second.child.kill("SIGTERM");
    expect(await second.exited()).toBe(0);
  }, 90_000);
});

/**
 * A second look, in this process and without fixing anything: the same reconcile over the same file
 * store and SQLite file, as the command opens them (without paying for another process).
 */
async function reconcileInProcess(dataDir: string): Promise<ReconcileReport> {
  const metadata = await SqliteMetadataStore.open(join(dataDir, SQLITE_FILE_NAME));
  try {
    const images = await FileImageStore.open(join(dataDir, OBJECTS_DIRECTORY_NAME));
    return await reconcile(
      { imagesPrefix: "dev", images, metadata, now: Date.now },
      { fix: false, graceMs: 0 },
    );
  } finally {
    await metadata.close();
  }
}

function entryPath(entry: EntryRef): string {
  return `/journals/${entry.journalId}/entries/${entry.entryId}`;
}

/** An access token per entry, as the app would fetch them to show the gallery. */
async function accessToken(
  gateway: GatewayProcess,
  user: DemoUser,
  entries: readonly EntryRef[],
): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  for (const entry of entries) {
    const response = await fetch(`${gateway.url}/api${entryPath(entry)}/access`, {
      method: "POST",
      headers: { authorization: user.authorization },
    });
    tokens.set(entry.entryId, ((await response.json()) as { token: string }).token);
  }
  return tokens;
}
