import { S3Client } from "@aws-sdk/client-s3";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { S3UploadSigner } from "../../../origin/adapters/S3UploadSigner";
import { pngBytes } from "../../support/images";
import {
  freshEntry,
  METADATA_ADAPTERS,
  makeOrigin,
  postForm,
  stagingKey,
  uploadsPath,
  useOriginStack,
} from "../../support/origin";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
const FIFTEEN_MINUTES_MS = 15 * 60 * 1000;

/** The policy of a presigned form, decoded. */
function policyOf(fields: Record<string, string>): { expiration: string; conditions: unknown[] } {
  return JSON.parse(Buffer.from(fields.Policy ?? "", "base64").toString("utf8"));
}

describe.each(METADATA_ADAPTERS)("presigned upload tickets on %s metadata", (adapter) => {
  const { s3, metadata, origin } = useOriginStack(adapter, { config: { maxImageBytes: MAX_IMAGE_BYTES } });

  beforeEach(() => {
    metadata.resetFaults();
    origin.imageFaults.reset();
    vi.restoreAllMocks();
  });

  describe("POST …/uploads", () => {
    it("answers 201 with a form for exactly the upload's staging key, its expiry and the limit", async () => {
      // Prepare
      const entry = freshEntry();
      const requestedAt = origin.clock.now();

      // Act
      const response = await origin.requestTicket(entry, { name: "harbour at dusk", size: 5_000_000 });

      // Assess
      expect(response.status).toBe(201);
      expect(response.headers.get("cache-control")).toBe("no-store");
      const ticket = await response.json();
      expect(Object.keys(ticket)).toEqual(["id", "upload", "expires_at", "max_bytes"]);
      expect(ticket.id).toMatch(UUID);
      expect(ticket.max_bytes).toBe(5_000_000);
      expect(Date.parse(ticket.expires_at)).toBe(requestedAt + FIFTEEN_MINUTES_MS);
      expect(ticket.upload.url).toBe(`${s3.endpoint}/${s3.bucket}`);
      expect(ticket.upload.fields).toMatchObject({
        key: stagingKey(entry, ticket.id),
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
      });
      expect(ticket.upload.fields).not.toHaveProperty("Content-Type");
    });

    it("signs a policy of the exact key, 1 byte to the declared size, expiring within 15 minutes", async () => {
      // Prepare
      const entry = freshEntry();

      // Act
      const ticket = await origin.ticket(entry, { name: "x", size: 10 });

      // Assess
      const policy = policyOf(ticket.upload.fields);
      expect(policy.conditions).toContainEqual({ key: stagingKey(entry, ticket.id) });
      expect(policy.conditions).toContainEqual(["content-length-range", 1, 10]);
      expect(policy.conditions).toContainEqual({ bucket: s3.bucket });
      expect(policy.conditions.some((condition) => JSON.stringify(condition).includes("starts-with"))).toBe(
        false,
      );
      expect(Date.parse(policy.expiration) - Date.now()).toBeLessThanOrEqual(FIFTEEN_MINUTES_MS);
      expect(Date.parse(policy.expiration) - Date.now()).toBeGreaterThan(FIFTEEN_MINUTES_MS - 60_000);
    });

    it("makes a form URL that is a path on the gateway absolute, from the URL the client called", async () => {
      // Prepare: the local gateway's signer hands out its own path
      const uploadSigner = new S3UploadSigner(s3.client, s3.bucket, "/_local/s3/b");
      const local = await makeOrigin({ s3, metadata: metadata.store, uploadSigner });
      const entry = freshEntry();

      // Act
      const response = await local.app.request(`http://gateway.test:8080${uploadsPath(entry)}`, {
        method: "POST",
        body: JSON.stringify({ size: 1 }),
        headers: { "x-image-gateway-grant": await local.grant("POST", entry, uploadsPath(entry)) },
      });

      // Assess
      expect(response.status).toBe(201);
      expect((await response.json()).upload.url).toBe("http://gateway.test:8080/_local/s3/b");
    });

    it("records the ticket pending, with the sanitized name and the declared size", async () => {
      // Prepare
      const entry = freshEntry();

      // Act
      const ticket = await origin.ticket(entry, { name: "  summer/\u202Ebeach\u0007  ", size: 4096 });

      // Assess
      const stored = await metadata.store.getUpload({ ...entry, uploadId: ticket.id });
      expect(stored).toMatchObject({
        id: ticket.id,
        journal_id: entry.journalId,
        entry_id: entry.entryId,
        name: "beach",
        declared_size: 4096,
        expires_at: ticket.expires_at,
        status: "pending",
        image_id: null,
        error: null,
      });
    });

    it("names an upload without a name 'image'", async () => {
      // Act
      const entry = freshEntry();
      const ticket = await origin.ticket(entry, { size: 1 });

      // Assess
      expect(await metadata.store.getUpload({ ...entry, uploadId: ticket.id })).toMatchObject({
        name: "image",
      });
    });

    it("refuses a declared size above MAX_IMAGE_BYTES with 413 at once, signing nothing", async () => {
      // Prepare
      const entry = freshEntry();

      // Act
      const response = await origin.requestTicket(entry, { name: "huge", size: MAX_IMAGE_BYTES + 1 });

      // Assess
      expect(response.status).toBe(413);
      expect(await response.json()).toEqual({
        error: { code: "too_large", message: `An image may be at most ${MAX_IMAGE_BYTES} bytes.` },
      });
    });

    it("refuses a declared size of 0 with 400 empty_file", async () => {
      // Act
      const response = await origin.requestTicket(freshEntry(), { name: "nothing", size: 0 });

      // Assess
      expect(response.status).toBe(400);
      expect((await response.json()).error.code).toBe("empty_file");
    });

    it.each([
      ["a body that is not JSON", "{name"],
      ["JSON that is not an object", "[1024]"],
      ["no size", { name: "x" }],
      ["a size in words", { size: "1024" }],
      ["a negative size", { size: -1 }],
      ["a fractional size", { size: 1.5 }],
      ["a name that is not text", { name: 7, size: 1 }],
    ])("refuses %s with 400 invalid_upload", async (_what, body) => {
      // Prepare
      const entry = freshEntry();
      const raw = typeof body === "string" ? body : JSON.stringify(body);

      // Act
      const response = await origin.send("POST", uploadsPath(entry), { entry, body: raw });

      // Assess
      expect(response.status).toBe(400);
      expect((await response.json()).error.code).toBe("invalid_upload");
    });

    it("refuses a body above 4 KiB with 413 too_large, however it declares its length", async () => {
      for (const headers of [{}, { "content-length": "5000" }] as Record<string, string>[]) {
        // Act
        const entry = freshEntry();
        const body = JSON.stringify({ name: "x".repeat(5000), size: 1 });
        const response = await origin.send("POST", uploadsPath(entry), { entry, body, headers });

        // Assess
        expect(response.status).toBe(413);
        expect(response.headers.get("cache-control")).toBe("no-store");
        expect((await response.json()).error.code).toBe("too_large");
      }
    });

    it("refuses a request without the edge's grant with 401", async () => {
      // Act
      const response = await origin.send("POST", uploadsPath(freshEntry()), {
        body: JSON.stringify({ size: 1 }),
      });

      // Assess
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe("invalid_grant");
    });

    it("answers 502 storage_unavailable when the form cannot be signed, recording nothing", async () => {
      // Prepare: a signer whose credentials cannot be had, as when the role's cannot be fetched
      const client = new S3Client({
        region: "us-east-1",
        credentials: async () => {
          throw new Error("Could not load credentials from any providers");
        },
      });
      const broken = await makeOrigin({
        s3,
        metadata: metadata.store,
        uploadSigner: new S3UploadSigner(client, s3.bucket),
      });
      const entry = freshEntry();

      // Act
      const response = await broken.requestTicket(entry, { size: 1 });

      // Assess
      expect(response.status).toBe(502);
      expect((await response.json()).error.code).toBe("storage_unavailable");
      expect(
        (await metadata.storedUploads()).filter((row) => JSON.stringify(row).includes(entry.entryId)),
      ).toEqual([]);
    });

    it("answers 502 metadata_unavailable when the ticket cannot be recorded", async () => {
      // Prepare
      metadata.fail("putUpload");

      // Act
      const response = await origin.requestTicket(freshEntry(), { size: 1 });

      // Assess
      expect(response.status).toBe(502);
      expect((await response.json()).error.code).toBe("metadata_unavailable");
    });
  });

  describe("GET …/uploads/{i}", () => {
    it("answers a ticket nothing has been uploaded for as pending, with its expiry", async () => {
      // Prepare
      const entry = freshEntry();
      const ticket = await origin.ticket(entry);

      // Act
      const response = await origin.uploadStatus(entry, ticket.id);

      // Assess
      expect(response.status).toBe(200);
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(await response.json()).toEqual({
        status: "pending",
        id: ticket.id,
        expires_at: ticket.expires_at,
      });
    });

    it("answers a ticket whose form expired unused as rejected expired", async () => {
      // Prepare
      const entry = freshEntry();
      const ticket = await origin.ticket(entry);
      origin.clock.advance(FIFTEEN_MINUTES_MS / 1000 + 1);

      // Act
      const response = await origin.uploadStatus(entry, ticket.id);

      // Assess
      expect(await response.json()).toEqual({
        status: "rejected",
        id: ticket.id,
        error: {
          code: "expired",
          message: "The upload form expired before a file arrived; ask for a new one.",
        },
      });
    });

    it("keeps a ticket past its expiry pending while its file waits to be finalized", async () => {
      // Prepare: the file arrived in time, its notification has not yet
      const entry = freshEntry();
      const ticket = await origin.ticket(entry);
      await postForm(ticket.upload, pngBytes(4, 4, 1));
      origin.clock.advance(FIFTEEN_MINUTES_MS / 1000 + 1);

      // Act
      const response = await origin.uploadStatus(entry, ticket.id);

      // Assess
      expect(await response.json()).toMatchObject({ status: "pending" });
    });

    it("answers what the finalize step settled while the expired ticket was being read", async () => {
      // Prepare: the file came in time; its finalize completes right as the status looks for it
      const entry = freshEntry();
      const ticket = await origin.ticket(entry);
      await postForm(ticket.upload, pngBytes(4, 4, 9));
      origin.clock.advance(FIFTEEN_MINUTES_MS / 1000 + 1);
      vi.spyOn(origin.deps.images, "head").mockImplementationOnce(async () => {
        await origin.notify(stagingKey(entry, ticket.id));
        return undefined;
      });

      // Act
      const response = await origin.uploadStatus(entry, ticket.id);

      // Assess
      expect(await response.json()).toMatchObject({ status: "ready", id: ticket.id });
    });

    it("answers the same status from a store opened afresh, as after a restart", async () => {
      // Prepare
      const entry = freshEntry();
      const ticket = await origin.ticket(entry);
      await postForm(ticket.upload, pngBytes(6, 6, 2));
      await origin.notify(stagingKey(entry, ticket.id));
      const before = await (await origin.uploadStatus(entry, ticket.id)).json();
      const restarted = await makeOrigin({ s3, metadata: await metadata.another() });

      // Act
      const after = await (await restarted.uploadStatus(entry, ticket.id)).json();

      // Assess
      expect(before).toMatchObject({ status: "ready" });
      expect(after).toEqual(before);
    });

    it("answers ready with image null once the image has been deleted", async () => {
      // Prepare
      const entry = freshEntry();
      const ticket = await origin.ticket(entry);
      await postForm(ticket.upload, pngBytes(6, 6, 3));
      await origin.notify(stagingKey(entry, ticket.id));
      const { image } = await (await origin.uploadStatus(entry, ticket.id)).json();
      await origin.send(
        "DELETE",
        `/api/journals/${entry.journalId}/entries/${entry.entryId}/images/${image.id}`,
        {
          entry,
        },
      );

      // Act
      const response = await origin.uploadStatus(entry, ticket.id);

      // Assess
      expect(await response.json()).toEqual({ status: "ready", id: ticket.id, image: null });
    });

    it("answers 404 for an upload the entry does not have, even one of another entry", async () => {
      // Prepare
      const entry = freshEntry();
      const elsewhere = await origin.ticket(freshEntry());

      // Act
      const unknown = await origin.uploadStatus(entry, "3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71");
      const foreign = await origin.uploadStatus(entry, elsewhere.id);

      // Assess
      for (const response of [unknown, foreign]) {
        expect(response.status).toBe(404);
        expect(await response.json()).toEqual({ error: { code: "not_found", message: "No such upload." } });
      }
    });

    it("answers 502 metadata_unavailable when the ticket cannot be read", async () => {
      // Prepare
      const entry = freshEntry();
      const ticket = await origin.ticket(entry);
      metadata.fail("getUpload");

      // Act
      const response = await origin.uploadStatus(entry, ticket.id);

      // Assess
      expect(response.status).toBe(502);
      expect((await response.json()).error.code).toBe("metadata_unavailable");
    });
  });
});
