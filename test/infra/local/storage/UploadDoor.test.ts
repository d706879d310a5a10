import { readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { Agent, createServer, request as httpRequest, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import type { S3Event } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { close, listen } from "../../../../infra/local/gateway/listen";
import type { StorageCredentials } from "../../../../infra/local/storage/postPolicy";
import { UploadDoor } from "../../../../infra/local/storage/UploadDoor";
import { FileImageStore } from "../../../../origin/adapters/FileImageStore";
import { S3UploadSigner } from "../../../../origin/adapters/S3UploadSigner";
import { type Bytes, noisyPng, pngBytes } from "../../../support/images";

const APP_ORIGIN = "https://notes.example.com";
const BUCKET = "door-test";
const KEY = "incoming/j/entries/e/images/5b0e6c1d-3a2f-4e8b-9c7d-1f2e3d4c5b6a";
const CREDENTIALS: StorageCredentials = {
  accessKeyId: "LOCALDOORTEST0001",
  secretAccessKey: "a-secret-made-for-this-test-only-0123456789",
};

/** A signer as the origin has one, with the given credentials (the door's, or someone else's). */
function signerWith(credentials: StorageCredentials, formUrl: string): S3UploadSigner {
  const client = new S3Client({
    region: "us-east-1",
    credentials,
    endpoint: "http://127.0.0.1",
    forcePathStyle: true,
  });
  return new S3UploadSigner(client, BUCKET, formUrl);
}

/** One part of a hand-made form: its header lines and its body. */
interface RawPart {
  readonly headers: readonly string[];
  readonly body: string | Uint8Array;
}

/** A multipart body written byte by byte, for the forms no `FormData` would make. */
function rawForm(parts: readonly RawPart[], boundary = "door-test-boundary"): Uint8Array<ArrayBuffer> {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n${part.headers.join("\r\n")}\r\n\r\n`));
    chunks.push(Buffer.from(part.body));
    chunks.push(Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return new Uint8Array(Buffer.concat(chunks));
}

const field = (name: string, value: string): RawPart => ({
  headers: [`Content-Disposition: form-data; name="${name}"`],
  body: value,
});
const filePart = (bytes: Uint8Array): RawPart => ({
  headers: ['Content-Disposition: form-data; name="file"; filename="photo.png"', "Content-Type: image/png"],
  body: bytes,
});

describe("the local gateway's presigned-POST door, on the file store", () => {
  let directory: string;
  let store: FileImageStore;
  let server: Server;
  let url: string;
  let door: UploadDoor;
  let now = Date.now();
  const events: S3Event[] = [];

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "upload-door-"));
    store = await FileImageStore.open(join(directory, "objects"));
    door = new UploadDoor({
      store,
      bucket: BUCKET,
      region: "us-east-1",
      credentials: CREDENTIALS,
      corsAllowedOrigins: [APP_ORIGIN],
      maxBytes: 50 * 1024 * 1024,
      onObjectCreated: (event) => events.push(event),
      now: () => now,
    });
    server = createServer((request, response) => {
      door.serve(request, response).catch(() => response.destroy());
    });
    url = `http://127.0.0.1:${await listen(server, 0)}${door.path}`;
  });

  afterAll(async () => {
    await close(server);
    await rm(directory, { recursive: true, force: true });
  });

  beforeEach(() => {
    now = Date.now();
    events.length = 0;
  });

  async function signedFields(
    key = KEY,
    maxBytes = 1024 * 1024,
    credentials = CREDENTIALS,
  ): Promise<Record<string, string>> {
    const signed = await signerWith(credentials, door.path).presignPost(key, {
      maxBytes,
      expiresInSeconds: 900,
    });
    return { ...signed.fields };
  }

  async function post(
    fields: Record<string, string>,
    bytes: Bytes | null = pngBytes(8, 8, 1),
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    if (bytes) form.append("file", new File([bytes], "photo.png"));
    return fetch(url, { method: "POST", body: form, headers });
  }

  async function postRaw(
    body: Uint8Array<ArrayBuffer>,
    contentType = "multipart/form-data; boundary=door-test-boundary",
  ) {
    return fetch(url, { method: "POST", body, headers: { "content-type": contentType } });
  }

  async function stored(): Promise<string[]> {
    const keys: string[] = [];
    for await (const object of store.list("")) keys.push(object.key);
    return keys;
  }

  async function refusal(response: Response): Promise<{ status: number; code: string; message: string }> {
    const text = await response.text();
    return {
      status: response.status,
      code: /<Code>(.*)<\/Code>/.exec(text)?.[1] ?? "",
      message: /<Message>(.*)<\/Message>/.exec(text)?.[1] ?? "",
    };
  }

  /** Nothing was written: no object, no temporary file, no notification. */
  async function expectNothingWritten(): Promise<void> {
    expect(await stored()).toEqual([]);
    expect(await readdir(join(directory, "objects/.tmp"))).toEqual([]);
    expect(events).toEqual([]);
  }

  it("writes a form the gateway signed as its key, and notifies the object as S3 does", async () => {
    // Prepare
    const bytes = pngBytes(64, 64, 2);
    const fixture = JSON.parse(
      readFileSync(join(import.meta.dirname, "../../../events/s3/object-created-post.json"), "utf8"),
    );

    // Act
    const response = await post(await signedFields(), bytes);

    // Assess
    expect(response.status).toBe(204);
    expect(response.headers.get("etag")).toMatch(/^"[0-9a-f]{32}"$/);
    expect(await store.get(KEY)).toMatchObject({ bytes, contentType: "binary/octet-stream" });
    expect(events).toHaveLength(1);
    const [record] = events[0]?.Records ?? [];
    expect(shapeOf(events[0])).toEqual(shapeOf(fixture));
    expect(record).toMatchObject({
      eventName: "ObjectCreated:Post",
      s3: {
        bucket: { name: BUCKET, arn: `arn:aws:s3:::${BUCKET}` },
        object: { key: KEY, size: bytes.byteLength, eTag: response.headers.get("etag")?.replaceAll('"', "") },
      },
    });
    await store.delete(KEY);
  });

  it.each([
    [
      "another key",
      (fields: Record<string, string>) => ({ ...fields, key: "incoming/j/entries/e/images/other" }),
    ],
    [
      "an added Content-Type",
      (fields: Record<string, string>) => ({ ...fields, "Content-Type": "text/html" }),
    ],
    [
      "a forged signature",
      (fields: Record<string, string>) => ({ ...fields, "X-Amz-Signature": "0".repeat(64) }),
    ],
    [
      "an unknown access key",
      (fields: Record<string, string>) => ({
        ...fields,
        "X-Amz-Credential": (fields["X-Amz-Credential"] ?? "").replace(CREDENTIALS.accessKeyId, "AKIAOTHER"),
      }),
    ],
    [
      "no policy at all",
      (fields: Record<string, string>) => {
        const { Policy: _policy, ...rest } = fields;
        return rest;
      },
    ],
  ])("refuses a form with %s, as S3 would, storing nothing", async (_what, tamper) => {
    // Act
    const response = await post(tamper(await signedFields()));

    // Assess
    expect(response.status).toBe(403);
    expect(response.headers.get("content-type")).toBe("application/xml");
    expect((await refusal(response)).code).toMatch(
      /^(AccessDenied|SignatureDoesNotMatch|InvalidAccessKeyId)$/,
    );
    await expectNothingWritten();
  });

  it("refuses a form signed by anyone else, the old public default secret included", async () => {
    // Prepare: s3rver's well-known credentials, and a well-formed signature of another secret
    const forged = await signedFields(KEY, 1024 * 1024, { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" });
    const otherSecret = await signedFields(KEY, 1024 * 1024, {
      ...CREDENTIALS,
      secretAccessKey: "x".repeat(40),
    });

    // Act
    const byDefault = await refusal(await post(forged));
    const bySecret = await refusal(await post(otherSecret));

    // Assess
    expect(byDefault).toMatchObject({ status: 403, code: "InvalidAccessKeyId" });
    expect(bySecret).toMatchObject({ status: 403, code: "SignatureDoesNotMatch" });
    await expectNothingWritten();
  });

  it("names the failed condition and the extra fields as S3 does", async () => {
    // Act
    const moved = await refusal(await post({ ...(await signedFields()), key: "incoming/elsewhere" }));
    const extra = await refusal(await post({ ...(await signedFields()), acl: "public-read" }));

    // Assess
    expect(moved).toEqual({
      status: 403,
      code: "AccessDenied",
      message: "Invalid according to Policy: Policy Condition failed: key",
    });
    expect(extra.message).toBe("Invalid according to Policy: Extra input fields: acl");
    await expectNothingWritten();
  });

  it("refuses a form whose policy has expired", async () => {
    // Prepare
    const fields = await signedFields();
    now += 16 * 60 * 1000;

    // Act
    const response = await refusal(await post(fields));

    // Assess
    expect(response).toEqual({
      status: 403,
      code: "AccessDenied",
      message: "Invalid according to Policy: Policy expired.",
    });
    await expectNothingWritten();
  });

  it("writes only under the staging prefix, even for a form the gateway signed", async () => {
    // Act
    const response = await refusal(await post(await signedFields("dev/j/entries/e/images/x")));

    // Assess
    expect(response).toMatchObject({ status: 403, code: "AccessDenied" });
    await expectNothingWritten();
  });

  it("refuses a file above the policy's content-length-range, and an empty one, keeping nothing", async () => {
    // Prepare: a form signed for at most 10 bytes, as a ticket declared at 10 bytes is
    const fields = await signedFields(KEY, 10);

    // Act
    const tooLarge = await refusal(await post(fields, noisyPng(3 * 1024 * 1024)));
    const empty = await refusal(await post(fields, new Uint8Array()));
    const justRight = await post(fields, new Uint8Array(10).fill(7));

    // Assess
    expect(tooLarge).toMatchObject({ status: 400, code: "EntityTooLarge" });
    expect(empty).toMatchObject({ status: 400, code: "EntityTooSmall" });
    expect(justRight.status).toBe(204);
    expect((await store.get(KEY))?.size).toBe(10);
    await store.delete(KEY);
  });

  it("refuses a form without a file, a body that is not a form, and another method", async () => {
    // Act
    const noFile = await refusal(await post(await signedFields(), null));
    const notForm = await refusal(
      await fetch(url, { method: "POST", body: "key=x", headers: { "content-type": "text/plain" } }),
    );
    const get = await refusal(await fetch(url));

    // Assess
    expect(noFile).toMatchObject({ status: 400, code: "InvalidArgument" });
    expect(notForm).toMatchObject({ status: 412, code: "PreconditionFailed" });
    expect(get).toMatchObject({ status: 405, code: "MethodNotAllowed" });
    await expectNothingWritten();
  });

  describe("refuses every form two readers could read two ways", () => {
    it.each<[string, (fields: Record<string, string>, bytes: Uint8Array) => RawPart[]]>([
      [
        "a part header with two name parameters",
        (fields, bytes) => [
          ...Object.entries(fields).map(([name, value]) =>
            name === "key"
              ? { headers: [`Content-Disposition: form-data; name="key"; name="x-ignore-key"`], body: value }
              : field(name, value),
          ),
          filePart(bytes),
        ],
      ],
      [
        "a part with two Content-Disposition headers",
        (fields, bytes) => [
          ...Object.entries(fields).map(([name, value]) => field(name, value)),
          {
            headers: [
              'Content-Disposition: form-data; name="x-ignore-a"',
              'Content-Disposition: form-data; name="key"',
            ],
            body: "incoming/j/entries/e/images/smuggled",
          },
          filePart(bytes),
        ],
      ],
      [
        "a repeated field",
        (fields, bytes) => [
          ...Object.entries(fields).map(([name, value]) => field(name, value)),
          field("key", "incoming/j/entries/e/images/smuggled"),
          filePart(bytes),
        ],
      ],
      [
        "a second file",
        (fields, bytes) => [
          ...Object.entries(fields).map(([name, value]) => field(name, value)),
          filePart(bytes),
          filePart(bytes),
        ],
      ],
    ])("%s", async (_what, parts) => {
      // Act
      const response = await refusal(await postRaw(rawForm(parts(await signedFields(), pngBytes(4, 4, 3)))));

      // Assess
      expect(response.status).toBe(400);
      expect(response.code).toMatch(/^(MalformedPOSTRequest|InvalidArgument)$/);
      await expectNothingWritten();
    });

    it("a Content-Type with two boundary parameters", async () => {
      // Prepare: the form is delimited by the second boundary; a reader taking the first sees no part
      const fields = await signedFields();
      const body = rawForm(
        [...Object.entries(fields).map(([name, value]) => field(name, value)), filePart(pngBytes(4, 4, 4))],
        "second",
      );

      // Act
      const response = await refusal(
        await postRaw(body, "multipart/form-data; boundary=first; boundary=second"),
      );

      // Assess
      expect(response).toMatchObject({ status: 400, code: "MalformedPOSTRequest" });
      await expectNothingWritten();
    });
  });

  it("answers a refusal whole and then the next request on the same connection", async () => {
    // Prepare: one keep-alive connection, a 3 MiB file over a 10-byte limit, then a valid form
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (body: Uint8Array, contentType: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const request = httpRequest(
          url,
          { method: "POST", agent, headers: { "content-type": contentType } },
          (response) => {
            let text = "";
            response.on("data", (chunk: Buffer) => {
              text += chunk.toString();
            });
            response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
          },
        );
        request.on("error", reject);
        request.end(body);
      });
    const formOf = async (maxBytes: number, bytes: Uint8Array) => {
      const parts = [
        ...Object.entries(await signedFields(KEY, maxBytes)).map(([n, v]) => field(n, v)),
        filePart(bytes),
      ];
      return rawForm(parts);
    };
    const contentType = "multipart/form-data; boundary=door-test-boundary";

    // Act
    const refused = await send(await formOf(10, noisyPng(3 * 1024 * 1024)), contentType);
    const next = await send(await formOf(1024 * 1024, pngBytes(4, 4, 5)), contentType);
    agent.destroy();

    // Assess
    expect(refused.status).toBe(400);
    expect(refused.text).toContain("<Code>EntityTooLarge</Code>");
    expect(next.status).toBe(204);
    await store.delete(KEY);
  });

  it("keeps nothing of a form whose client goes away in the middle of the file", async () => {
    // Prepare: a well-signed form of 2 MiB, of which only the first half is ever sent
    const parts = [...Object.entries(await signedFields(KEY, 4 * 1024 * 1024)).map(([n, v]) => field(n, v))];
    const body = rawForm([...parts, filePart(noisyPng(2 * 1024 * 1024))]);

    // Act
    const request = httpRequest(url, {
      method: "POST",
      headers: {
        "content-type": "multipart/form-data; boundary=door-test-boundary",
        "content-length": body.byteLength,
      },
    });
    request.on("error", () => undefined);
    request.write(body.subarray(0, body.byteLength / 2));
    // The file part has begun: its bytes are being written to a temporary file.
    await expect.poll(async () => (await readdir(join(directory, "objects/.tmp"))).length).toBe(1);
    request.destroy();

    // Assess
    await expect.poll(() => readdir(join(directory, "objects/.tmp"))).toEqual([]);
    await expectNothingWritten();
  });

  it("plays the bucket's CORS rule: POST from the configured origins, any header, nothing for others", async () => {
    // Prepare
    const preflight = (origin: string) =>
      fetch(url, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "x-requested-with",
        },
      });

    // Act
    const allowed = await preflight(APP_ORIGIN);
    const refused = await preflight("https://elsewhere.example");
    const posted = await post(await signedFields(), pngBytes(4, 4, 3), { origin: APP_ORIGIN });

    // Assess
    expect(allowed.status).toBe(200);
    expect(Object.fromEntries(allowed.headers)).toMatchObject({
      "access-control-allow-origin": APP_ORIGIN,
      "access-control-allow-methods": "POST",
      "access-control-allow-headers": "x-requested-with",
      "access-control-max-age": "600",
    });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    expect(posted.status).toBe(204);
    expect(posted.headers.get("access-control-allow-origin")).toBe(APP_ORIGIN);
    await store.delete(KEY);
  });
});

/** The structure of a value: every key path and the type at its end, so two events can be compared. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shapeOf);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shapeOf(inner)]));
  }
  return typeof value;
}
