import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { S3Event } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { close, listen } from "../../../../infra/local/gateway/listen";
import { LOCAL_S3_CREDENTIALS, type LocalS3, startLocalS3 } from "../../../../infra/local/storage/s3Server";
import { LocalUploadEndpoint } from "../../../../infra/local/storage/uploadEndpoint";
import { S3UploadSigner } from "../../../../origin/adapters/S3UploadSigner";
import { type Bytes, pngBytes } from "../../../support/images";

const APP_ORIGIN = "https://notes.example.com";
const KEY = "incoming/j/entries/e/images/5b0e6c1d-3a2f-4e8b-9c7d-1f2e3d4c5b6a";

describe("the local gateway's presigned-POST door", () => {
  let directory: string;
  let s3: LocalS3;
  let server: Server;
  let url: string;
  let signer: S3UploadSigner;
  let now = Date.now();
  const events: S3Event[] = [];

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "upload-endpoint-"));
    s3 = await startLocalS3({ directory, bucket: "door-test" });
    s3.onEvent((event) => events.push(event));
    const door = new LocalUploadEndpoint({
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      credentials: LOCAL_S3_CREDENTIALS,
      corsAllowedOrigins: [APP_ORIGIN],
      now: () => now,
    });
    server = createServer((request, response) => {
      door.serve(request, response).catch(() => response.destroy());
    });
    url = `http://127.0.0.1:${await listen(server, 0)}${door.path}`;
    signer = new S3UploadSigner(s3.client, s3.bucket, door.path);
  });

  afterAll(async () => {
    await close(server);
    await s3?.close();
    await rm(directory, { recursive: true, force: true });
  });

  beforeEach(() => {
    now = Date.now();
    events.length = 0;
  });

  async function signedFields(): Promise<Record<string, string>> {
    return { ...(await signer.presignPost(KEY, { maxBytes: 1024 * 1024, expiresInSeconds: 900 })).fields };
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

  async function stored(): Promise<string[]> {
    const listing = await s3.client.send(
      new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "incoming/" }),
    );
    return (listing.Contents ?? []).map((object) => object.Key as string);
  }

  async function refusal(response: Response): Promise<{ status: number; code: string; message: string }> {
    const text = await response.text();
    return {
      status: response.status,
      code: /<Code>(.*)<\/Code>/.exec(text)?.[1] ?? "",
      message: /<Message>(.*)<\/Message>/.exec(text)?.[1] ?? "",
    };
  }

  it("lets a form the gateway signed through to the bucket, streaming it, and S3 notifies the object", async () => {
    // Prepare
    const bytes = pngBytes(64, 64, 2);

    // Act
    const response = await post(await signedFields(), bytes);

    // Assess
    expect(response.status).toBe(204);
    expect(await stored()).toEqual([KEY]);
    expect(events.map((event) => event.Records[0]?.eventName)).toEqual(["ObjectCreated:Post"]);
    expect(events[0]?.Records[0]?.s3.object).toMatchObject({ key: KEY, size: bytes.byteLength });
  });

  it.each([
    ["another key", (fields: Record<string, string>) => ({ ...fields, key: "dev/j/entries/e/images/x" })],
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
        "X-Amz-Credential": (fields["X-Amz-Credential"] ?? "").replace("S3RVER", "AKIAOTHER"),
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
    expect(await stored()).not.toContain("dev/j/entries/e/images/x");
    expect(events).toEqual([]);
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
  });

  it("refuses a form without a file, and a body that is not a form", async () => {
    // Act
    const noFile = await refusal(await post(await signedFields(), null));
    const notForm = await refusal(
      await fetch(url, { method: "POST", body: "key=x", headers: { "content-type": "text/plain" } }),
    );

    // Assess
    expect(noFile).toMatchObject({ status: 400, code: "InvalidArgument" });
    expect(notForm).toMatchObject({ status: 412, code: "PreconditionFailed" });
  });

  it("answers only POST and preflights", async () => {
    // Act
    const response = await refusal(await fetch(url));

    // Assess
    expect(response).toMatchObject({ status: 405, code: "MethodNotAllowed" });
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
  });
});
