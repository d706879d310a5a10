import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BugoutMetadataStore } from "../../../origin/adapters/BugoutMetadataStore";
import type { ImageRecord, UploadRecord } from "../../../origin/domain/ports";
import { BugoutApiDouble } from "../../support/bugoutApi";
import { BUGOUT_APPLICATION_ID, BUGOUT_TEST_SETTLE_MS, BUGOUT_TOKEN, freshEntry } from "../../support/origin";

const IMAGE_ID = "3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71";

function record(entry = freshEntry(), overrides: Partial<ImageRecord> = {}): ImageRecord {
  const id = overrides.id ?? IMAGE_ID;
  return {
    id,
    journal_id: entry.journalId,
    entry_id: entry.entryId,
    name: "holiday",
    extension: "png",
    content_type: "image/png",
    size: 1234,
    sha256: "a".repeat(64),
    width: 4032,
    height: 3024,
    created_at: "2026-11-25T12:00:00.000Z",
    url: `/journals/${entry.journalId}/entries/${entry.entryId}/images/${id}`,
    ...overrides,
  };
}

/** A one-off brood stand-in answering every request with `respond`, for answers the double never gives. */
async function withBrood(
  respond: (response: ServerResponse) => void,
  use: (store: BugoutMetadataStore) => Promise<unknown>,
  timeoutMs?: number,
): Promise<unknown> {
  const server: Server = createServer((_request, response) => respond(response));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await use(
      new BugoutMetadataStore({
        apiUrl: `http://127.0.0.1:${port}`,
        applicationId: BUGOUT_APPLICATION_ID,
        accessToken: async () => BUGOUT_TOKEN,
        timeoutMs,
      }),
    );
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function failureOf(
  promise: Promise<unknown>,
): Promise<{ status: number; code: string; message: string }> {
  return promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: { status: number; code: string; message: string }) => error,
  );
}

describe("BugoutMetadataStore against brood's resources API", () => {
  let api: BugoutApiDouble;
  let url: string;
  let store: BugoutMetadataStore;

  beforeAll(async () => {
    api = new BugoutApiDouble(BUGOUT_TOKEN, BUGOUT_APPLICATION_ID);
    url = await api.start();
    store = new BugoutMetadataStore({
      apiUrl: `${url}/`,
      applicationId: BUGOUT_APPLICATION_ID,
      accessToken: async () => BUGOUT_TOKEN,
      settleMs: BUGOUT_TEST_SETTLE_MS,
    });
  });

  afterAll(async () => {
    await api?.stop();
  });

  beforeEach(() => {
    api.calls.length = 0;
  });

  it("writes the whole record as resource_data of its application, with the gateway's own token", async () => {
    // Prepare
    const image = record();

    // Act
    await store.put(image);

    // Assess
    const [written] = [...api.resources.values()].filter(
      (resource) => resource.resource_data.id === image.id,
    );
    expect(written?.application_id).toBe(BUGOUT_APPLICATION_ID);
    expect(written?.resource_data).toEqual(image);
    expect(api.calls[0]).toEqual({
      method: "POST",
      path: "/resources/",
      authorization: `Bearer ${BUGOUT_TOKEN}`,
    });
  });

  it("lists an entry by filtering on journal_id and entry_id", async () => {
    // Prepare
    const entry = freshEntry();
    await store.put(record(entry));
    api.calls.length = 0;

    // Act
    const listed = await store.listByEntry(entry);

    // Assess
    expect(listed).toHaveLength(1);
    const query = new URL(api.calls[0]?.path ?? "", url).searchParams;
    expect(Object.fromEntries(query)).toEqual({
      application_id: BUGOUT_APPLICATION_ID,
      journal_id: entry.journalId,
      entry_id: entry.entryId,
    });
  });

  it("reads a resource the original design wrote, with only its six keys", async () => {
    // Prepare
    const entry = freshEntry();
    api.seed({
      id: IMAGE_ID,
      name: "old photo",
      entry_id: entry.entryId,
      journal_id: entry.journalId,
      extension: "jpeg",
      created_at: "2024-03-01T09:30:00",
    });

    // Act
    const listed = await store.listByEntry(entry);

    // Assess
    expect(listed).toEqual([
      {
        id: IMAGE_ID,
        journal_id: entry.journalId,
        entry_id: entry.entryId,
        name: "old photo",
        extension: "jpeg",
        content_type: "image/jpeg",
        size: null,
        sha256: null,
        width: null,
        height: null,
        created_at: "2024-03-01T09:30:00.000Z",
        url: `/journals/${entry.journalId}/entries/${entry.entryId}/images/${IMAGE_ID}`,
      },
    ]);
  });

  it("passes over resources of the application that are not images", async () => {
    // Prepare
    const entry = freshEntry();
    api.seed({ journal_id: entry.journalId, entry_id: entry.entryId, kind: "comment" });

    // Act
    const listed = await store.listByEntry(entry);
    const removed = await store.deleteByEntry(entry);

    // Assess
    expect(listed).toEqual([]);
    expect(removed).toEqual([]);
    expect(api.data).toContainEqual({
      journal_id: entry.journalId,
      entry_id: entry.entryId,
      kind: "comment",
    });
  });

  it("keeps the resource brood stored first when the same bytes were written twice", async () => {
    // Prepare: another writer got there first
    const entry = freshEntry();
    const first = record(entry, { id: "11111111-1111-4111-8111-111111111111" });
    api.seed({ ...first });
    const second = record(entry, {
      id: "22222222-2222-4222-8222-222222222222",
      created_at: "2000-01-01T00:00:00.000Z",
    });

    // Act
    const outcome = await store.put(second);

    // Assess: brood's order decides, not the records' own timestamps
    expect(outcome).toEqual({ record: first, created: false });
    expect(api.data.filter((data) => data.entry_id === entry.entryId)).toEqual([first]);
  });

  describe("upload tickets", () => {
    const UPLOAD_ID = "5b0e6c1d-3a2f-4e8b-9c7d-1f2e3d4c5b6a";
    const ticket = (entry = freshEntry()): UploadRecord => ({
      id: UPLOAD_ID,
      journal_id: entry.journalId,
      entry_id: entry.entryId,
      name: "holiday",
      declared_size: 4_000_000,
      created_at: "2026-11-25T12:00:00.000Z",
      expires_at: "2026-11-25T12:15:00.000Z",
      status: "pending",
      image_id: null,
      error: null,
    });

    it("keeps a ticket under its own type, out of reach of every image filter", async () => {
      // Prepare
      const pending = ticket();

      // Act
      await store.putUpload(pending);
      const found = await store.getUpload({
        journalId: pending.journal_id,
        entryId: pending.entry_id,
        uploadId: pending.id,
      });

      // Assess
      expect(api.data).toContainEqual({
        type: "image_upload",
        upload_id: UPLOAD_ID,
        upload_entry: `${pending.journal_id}/${pending.entry_id}`,
        upload: pending,
      });
      expect(found).toEqual(pending);
      const query = new URL(api.calls.at(-1)?.path ?? "", url).searchParams;
      expect(Object.fromEntries(query)).toEqual({
        application_id: BUGOUT_APPLICATION_ID,
        type: "image_upload",
        upload_id: UPLOAD_ID,
      });
    });

    it("settles by writing the settlement, then removes the pending ticket", async () => {
      // Prepare
      const pending = ticket();
      const ref = { journalId: pending.journal_id, entryId: pending.entry_id, uploadId: pending.id };
      await store.putUpload(pending);
      const imageId = "6c1f7d2e-4b3a-4f9c-8d0e-2a3b4c5d6e7f";

      // Act
      const settled = await store.settleUpload(ref, { status: "ready", imageId });

      // Assess
      const expected = { ...pending, status: "ready", image_id: imageId };
      expect(settled).toEqual(expected);
      const resources = api.data.filter(
        (data) => (data.upload as UploadRecord | undefined)?.entry_id === pending.entry_id,
      );
      expect(resources).toEqual([
        {
          type: "image_upload",
          upload_id: UPLOAD_ID,
          upload_entry: `${pending.journal_id}/${pending.entry_id}`,
          upload: expected,
        },
      ]);
    });

    it("settles even when tidying the pending ticket away fails", async () => {
      // Prepare
      const pending = ticket();
      const ref = { journalId: pending.journal_id, entryId: pending.entry_id, uploadId: pending.id };
      await store.putUpload(pending);
      api.failNext("DELETE");
      const error = { code: "unsupported_type", message: "no" };

      // Act
      const settled = await store.settleUpload(ref, { status: "rejected", error });

      // Assess
      expect(settled).toEqual({ ...pending, status: "rejected", error });
      expect(await store.getUpload(ref)).toEqual(settled);
    });

    it("passes over ticket resources that are malformed or of another entry", async () => {
      // Prepare
      const entry = freshEntry();
      const elsewhere = ticket();
      api.seed({ type: "image_upload", upload_id: UPLOAD_ID, upload: { ...ticket(entry), status: "lost" } });
      api.seed({ type: "image_upload", upload_id: UPLOAD_ID, upload: { id: UPLOAD_ID } });
      api.seed({ type: "image_upload", upload_id: UPLOAD_ID, upload: elsewhere });

      // Act
      const found = await store.getUpload({ ...entry, uploadId: UPLOAD_ID });

      // Assess
      expect(found).toBeUndefined();
    });
  });

  it("maps brood's {detail} refusal of its token to 502 metadata_unavailable", async () => {
    // Prepare
    const wrongToken = new BugoutMetadataStore({
      apiUrl: url,
      applicationId: BUGOUT_APPLICATION_ID,
      accessToken: async () => "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    });

    // Act
    const failure = await failureOf(wrongToken.listByEntry(freshEntry()));

    // Assess
    expect(failure).toMatchObject({
      status: 502,
      code: "metadata_unavailable",
      message: "Bugout answered 404: Access token not found",
    });
  });

  it("maps brood's refusal of an unknown application to 502", async () => {
    // Prepare: an application id brood does not know
    const unknownApplication = new BugoutMetadataStore({
      apiUrl: url,
      applicationId: "00000000-0000-4000-8000-000000000000",
      accessToken: async () => BUGOUT_TOKEN,
    });

    // Act
    const failure = await failureOf(unknownApplication.put(record()));

    // Assess
    expect(failure).toMatchObject({ status: 502, message: "Bugout answered 404: Not found" });
  });

  it("maps a server error to 502 metadata_unavailable", async () => {
    // Prepare
    api.failNext("GET");

    // Act
    const failure = await failureOf(store.get({ ...freshEntry(), imageId: IMAGE_ID }));

    // Assess
    expect(failure).toMatchObject({
      code: "metadata_unavailable",
      message: "Bugout answered 500: Internal Server Error",
    });
  });

  it("treats a resource another client deleted meanwhile as deleted", async () => {
    // Prepare: just before brood answers the DELETE, another client removes the resource
    const entry = freshEntry();
    await store.put(record(entry));
    api.beforeAnswer = ({ method, path }) => {
      if (method === "DELETE") api.remove(path.split("/")[2] ?? "");
    };

    // Act
    const removed = await store.deleteByEntry(entry).finally(() => {
      api.beforeAnswer = undefined;
    });

    // Assess
    expect(removed).toEqual([record(entry)]);
    expect(api.calls.filter((call) => call.method === "DELETE")).toHaveLength(1);
  });

  it("answers 502 metadata_unavailable when brood cannot be reached", async () => {
    // Prepare
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = new BugoutMetadataStore({
      apiUrl: `http://127.0.0.1:${port}`,
      applicationId: BUGOUT_APPLICATION_ID,
      accessToken: async () => BUGOUT_TOKEN,
    });

    // Act
    const failure = await failureOf(unreachable.listByEntry(freshEntry()));

    // Assess
    expect(failure).toMatchObject({ code: "metadata_unavailable", message: "Bugout could not be reached." });
  });

  it("gives up on a brood that does not answer in time", async () => {
    // Act
    const failure = await withBrood(
      () => undefined,
      (slow) => failureOf(slow.listByEntry(freshEntry())),
      100,
    );

    // Assess
    expect(failure).toMatchObject({ code: "metadata_unavailable", message: "Bugout could not be reached." });
  });

  it("renders FastAPI's list of validation problems as text", async () => {
    // Prepare
    const detail = [{ loc: ["query", "application_id"], msg: "field required", type: "value_error.missing" }];

    // Act
    const failure = await withBrood(
      (response) =>
        response.writeHead(422, { "content-type": "application/json" }).end(JSON.stringify({ detail })),
      (store) => failureOf(store.listByEntry(freshEntry())),
    );

    // Assess
    expect(failure).toMatchObject({ message: `Bugout answered 422: ${JSON.stringify(detail)}` });
  });

  it("answers 502 when brood answers something that is not JSON", async () => {
    // Act
    const failure = await withBrood(
      (response) => response.writeHead(502, { "content-type": "text/html" }).end("<html>Bad Gateway</html>"),
      (store) => failureOf(store.listByEntry(freshEntry())),
    );

    // Assess
    expect(failure).toMatchObject({
      code: "metadata_unavailable",
      message: "Bugout answered 502 without JSON.",
    });
  });
});
