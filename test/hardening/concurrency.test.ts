import { describe, expect, it } from "vitest";
import type { ImageRecord } from "../../origin/domain/ports";
import { pngBytes } from "../support/images";
import { imagesPath, METADATA_ADAPTERS, objectKey, uploadForm, useOriginStack } from "../support/origin";
import { faultSeed, SeededRandom } from "../support/random";
import { inParallel, sha256, tally } from "../support/workload";

/**
 * Uploads (some of the same bytes, racing each other's deduplication), deletes of one image and of the
 * whole entry, and listings, all at once on one entry. When they are done the entry's list and its objects
 * are the same set, one for one, oldest first, and every listed record reads back with its own bytes.
 */

const OPERATIONS = 160;
const CONCURRENCY = 16;
const ENTRY = { journalId: "journal-cc", entryId: "entry-cc" } as const;
const PREFIX = `dev/${ENTRY.journalId}/entries/${ENTRY.entryId}/`;

describe.each(METADATA_ADAPTERS)("concurrent uploads and deletes on one entry, %s metadata", (adapter) => {
  const { s3, origin } = useOriginStack(adapter);

  it("end in a list that equals the entry's objects, each with its own bytes", async () => {
    // Prepare
    const random = new SeededRandom(faultSeed(adapter === "sqlite" ? 808 : 909));
    const known: ImageRecord[] = [];
    const answers: string[] = [];
    const operations = Array.from({ length: OPERATIONS }, (_, index) => {
      const roll = random.next();
      // A quarter of the uploads repeat one of the last few images' bytes.
      const seed = random.chance(0.25) ? Math.max(0, index - random.integer(1, 4)) : index;
      if (roll < 0.6) return { kind: "upload", seed } as const;
      if (roll < 0.85) return { kind: "delete-one", pick: random.next() } as const;
      if (roll < 0.9) return { kind: "delete-entry" } as const;
      return { kind: "list" } as const;
    });

    // Act
    await inParallel(operations, CONCURRENCY, async (operation) => {
      let response: Response;
      if (operation.kind === "upload") {
        response = await origin.upload(ENTRY, uploadForm(pngBytes(6, 5, operation.seed)));
        if (response.ok) known.push((await response.json()) as ImageRecord);
      } else if (operation.kind === "delete-one") {
        const victim = known[Math.floor(operation.pick * known.length)];
        if (!victim) return;
        response = await origin.send("DELETE", imagesPath(ENTRY, victim.id), { entry: ENTRY });
      } else if (operation.kind === "delete-entry") {
        response = await origin.send("DELETE", imagesPath(ENTRY), { entry: ENTRY });
      } else {
        response = await origin.send("GET", imagesPath(ENTRY), { entry: ENTRY });
      }
      answers.push(`${operation.kind} ${response.status}`);
      expect([200, 201, 204, 404]).toContain(response.status);
    });

    // Assess
    const listing = await origin.send("GET", imagesPath(ENTRY), { entry: ENTRY });
    const { images } = (await listing.json()) as { images: ImageRecord[] };
    const keys = await s3.keys(PREFIX);
    console.info(
      `[concurrency] ${adapter}: ${OPERATIONS} operations at ${CONCURRENCY} at once`,
      tally(answers),
      `listed ${images.length}, objects ${keys.length}`,
    );
    expect(keys).toEqual(images.map((record) => objectKey(record)).sort());
    expect(new Set(images.map((record) => record.sha256)).size).toBe(images.length);
    const createdAt = images.map((record) => record.created_at);
    expect(createdAt).toEqual([...createdAt].sort());
    for (const record of images) {
      const object = await s3.read(objectKey(record));
      expect(sha256(object?.bytes ?? new Uint8Array())).toBe(record.sha256);
    }
  }, 60_000);
});
