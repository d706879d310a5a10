import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGE_CONTENT_SECURITY_POLICY } from "../../../contract/responseHeaders";
import { type LocalGateway, startLocalGateway } from "../../../infra/local/gateway/LocalGateway";
import { createLocalOrigin } from "../../../infra/local/gateway/localOrigin";
import type { DemoUser } from "../../../infra/local/gateway/localState";
import type { ImageRecord } from "../../../origin/domain/ports";
import type { Bytes } from "../../support/images";
import { uploadForm } from "../../support/origin";
import {
  animatedGif,
  hasGpsIfd,
  leakedText,
  MEADOW_PATH,
  MEADOW_SIZE,
  phonePhoto,
  pngBomb,
} from "../../support/photos";

/** What Chromium sends for an `<img>`. */
const CHROMIUM_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
const WEBP_ONLY = "image/webp,*/*";

let dataDir: string;
let gateway: LocalGateway;
let alice: DemoUser;
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "variants-"));
  gateway = await startLocalGateway({
    env: { DATA_DIR: dataDir, TOKEN_TTL_SECONDS: "300" },
    createOrigin: createLocalOrigin,
    port: 0,
    log: (entry) => logs.push({ ...entry }),
  });
  [alice] = gateway.demoUsers as [DemoUser];
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const journal = () => alice.journals[0]?.id as string;
const entry = (index = 0) => alice.journals[0]?.entries[index]?.id as string;
const entryPath = (index = 0) => `/journals/${journal()}/entries/${entry(index)}`;

async function upload(bytes: Bytes, filename = "photo.jpg", index = 0): Promise<Response> {
  return fetch(`${gateway.url}/api${entryPath(index)}/images`, {
    method: "POST",
    headers: { authorization: alice.authorization },
    body: uploadForm(bytes, { filename }),
  });
}

async function uploaded(bytes: Bytes, filename?: string): Promise<ImageRecord> {
  const response = await upload(bytes, filename);
  expect(response.status).toBe(201);
  return (await response.json()) as ImageRecord;
}

async function token(index = 0): Promise<string> {
  const response = await fetch(`${gateway.url}/api${entryPath(index)}/access`, {
    method: "POST",
    headers: { authorization: alice.authorization },
  });
  return ((await response.json()) as { token: string }).token;
}

/** Reads an image URL with Alice's credential (unless `headers` bring another) and `query`. */
async function read(record: ImageRecord, query: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${gateway.url}${record.url}${query ? `?${query}` : ""}`, {
    headers: { authorization: alice.authorization, ...headers },
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { response, bytes };
}

function generations(): number {
  return logs.filter((entry) => entry.event === "variant_generated").length;
}

/** Every object key in the gateway's store that starts with `prefix`. */
async function storedKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of gateway.storage.images.list(prefix)) keys.push(object.key);
  return keys;
}

describe("variants over HTTP against the local gateway", () => {
  let meadow: ImageRecord;

  beforeAll(async () => {
    meadow = await uploaded(new Uint8Array(await readFile(MEADOW_PATH)), "meadow.jpg");
  });

  it("answers the format the viewer's Accept names: AVIF, else WebP, else the original's", async () => {
    const avif = await read(meadow, "w=320", { accept: CHROMIUM_ACCEPT });
    const webp = await read(meadow, "w=320", { accept: WEBP_ONLY });
    const plain = await read(meadow, "w=320", { accept: "*/*" });

    expect(avif.response.status).toBe(200);
    expect(avif.response.headers.get("content-type")).toBe("image/avif");
    expect((await sharp(avif.bytes).metadata()).format).toBe("heif");
    expect(webp.response.headers.get("content-type")).toBe("image/webp");
    expect((await sharp(webp.bytes).metadata()).format).toBe("webp");
    expect(plain.response.headers.get("content-type")).toBe("image/jpeg");
    expect((await sharp(plain.bytes).metadata()).format).toBe("jpeg");
    for (const { response } of [avif, webp, plain]) {
      expect(response.headers.get("vary")).toBe("Accept, Origin");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("content-security-policy")).toBe(IMAGE_CONTENT_SECURITY_POLICY);
      expect(response.headers.get("cache-control")).toBe("private, max-age=300");
    }
  });

  it("lets &format= fix the format whatever Accept says", async () => {
    const png = await read(meadow, "w=160&format=png", { accept: CHROMIUM_ACCEPT });
    const jpeg = await read(meadow, "format=jpeg&w=160", { accept: CHROMIUM_ACCEPT });

    expect(png.response.headers.get("content-type")).toBe("image/png");
    expect((await sharp(png.bytes).metadata()).format).toBe("png");
    expect(jpeg.response.headers.get("content-type")).toBe("image/jpeg");
  });

  it("resizes to the preset width, height in proportion, and normalizes leading zeros to the same object", async () => {
    const small = await read(meadow, "w=160", { accept: WEBP_ONLY });
    const padded = await read(meadow, "w=0160&v=2", { accept: WEBP_ONLY });

    const metadata = await sharp(small.bytes).metadata();
    expect([metadata.width, metadata.height]).toEqual([
      160,
      Math.round((160 * MEADOW_SIZE.height) / MEADOW_SIZE.width),
    ]);
    expect(padded.response.status).toBe(200);
    expect(Buffer.from(padded.bytes).equals(Buffer.from(small.bytes))).toBe(true);
  });

  it("never upscales: a preset at or above the original's width gives the original's size", async () => {
    for (const width of [640, 1920]) {
      const { response, bytes } = await read(meadow, `w=${width}`, { accept: WEBP_ONLY });
      expect(response.status).toBe(200);
      const metadata = await sharp(bytes).metadata();
      expect([metadata.width, metadata.height]).toEqual([MEADOW_SIZE.width, MEADOW_SIZE.height]);
    }
  });

  it.each([
    ["a width not offered", "w=333"],
    ["a width of zero", "w=0"],
    ["a width that is not a number", "w=abc"],
    ["two widths", "w=320&w=640"],
    ["a format not offered", "w=320&format=gif"],
    ["a format without a width", "format=webp"],
  ])("refuses %s with 400 invalid_variant naming the widths", async (_case, query) => {
    const { response, bytes } = await read(meadow, query);

    expect(response.status).toBe(400);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = JSON.parse(Buffer.from(bytes).toString()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("invalid_variant");
    expect(body.error.message).toContain("160, 320, 640, 1280, 1920");
  });

  it("opens variants with the image's access token and cookie; another entry's token opens none", async () => {
    const own = await token(0);
    const other = await token(1);

    const byToken = await fetch(`${gateway.url}${meadow.url}?w=320&token=${own}`);
    const byCookie = await fetch(`${gateway.url}${meadow.url}?w=320`, {
      headers: { cookie: `image_token=${own}` },
    });
    const refused = await fetch(`${gateway.url}${meadow.url}?w=320&token=${other}`);
    const anonymous = await fetch(`${gateway.url}${meadow.url}?w=320`);

    expect(byToken.status).toBe(200);
    expect(byCookie.status).toBe(200);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("forbidden");
    expect(anonymous.status).toBe(401);
  });

  it("makes a variant once: a second read is the CDN's cached copy, with no generation", async () => {
    // Prepare
    const record = await uploaded(
      new Uint8Array(await sharp(MEADOW_PATH).flop().jpeg().toBuffer()),
      "flop.jpg",
    );
    const before = generations();

    // Act
    const first = await read(record, "w=640", { accept: CHROMIUM_ACCEPT });
    const afterFirst = generations();
    const second = await read(record, "w=640", { accept: CHROMIUM_ACCEPT });

    // Assess: generated on the played CloudFront's miss, then a hit of its cache
    expect(afterFirst - before).toBe(1);
    expect(generations()).toBe(afterFirst);
    expect(first.response.headers.get("x-cache")).toBe("Miss from cloudfront");
    expect(second.response.headers.get("x-cache")).toBe("Hit from cloudfront");
    expect(Buffer.from(second.bytes).equals(Buffer.from(first.bytes))).toBe(true);
    expect(second.response.headers.get("etag")).toBeTruthy();
    expect(await storedKeys(imageKey(record))).toContain(`${imageKey(record)}.w640.avif`);
  });

  it("gives viewers racing for the same new variant one whole object, made once", async () => {
    // Prepare
    const record = await uploaded(
      new Uint8Array(await sharp(MEADOW_PATH).negate().jpeg().toBuffer()),
      "negate.jpg",
    );
    const before = generations();

    // Act
    const reads = await Promise.all(
      Array.from({ length: 6 }, () => read(record, "w=320", { accept: WEBP_ONLY })),
    );

    // Assess: CloudFront (played) collapses the misses into one trip to the origin group
    expect(reads.map(({ response }) => response.status)).toEqual([200, 200, 200, 200, 200, 200]);
    for (const { bytes } of reads)
      expect(Buffer.from(bytes).equals(Buffer.from(reads[0]?.bytes ?? []))).toBe(true);
    expect((await sharp(reads[0]?.bytes).metadata()).width).toBe(320);
    expect(generations() - before).toBe(1);
  });

  it("keeps an animated GIF animated, every frame resized", async () => {
    // Prepare
    const record = await uploaded(await animatedGif(400, 300, 3), "animated.gif");

    // Act
    const asWebp = await read(record, "w=160", { accept: CHROMIUM_ACCEPT });
    const asGif = await read(record, "w=160", { accept: "*/*" });

    // Assess: AVIF is still-only in sharp, so an AVIF-accepting viewer gets animated WebP
    expect(asWebp.response.headers.get("content-type")).toBe("image/webp");
    expect(asGif.response.headers.get("content-type")).toBe("image/gif");
    for (const { bytes } of [asWebp, asGif]) {
      const metadata = await sharp(bytes, { animated: true }).metadata();
      expect(metadata.pages).toBe(3);
      expect(metadata.width).toBe(160);
      expect(metadata.pageHeight ?? metadata.height).toBe(120);
    }
  });

  it("answers 404 not_found for every variant of a deleted image, and removes the stored variants", async () => {
    // Prepare: a variant made and stored
    const record = await uploaded(
      new Uint8Array(await sharp(MEADOW_PATH).flip().jpeg().toBuffer()),
      "flip.jpg",
    );
    expect((await read(record, "w=320", { accept: WEBP_ONLY })).response.status).toBe(200);
    expect((await storedKeys(imageKey(record))).length).toBe(2);

    // Act
    const deleted = await fetch(`${gateway.url}/api${entryPath()}/images/${record.id}`, {
      method: "DELETE",
      headers: { authorization: alice.authorization },
    });

    // Assess
    expect(deleted.status).toBe(204);
    expect(await storedKeys(imageKey(record))).toEqual([]);
    for (const query of ["w=320", "w=640", ""]) {
      const { response, bytes } = await read(record, query, { accept: WEBP_ONLY });
      expect(response.status).toBe(404);
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(JSON.parse(Buffer.from(bytes).toString())).toEqual({
        error: { code: "not_found", message: "No such image." },
      });
    }
    expect(await storedKeys(imageKey(record))).toEqual([]);
  });
});

describe("privacy of image bytes over HTTP against the local gateway", () => {
  it("serves a phone photo without GPS, owner, XMP or IPTC, turned upright, its ICC profile kept", async () => {
    // Prepare
    const photo = await phonePhoto();
    const original = await sharp(photo).metadata();
    expect([original.exif, original.xmp, original.iptc, original.icc].every(Boolean)).toBe(true);
    expect(original.orientation).toBe(6);
    expect(hasGpsIfd(original.exif)).toBe(true);
    expect(leakedText(photo)).toHaveLength(4);

    // Act
    const record = await uploaded(photo, "phone.jpg");
    const served = await read(record, "");
    const variant = await read(record, "w=320", { accept: CHROMIUM_ACCEPT });

    // Assess
    expect([record.width, record.height]).toEqual([MEADOW_SIZE.width, MEADOW_SIZE.height]);
    expect(record.size).toBe(served.bytes.byteLength);
    for (const { bytes } of [served, variant]) {
      const metadata = await sharp(bytes).metadata();
      expect(metadata.exif).toBeUndefined();
      expect(metadata.xmp).toBeUndefined();
      expect(metadata.iptc).toBeUndefined();
      expect(metadata.orientation).toBeUndefined();
      expect(metadata.icc).toBeDefined();
      expect(leakedText(bytes)).toEqual([]);
    }
    const servedMetadata = await sharp(served.bytes).metadata();
    expect([servedMetadata.width, servedMetadata.height]).toEqual([MEADOW_SIZE.width, MEADOW_SIZE.height]);
    // The red mark sits top left as displayed: the pixels were turned, not just the tag dropped.
    const [red, green, blue] = await sharp(served.bytes)
      .extract({ left: 8, top: 8, width: 1, height: 1 })
      .raw()
      .toBuffer();
    expect(red).toBeGreaterThan(200);
    expect(green).toBeLessThan(60);
    expect(blue).toBeLessThan(60);
  });

  it("refuses a decompression bomb from its header with 422 invalid_image, and stores nothing", async () => {
    // Prepare: 30,000 × 30,000 claimed, under 200 bytes sent
    const bomb = pngBomb(30_000);
    expect(bomb.byteLength).toBeLessThan(200);
    const listing = async () =>
      (await (
        await fetch(`${gateway.url}/api${entryPath(1)}/images`, {
          headers: { authorization: alice.authorization },
        })
      ).json()) as { images: ImageRecord[] };
    const before = (await listing()).images.length;
    const started = performance.now();

    // Act
    const response = await upload(bomb, "bomb.png", 1);

    // Assess
    expect(performance.now() - started).toBeLessThan(2000);
    expect(response.status).toBe(422);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_image");
    expect((await listing()).images.length).toBe(before);
    expect(await storedKeys(`dev/${journal()}/entries/${entry(1)}/`)).toEqual([]);
  });

  it("refuses a file whose magic bytes claim JPEG but that does not decode, with 422", async () => {
    const photo = new Uint8Array(await readFile(MEADOW_PATH));
    const cut = photo.slice(0, Math.floor(photo.byteLength / 3));

    const response = await upload(cut, "cut.jpg", 1);

    expect(response.status).toBe(422);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_image");
  });
});

/** The object key of a record's original under the local gateway's default prefix. */
function imageKey(record: ImageRecord): string {
  return `dev${record.url.slice("/journals".length)}`;
}
