import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DemoUser } from "../../../../infra/local/gateway/localState";
import type { StorageCredentials } from "../../../../infra/local/storage/postPolicy";
import { S3UploadSigner } from "../../../../origin/adapters/S3UploadSigner";
import { demoUsers, type GatewayProcess, startGatewayProcess } from "../../../support/gatewayProcess";
import { type Bytes, noisyPng, pngBytes } from "../../../support/images";
import { type IssuedTicket, uploadForm } from "../../../support/origin";

/**
 * The upload door's findings of the attacker's probe (issue 11: 1, 2, 3 and 6), each tried again against
 * `npm start` over real HTTP, and each now refused as S3 refuses it, with nothing written anywhere.
 */

const BUCKET = "image-gateway-local";
let dataDir: string;
let gateway: GatewayProcess;
let alice: DemoUser;
let bob: DemoUser;
let victim: { id: string; url: string; sha256: string };
let victimBytes: Bytes;

const aliceEntry = "/journals/alice-travel/entries/lisbon-2026";
const bobEntry = "/journals/bob-kitchen/entries/sourdough";
const formUrl = () => `${gateway.url}/_local/s3/${BUCKET}`;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "door-findings-"));
  gateway = await startGatewayProcess({ DATA_DIR: dataDir });
  [alice, bob] = (await demoUsers(dataDir)) as [DemoUser, DemoUser];
  victimBytes = pngBytes(16, 16, 11);
  const uploaded = await fetch(`${gateway.url}/api${aliceEntry}/images`, {
    method: "POST",
    headers: { authorization: alice.authorization },
    body: uploadForm(victimBytes),
  });
  victim = (await uploaded.json()) as typeof victim;
}, 40_000);

afterAll(async () => {
  gateway?.child.kill("SIGTERM");
  await gateway?.exited();
  await rm(dataDir, { recursive: true, force: true });
});

/** A form signed with `credentials` for `key`, as anyone holding them could sign one. */
async function signed(credentials: StorageCredentials, key: string, maxBytes = 1024 * 1024) {
  const client = new S3Client({
    region: "us-east-1",
    credentials,
    endpoint: "http://127.0.0.1",
    forcePathStyle: true,
  });
  return (await new S3UploadSigner(client, BUCKET).presignPost(key, { maxBytes, expiresInSeconds: 900 }))
    .fields;
}

async function ticket(as: DemoUser, entry: string, size: number): Promise<IssuedTicket> {
  const response = await fetch(`${gateway.url}/api${entry}/uploads`, {
    method: "POST",
    headers: { authorization: as.authorization, "content-type": "application/json" },
    body: JSON.stringify({ name: "probe", size }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as IssuedTicket;
}

async function postFields(
  fields: Record<string, string>,
  bytes: Bytes,
): Promise<{ status: number; code: string }> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new File([bytes], "photo.png"));
  const response = await fetch(formUrl(), { method: "POST", body: form });
  return { status: response.status, code: /<Code>(.*)<\/Code>/.exec(await response.text())?.[1] ?? "" };
}

async function postRaw(
  body: Uint8Array<ArrayBuffer>,
  contentType: string,
): Promise<{ status: number; code: string }> {
  const response = await fetch(formUrl(), { method: "POST", body, headers: { "content-type": contentType } });
  return { status: response.status, code: /<Code>(.*)<\/Code>/.exec(await response.text())?.[1] ?? "" };
}

/** A multipart body written by hand, with `keyHeader` as the `key` part's Content-Disposition. */
function handMade(fields: Record<string, string>, bytes: Bytes, boundary: string, keyHeader?: string) {
  const parts = Object.entries(fields).map(([name, value]) => {
    const disposition = name === "key" && keyHeader ? keyHeader : `form-data; name="${name}"`;
    return `--${boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n${value}\r\n`;
  });
  return new Uint8Array(
    Buffer.concat([
      Buffer.from(parts.join("")),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\n\r\n`),
      Buffer.from(bytes),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
  );
}

/** The victim's image still reads back as its own bytes. */
async function expectVictimIntact(): Promise<void> {
  const { token } = (await (
    await fetch(`${gateway.url}/api${aliceEntry}/access`, {
      method: "POST",
      headers: { authorization: alice.authorization },
    })
  ).json()) as { token: string };
  const read = await fetch(`${gateway.url}${victim.url}?token=${token}`);
  expect(read.status).toBe(200);
  expect(Buffer.compare(Buffer.from(await read.arrayBuffer()), victimBytes)).toBe(0);
}

/** Every file under the store's staging prefix. */
async function staged(): Promise<string[]> {
  return (await readdir(join(dataDir, "objects/incoming"), { recursive: true }).catch(() => [])).filter(
    (name) => !name.split("/").at(-1)?.startsWith(".") && name.split("/").length === 5,
  );
}

describe("finding 1: a form signed by anyone", () => {
  it("cannot write over another user's image, with s3rver's public default credentials or a guessed secret", async () => {
    // Prepare: the victim's own object key, signed as the probe signed it
    const key = `dev${victim.url.slice("/journals".length)}`;
    const ours = JSON.parse(
      await readFile(join(dataDir, "storage-credentials.json"), "utf8"),
    ) as StorageCredentials;

    // Act
    const byDefault = await postFields(
      await signed({ accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }, key),
      noisyPng(4096),
    );
    const byGuess = await postFields(
      await signed({ accessKeyId: ours.accessKeyId, secretAccessKey: "guessed".repeat(6) }, key),
      noisyPng(4096),
    );

    // Assess
    expect(byDefault).toEqual({ status: 403, code: "InvalidAccessKeyId" });
    expect(byGuess).toEqual({ status: 403, code: "SignatureDoesNotMatch" });
    await expectVictimIntact();
    expect((await stat(join(dataDir, "storage-credentials.json"))).mode & 0o777).toBe(0o600);
    expect(gateway.output()).not.toContain(ours.secretAccessKey);
  });
});

describe("finding 2: one form read two ways", () => {
  it("refuses a part header with two names, and a Content-Type with two boundaries, writing nothing", async () => {
    // Prepare: Bob's real ticket, and Alice's staging key smuggled beside his
    const bobs = await ticket(bob, bobEntry, 4096);
    const aliceKey = `incoming${aliceEntry.slice("/journals".length)}/images/${victim.id}`;
    const bytes = noisyPng(2048);
    const twoNames = handMade(
      { ...bobs.upload.fields, key: bobs.upload.fields.key ?? "" },
      bytes,
      "probe-boundary",
      `form-data; name="key"; name="x-ignore-${aliceKey}"`,
    );
    const twoBoundaries = handMade(bobs.upload.fields, bytes, "second");

    // Act
    const names = await postRaw(twoNames, "multipart/form-data; boundary=probe-boundary");
    const boundaries = await postRaw(twoBoundaries, "multipart/form-data; boundary=first; boundary=second");

    // Assess
    expect(names).toEqual({ status: 400, code: "MalformedPOSTRequest" });
    expect(boundaries).toEqual({ status: 400, code: "MalformedPOSTRequest" });
    expect(await staged()).toEqual([]);
    await expectVictimIntact();
  });
});

describe("finding 3: a key with ../ segments", () => {
  it("is refused before any path is built, even signed with the door's own secret, and nothing lands outside DATA_DIR", async () => {
    // Prepare: the insider's case, the real credentials; the probe's keys climbing out of the store
    const ours = JSON.parse(
      await readFile(join(dataDir, "storage-credentials.json"), "utf8"),
    ) as StorageCredentials;
    const outside = dirname(dataDir);
    const before = (await readdir(outside)).sort();
    const keys = [
      "incoming/../../../escaped-by-probe",
      "incoming/j/entries/e/images/../../../../../escaped-by-probe",
    ];

    // Act
    const answers = [];
    for (const key of keys) answers.push(await postFields(await signed(ours, key), noisyPng(1024)));

    // Assess
    for (const answer of answers) expect(answer).toEqual({ status: 403, code: "AccessDenied" });
    expect((await readdir(outside)).sort()).toEqual(before);
    expect((await readdir(dataDir)).filter((name) => name.includes("escaped"))).toEqual([]);
  });
});

describe("finding 6: the size the policy and the ticket allow", () => {
  it("refuses a file above the maximum, an empty file, and a file above the size its ticket declared", async () => {
    // Prepare: three real tickets of Alice's
    const five = await ticket(alice, aliceEntry, 5 * 1024 * 1024);
    const small = await ticket(alice, aliceEntry, 1024);
    const declaredTen = await ticket(alice, aliceEntry, 10);

    // Act
    const oversize = await postFields(five.upload.fields, noisyPng(25 * 1024 * 1024));
    const empty = await postFields(small.upload.fields, new Uint8Array());
    const aboveDeclared = await postFields(declaredTen.upload.fields, noisyPng(3 * 1024 * 1024));

    // Assess: S3's answers, nothing staged, every ticket still waiting for its file
    expect(oversize).toEqual({ status: 400, code: "EntityTooLarge" });
    expect(empty).toEqual({ status: 400, code: "EntityTooSmall" });
    expect(aboveDeclared).toEqual({ status: 400, code: "EntityTooLarge" });
    expect(await staged()).toEqual([]);
    for (const { id } of [five, small, declaredTen]) {
      const status = await fetch(`${gateway.url}/api${aliceEntry}/uploads/${id}`, {
        headers: { authorization: alice.authorization },
      });
      expect(await status.json()).toMatchObject({ status: "pending" });
    }
  }, 30_000);
});
