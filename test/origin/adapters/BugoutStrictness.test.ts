import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BugoutMetadataStore } from "../../../origin/adapters/BugoutMetadataStore";
import { resolveOriginConfig } from "../../../origin/config";
import type { ImageRecord } from "../../../origin/domain/ports";
import { BugoutApiDouble } from "../../support/bugoutApi";
import { BUGOUT_APPLICATION_ID, BUGOUT_TOKEN, freshEntry } from "../../support/origin";

/**
 * Each rule of brood (github.com/bugout-dev/brood, `brood/resources/api.py`, `actions.py`,
 * `brood/middleware.py`) that the adapter once got wrong, against the double that now keeps it.
 */
describe("the Bugout adapter under brood's own rules", () => {
  let api: BugoutApiDouble;
  let url: string;

  beforeAll(async () => {
    api = new BugoutApiDouble(BUGOUT_TOKEN, BUGOUT_APPLICATION_ID);
    url = await api.start();
  });

  afterAll(async () => {
    await api?.stop();
  });

  const storeWith = (token: string, options: { settleMs?: number } = {}) =>
    new BugoutMetadataStore({
      apiUrl: url,
      applicationId: BUGOUT_APPLICATION_ID,
      accessToken: async () => token,
      settleMs: options.settleMs ?? 50,
    });

  /** A resource exactly as the original design's Lambda created it, with a viewer's own token. */
  const seedLegacy = (entry = freshEntry(), overrides: Record<string, unknown> = {}) =>
    api.seed({
      id: randomUUID(),
      entry_id: entry.entryId,
      journal_id: entry.journalId,
      name: "my_photo",
      extension: "png",
      created_at: "2021-09-20 12:35:14.123456",
      ...overrides,
    });

  describe("holders: brood shows a token only what its user or its groups hold", () => {
    it("refuses at start, in one line naming the fix, a token whose user is not in the application's group", async () => {
      // Prepare: the danger, first: such a token sees none of the original design's images
      const entry = freshEntry();
      seedLegacy(entry);
      const outsider = randomUUID();
      api.addToken(outsider);
      const store = storeWith(outsider);
      expect(await store.listByEntry(entry)).toEqual([]);

      // Act
      const failure = await store.verifyAccess().then(
        () => undefined,
        (error: Error) => error.message,
      );

      // Assess
      expect(failure).toMatch(
        new RegExp(
          `^BUGOUT_ACCESS_TOKEN's user is not in the group of Bugout application ${BUGOUT_APPLICATION_ID}`,
        ),
      );
      expect(failure).toContain("must be an active, unrestricted token of a user in the application's group");
      expect(failure).not.toContain("\n");
      expect(api.data.filter((data) => data.type === "image_gateway_probe")).toEqual([]);
    });

    it.each([
      ["an unknown", undefined, "Access token not found"],
      ["an inactive", { active: false }, "Access token not active"],
      ["a restricted", { restricted: true }, "Restricted tokens are not authorized"],
    ] as const)("refuses at start %s token, with brood's own words", async (_kind, flags, words) => {
      // Prepare
      const token = randomUUID();
      if (flags) api.addToken(token, { ...flags, groups: [api.applicationGroupId] });

      // Act
      const failure = storeWith(token).verifyAccess();

      // Assess
      await expect(failure).rejects.toThrow(words);
    });

    it("passes a member's token, and leaves no probe behind", async () => {
      // Act
      await storeWith(BUGOUT_TOKEN).verifyAccess();

      // Assess
      expect(api.data.filter((data) => data.type === "image_gateway_probe")).toEqual([]);
    });

    it("sees the original design's resources through the group, with a member's token", async () => {
      // Prepare
      const entry = freshEntry();
      const legacy = seedLegacy(entry);

      // Act
      const listed = await storeWith(BUGOUT_TOKEN).listByEntry(entry);

      // Assess
      expect(listed.map((record) => record.id)).toEqual([legacy.resource_data.id]);
    });
  });

  describe("404s: brood's 404 means missing, no permission, or a refused token", () => {
    it("treats a DELETE refused as 'Access token not found' as a failure, and keeps the record", async () => {
      // Prepare: the token is revoked between the listing and the delete
      const entry = freshEntry();
      const token = api.memberToken();
      const store = storeWith(token);
      const legacy = seedLegacy(entry);
      api.beforeAnswer = (call) => {
        if (call.method === "DELETE") api.revoke(token);
      };

      // Act
      const failure = await store.delete({ ...entry, imageId: legacy.resource_data.id as string }).then(
        () => undefined,
        (error: { status: number; message: string }) => error,
      );
      api.beforeAnswer = undefined;

      // Assess
      expect(failure).toMatchObject({ status: 502, message: "Bugout answered 404: Access token not found" });
      expect(api.resources.has(legacy.id)).toBe(true);
    });

    it("treats a DELETE of a resource it may read but not delete as a failure, and says why", async () => {
      // Prepare
      const entry = freshEntry();
      const legacy = seedLegacy(entry, {});
      const readOnly = api.seed({ ...legacy.resource_data, id: randomUUID() }, { groupPermission: "read" });
      api.remove(legacy.id);

      // Act
      const failure = storeWith(BUGOUT_TOKEN).delete({
        ...entry,
        imageId: readOnly.resource_data.id as string,
      });

      // Assess
      await expect(failure).rejects.toThrow(`Bugout refused to delete resource ${readOnly.id}`);
      expect(api.resources.has(readOnly.id)).toBe(true);
    });

    it("treats a DELETE answered a bare 404 for a resource that is really gone as done", async () => {
      // Prepare: another client deletes it just before brood answers
      const entry = freshEntry();
      const legacy = seedLegacy(entry);
      api.beforeAnswer = (call) => {
        if (call.method === "DELETE") api.remove(legacy.id);
      };

      // Act
      const removed = await storeWith(BUGOUT_TOKEN)
        .deleteByEntry(entry)
        .finally(() => {
          api.beforeAnswer = undefined;
        });

      // Assess
      expect(removed.map((record) => record.id)).toEqual([legacy.resource_data.id]);
    });
  });

  describe("routes, types and filters as brood has them", () => {
    it("redirects the other slash spelling, which the adapter never uses nor follows", async () => {
      // Prepare
      const headers = { authorization: `Bearer ${BUGOUT_TOKEN}` };
      const query = `application_id=${BUGOUT_APPLICATION_ID}`;

      // Act
      const list = await fetch(`${url}/resources?${query}`, { headers, redirect: "manual" });
      const item = await fetch(`${url}/resources/${randomUUID()}/`, { headers, redirect: "manual" });
      const redirected = await failureOf(
        new BugoutMetadataStore({
          apiUrl: `${url}/resources?`,
          applicationId: BUGOUT_APPLICATION_ID,
          accessToken: async () => BUGOUT_TOKEN,
        }).listByEntry(freshEntry()),
      );

      // Assess
      expect(list.status).toBe(307);
      expect(list.headers.get("location")).toBe(`/resources/?${query}`);
      expect(item.status).toBe(307);
      expect(redirected).toMatch(/^Bugout answered 30\d: redirect to /);
      expect(
        api.calls.filter((call) => call.path.startsWith("/resources/?") && call.method === "POST"),
      ).toEqual([]);
    });

    it("needs a UUID application id: brood answers 422 on write and 500 on list, so the configuration refuses it", async () => {
      // Prepare
      const headers = { authorization: `Bearer ${BUGOUT_TOKEN}`, "content-type": "application/json" };

      // Act
      const write = await fetch(`${url}/resources/`, {
        method: "POST",
        headers,
        body: JSON.stringify({ application_id: "notes-images", resource_data: {} }),
      });
      const list = await fetch(`${url}/resources/?application_id=notes-images`, { headers });
      const config = () =>
        resolveOriginConfig({
          bucketName: "image-gateway-images",
          signingKeys: { type: "env", variable: "UNUSED" },
          metadata: {
            type: "bugout",
            apiUrl: url,
            applicationId: "notes-images",
            accessToken: { type: "value", value: BUGOUT_TOKEN },
          },
        });

      // Assess
      expect(write.status).toBe(422);
      expect(list.status).toBe(500);
      expect(config).toThrow('BUGOUT_APPLICATION_ID "notes-images" is not a UUID.');
    });

    it("never matches a JSON null, whatever the filter says", async () => {
      // Prepare
      const entry = freshEntry();
      seedLegacy(entry, { sha256: null });

      // Act
      const found = await storeWith(BUGOUT_TOKEN).findBySha256(entry, "null");

      // Assess
      expect(found).toBeUndefined();
    });
  });

  describe("the original design's data", () => {
    it("reads its created_at as ISO 8601 UTC, and its bmp with the BMP type", async () => {
      // Prepare
      const entry = freshEntry();
      const legacy = seedLegacy(entry, { extension: "bmp" });

      // Act
      const [listed] = await storeWith(BUGOUT_TOKEN).listByEntry(entry);

      // Assess
      expect(listed).toMatchObject<Partial<ImageRecord>>({
        id: legacy.resource_data.id as string,
        name: "my_photo",
        extension: "bmp",
        content_type: "image/bmp",
        created_at: "2021-09-20T12:35:14.123Z",
        size: null,
        sha256: null,
      });
    });
  });

  describe("upload tickets do not pile up in the application", () => {
    const ticketData = (entry: { journalId: string; entryId: string }, expiresAt: string) => {
      const id = randomUUID();
      return {
        type: "image_upload",
        upload_id: id,
        upload_entry: `${entry.journalId}/${entry.entryId}`,
        upload: {
          id,
          journal_id: entry.journalId,
          entry_id: entry.entryId,
          name: "old",
          declared_size: 5,
          created_at: expiresAt,
          expires_at: expiresAt,
          status: "ready",
          image_id: randomUUID(),
          error: null,
        },
      };
    };
    const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

    it("removes an entry's tickets a day past their expiry when the entry asks for another, and the rest on reconcile", async () => {
      // Prepare
      const entry = freshEntry();
      const other = freshEntry();
      const stale = api.seed(ticketData(entry, daysAgo(2)));
      const recent = api.seed(ticketData(entry, daysAgo(0.5)));
      const elsewhere = api.seed(ticketData(other, daysAgo(3)));
      const store = storeWith(BUGOUT_TOKEN);
      const fresh = ticketData(entry, new Date(Date.now() + 900_000).toISOString()).upload as Parameters<
        typeof store.putUpload
      >[0];

      // Act
      await store.putUpload(fresh);
      const afterIssue = new Set(api.resources.keys());
      const pruned = await store.pruneUploads();

      // Assess
      expect(afterIssue.has(stale.id)).toBe(false);
      expect(afterIssue.has(recent.id)).toBe(true);
      expect(afterIssue.has(elsewhere.id)).toBe(true);
      expect(pruned).toBeGreaterThanOrEqual(1);
      expect(api.resources.has(elsewhere.id)).toBe(false);
      expect(api.resources.has(recent.id)).toBe(true);
      expect(await store.getUpload({ ...entry, uploadId: fresh.id })).toEqual(fresh);
    });
  });

  describe("listings", () => {
    it("lists the same bytes in two entries as two images, and a racing copy in one entry as none", async () => {
      // Prepare: the second copy in the first entry is a racing writer's, about to remove itself
      const [first, second] = [freshEntry(), freshEntry()];
      const inFirst = gatewayRecord(first, "b");
      const inSecond = gatewayRecord(second, "b");
      const copy = gatewayRecord(first, "b");
      for (const record of [inFirst, inSecond, copy])
        api.seed({ ...record }, { holderUserId: api.gatewayUserId });

      // Act
      const all: ImageRecord[] = [];
      for await (const record of storeWith(BUGOUT_TOKEN).listAll()) all.push(record);

      // Assess
      const ids = all.map((record) => record.id);
      expect(ids).toEqual(expect.arrayContaining([inFirst.id, inSecond.id]));
      expect(ids).not.toContain(copy.id);
    });
  });

  describe("a write whose answer was lost", () => {
    it("finds its own resource once settled, and keeps it as the record", async () => {
      // Prepare: brood commits the resource, then the answer is a 500
      const entry = freshEntry();
      const image = gatewayRecord(entry, "e");
      api.failNext("POST", 1, "after");

      // Act
      const outcome = await storeWith(BUGOUT_TOKEN).put(image);

      // Assess
      expect(outcome).toEqual({ record: image, created: true });
      expect(api.data.filter((data) => data.id === image.id)).toHaveLength(1);
    });
  });

  describe("timing: created_at at INSERT, visibility at COMMIT, lists from a lagging replica", () => {
    it("finds on another container what was written just before, and never lists what it deleted", async () => {
      // Prepare
      api.timing = { commitDelayMs: () => 40, replicaLagMs: 150 };
      const entry = freshEntry();
      const writer = storeWith(BUGOUT_TOKEN, { settleMs: 250 });
      const reader = storeWith(BUGOUT_TOKEN, { settleMs: 250 });
      const image = gatewayRecord(entry, "d");

      try {
        const ticket = {
          id: randomUUID(),
          journal_id: entry.journalId,
          entry_id: entry.entryId,
          name: "fresh",
          declared_size: 3,
          created_at: new Date().toISOString(),
          expires_at: new Date(Date.now() + 900_000).toISOString(),
          status: "pending" as const,
          image_id: null,
          error: null,
        };

        // Act
        await writer.putUpload(ticket);
        const freshTicket = await reader.getUpload({ ...entry, uploadId: ticket.id });
        await writer.put(image);
        const found = await reader.get({ ...entry, imageId: image.id });
        await writer.delete({ ...entry, imageId: image.id });
        const afterDelete = await writer.listByEntry(entry);
        const elsewhere = await reader.get({ ...entry, imageId: image.id });

        // Assess
        expect(freshTicket).toEqual(ticket);
        expect(found).toEqual(image);
        expect(afterDelete).toEqual([]);
        expect(elsewhere).toBeUndefined();
      } finally {
        api.timing = {};
      }
    });
  });
});

/** A record as the gateway writes it, of bytes whose SHA-256 is `hexDigit` repeated. */
function gatewayRecord(entry: { journalId: string; entryId: string }, hexDigit: string): ImageRecord {
  const id = randomUUID();
  return {
    id,
    journal_id: entry.journalId,
    entry_id: entry.entryId,
    name: "photo",
    extension: "png",
    content_type: "image/png",
    size: 4,
    sha256: hexDigit.repeat(64),
    width: 1,
    height: 1,
    created_at: new Date().toISOString(),
    url: `/journals/${entry.journalId}/entries/${entry.entryId}/images/${id}`,
  };
}

async function failureOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => "no failure",
    (error: Error) => error.message,
  );
}
