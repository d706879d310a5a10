import { readFile } from "node:fs/promises";
import { crc32 } from "node:zlib";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { ALLOWED_IMAGE_TYPES } from "../../../origin/domain/constants";
import { InvalidImageError, prepareImage } from "../../../origin/domain/images";
import { stripGif, stripJpeg, stripPng, stripWebp } from "../../../origin/domain/metadataStripping";
import { png } from "../../support/images";
import { animatedGif, hasGpsIfd, leakedText, MEADOW_PATH, phonePhoto, pngBomb } from "../../support/photos";

const POLICY = { maxPixels: 100_000_000, stripMetadata: true } as const;
const type = (mime: string) => ALLOWED_IMAGE_TYPES[mime] as (typeof ALLOWED_IMAGE_TYPES)[string];
const EXIF = { IFD0: { Artist: "Alice Example-Owner", Make: "PhoneMaker Model-X" } };
const XMP =
  '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>xmp-creator-alice</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>';

/** The chunks of a RIFF (WebP) or PNG container, by type, in order. */
function pngChunks(bytes: Uint8Array): { type: string; data: Buffer }[] {
  const buffer = Buffer.from(bytes);
  const chunks: { type: string; data: Buffer }[] = [];
  for (let at = 8; at + 12 <= buffer.length; ) {
    const length = buffer.readUInt32BE(at);
    chunks.push({
      type: buffer.toString("latin1", at + 4, at + 8),
      data: buffer.subarray(at + 8, at + 8 + length),
    });
    at += 12 + length;
  }
  return chunks;
}

function webpChunks(bytes: Uint8Array): { type: string; data: Buffer }[] {
  const buffer = Buffer.from(bytes);
  const chunks: { type: string; data: Buffer }[] = [];
  for (let at = 12; at + 8 <= buffer.length; ) {
    const size = buffer.readUInt32LE(at + 4);
    chunks.push({
      type: buffer.toString("latin1", at, at + 4),
      data: buffer.subarray(at + 8, at + 8 + size),
    });
    at += 8 + size + (size % 2);
  }
  return chunks;
}

/** Everything of a JPEG from its first SOS marker on: the compressed image itself. */
function scanData(bytes: Uint8Array): Buffer {
  const buffer = Buffer.from(bytes);
  return buffer.subarray(buffer.indexOf(Buffer.from([0xff, 0xda])));
}

describe("prepareImage", () => {
  it("removes a JPEG's EXIF, XMP and IPTC without recompressing it, keeping its ICC profile", async () => {
    // Prepare: an upright photo with all three and a Display P3 profile
    const photo = await sharp(MEADOW_PATH).withIccProfile("p3").withExif(EXIF).withXmp(XMP).jpeg().toBuffer();

    // Act
    const prepared = await prepareImage(photo, type("image/jpeg"), POLICY);

    // Assess
    const metadata = await sharp(prepared.bytes).metadata();
    expect([metadata.exif, metadata.xmp, metadata.iptc]).toEqual([undefined, undefined, undefined]);
    expect(metadata.icc).toEqual((await sharp(photo).metadata()).icc);
    expect(scanData(prepared.bytes).equals(scanData(photo))).toBe(true);
    expect(leakedText(prepared.bytes)).toEqual([]);
    expect([prepared.width, prepared.height]).toEqual([480, 384]);
  });

  it("re-encodes a JPEG whose orientation is not upright, turning its pixels, GPS and all gone", async () => {
    // Prepare
    const photo = await phonePhoto();
    expect(hasGpsIfd((await sharp(photo).metadata()).exif)).toBe(true);

    // Act
    const prepared = await prepareImage(photo, type("image/jpeg"), POLICY);

    // Assess
    const metadata = await sharp(prepared.bytes).metadata();
    expect([metadata.width, metadata.height, metadata.orientation]).toEqual([480, 384, undefined]);
    expect([metadata.exif, metadata.xmp, metadata.iptc]).toEqual([undefined, undefined, undefined]);
    expect(metadata.icc).toBeDefined();
    expect(leakedText(prepared.bytes)).toEqual([]);
  });

  it("drops a PNG's eXIf and text chunks, keeping every pixel chunk and the ICC profile byte for byte", async () => {
    // Prepare
    const photo = await sharp(MEADOW_PATH).resize(64).withIccProfile("p3").withExif(EXIF).png().toBuffer();
    const text = pngChunk("tEXt", Buffer.from("Author\0alice-png-author"));
    const withText = Buffer.concat([photo.subarray(0, 33), text, photo.subarray(33)]);
    const before = pngChunks(withText);
    expect(before.map((chunk) => chunk.type)).toEqual(expect.arrayContaining(["eXIf", "tEXt", "iCCP"]));

    // Act
    const prepared = await prepareImage(withText, type("image/png"), POLICY);

    // Assess
    const after = pngChunks(prepared.bytes);
    expect(after.map((chunk) => chunk.type)).not.toContain("eXIf");
    expect(after.map((chunk) => chunk.type)).not.toContain("tEXt");
    expect(after).toEqual(before.filter((chunk) => !["eXIf", "tEXt", "zTXt", "iTXt"].includes(chunk.type)));
    expect(Buffer.from(prepared.bytes).toString("latin1")).not.toContain("alice");
  });

  it("drops a WebP's EXIF and XMP chunks and their VP8X flags, the image data untouched", async () => {
    // Prepare
    const photo = await sharp(MEADOW_PATH)
      .resize(64)
      .withIccProfile("p3")
      .withExif(EXIF)
      .withXmp(XMP)
      .webp()
      .toBuffer();
    const before = webpChunks(photo);
    expect(before.map((chunk) => chunk.type)).toEqual(expect.arrayContaining(["EXIF", "XMP ", "ICCP"]));

    // Act
    const prepared = await prepareImage(photo, type("image/webp"), POLICY);

    // Assess
    const after = webpChunks(prepared.bytes);
    expect(after.map((chunk) => chunk.type)).toEqual(["VP8X", "ICCP", "VP8 "]);
    expect(after[2]?.data.equals(before.find((chunk) => chunk.type === "VP8 ")?.data as Buffer)).toBe(true);
    expect((after[0]?.data[0] as number) & 0x0c).toBe(0);
    const metadata = await sharp(prepared.bytes).metadata();
    expect([metadata.exif, metadata.xmp, metadata.icc === undefined]).toEqual([undefined, undefined, false]);
    expect(Buffer.from(prepared.bytes).readUInt32LE(4)).toBe(prepared.bytes.byteLength - 8);
  });

  it("drops a GIF's comments and XMP application extension, keeping its frames and looping", async () => {
    // Prepare: a comment extension and an XMP application extension after the header
    const gif = Buffer.from(await animatedGif(20, 10, 3));
    const comment = Buffer.concat([
      Buffer.from([0x21, 0xfe, 11]),
      Buffer.from("alice-gifs!"),
      Buffer.from([0]),
    ]);
    const xmp = Buffer.concat([
      Buffer.from([0x21, 0xff, 11]),
      Buffer.from("XMP DataXMP"),
      Buffer.from([16]),
      Buffer.from("xmp-creator-gif!"),
      Buffer.from([0]),
    ]);
    const tableEnd = 13 + 3 * 2 ** (((gif[10] as number) & 7) + 1);
    const marked = Buffer.concat([gif.subarray(0, tableEnd), comment, xmp, gif.subarray(tableEnd)]);

    // Act
    const prepared = await prepareImage(marked, type("image/gif"), POLICY);

    // Assess
    expect(Buffer.from(prepared.bytes).equals(gif)).toBe(true);
    expect((await sharp(prepared.bytes, { animated: true }).metadata()).pages).toBe(3);
  });

  it("re-encodes an AVIF carrying EXIF, and leaves one without metadata as it is", async () => {
    // Prepare
    const tagged = await sharp(MEADOW_PATH).resize(64).withExif(EXIF).avif({ quality: 60 }).toBuffer();
    const clean = await sharp(MEADOW_PATH).resize(64).avif({ quality: 60 }).toBuffer();

    // Act
    const fromTagged = await prepareImage(tagged, type("image/avif"), POLICY);
    const fromClean = await prepareImage(clean, type("image/avif"), POLICY);

    // Assess
    expect((await sharp(fromTagged.bytes).metadata()).exif).toBeUndefined();
    expect(leakedText(fromTagged.bytes)).toEqual([]);
    expect(Buffer.from(fromClean.bytes).equals(clean)).toBe(true);
  });

  it("keeps every byte with stripping turned off, and still reports the displayed size", async () => {
    // Prepare
    const photo = await phonePhoto();

    // Act
    const prepared = await prepareImage(photo, type("image/jpeg"), { ...POLICY, stripMetadata: false });

    // Assess: stored as sent (orientation 6), measured as displayed
    expect(Buffer.from(prepared.bytes).equals(Buffer.from(photo))).toBe(true);
    expect([prepared.width, prepared.height]).toEqual([480, 384]);
  });

  it("refuses a header claiming more pixels than allowed without decoding anything", async () => {
    // Act
    const started = performance.now();
    const refusal = prepareImage(pngBomb(30_000), type("image/png"), POLICY);

    // Assess
    await expect(refusal).rejects.toThrow(InvalidImageError);
    await expect(refusal).rejects.toThrow(/at most 100000000 pixels; this one has 900000000/);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("counts every frame of an animation against the pixel limit", async () => {
    await expect(
      prepareImage(await animatedGif(20, 10, 3), type("image/gif"), { ...POLICY, maxPixels: 599 }),
    ).rejects.toThrow(/this one has 600/);
  });

  it.each([
    ["a JPEG cut short", async () => (await readFile(MEADOW_PATH)).subarray(0, 9000), "image/jpeg"],
    [
      "PNG bytes under a JPEG type",
      async () => png({ width: 2, height: 2, rgb: new Uint8Array(12) }),
      "image/jpeg",
    ],
    ["a PNG whose IDAT is garbage", async () => pngWithGarbage(), "image/png"],
    [
      "a 25-megapixel PNG cut short (decoded streaming, not in memory)",
      async () => largePngCutShort(),
      "image/png",
    ],
  ])("refuses %s with invalid_image", async (_case, bytes, mime) => {
    const refusal = prepareImage(await bytes(), type(mime), POLICY);
    await expect(refusal).rejects.toThrow(InvalidImageError);
    await expect(refusal).rejects.toMatchObject({ status: 422, code: "invalid_image" });
  });
});

describe("stripJpeg", () => {
  it("drops everything after EOI: a phone's MPF second image carries its own EXIF", async () => {
    // Prepare
    const photo = await readFile(MEADOW_PATH);
    const trailer = Buffer.concat([
      Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0x00, 0x08]),
      Buffer.from("Exif\0\0"),
    ]);

    // Act
    const stripped = stripJpeg(Buffer.concat([photo, trailer]));

    // Assess
    expect(Buffer.from(stripped).subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
    expect(Buffer.from(stripped).includes(Buffer.from("Exif"))).toBe(false);
  });
});

describe("the metadata strippers", () => {
  const small = () => sharp(MEADOW_PATH).resize(64);
  /** Each container, clean and carrying the text `SECRET` (XMP; a comment extension in a GIF). */
  const formats = [
    ["JPEG", stripJpeg, () => small().jpeg().toBuffer(), () => small().withXmp(XMP).jpeg().toBuffer()],
    ["PNG", stripPng, () => small().png().toBuffer(), () => small().withXmp(XMP).png().toBuffer()],
    ["WebP", stripWebp, () => small().webp().toBuffer(), () => small().withXmp(XMP).webp().toBuffer()],
    [
      "GIF",
      stripGif,
      () => small().gif().toBuffer(),
      async () => gifWithComment(await small().gif().toBuffer()),
    ],
  ] as const;
  const SECRET = "xmp-creator-alice";

  it.each(formats)(
    "give back a %s with nothing to remove as it came, the very same array",
    async (_, strip, clean) => {
      // Prepare
      const bytes = await clean();

      // Act
      const stripped = strip(bytes);

      // Assess
      expect(stripped).toBe(bytes);
    },
  );

  it.each(formats)(
    "give back a new %s, the input untouched, when they removed something",
    async (_, strip, __, tagged) => {
      // Prepare
      const bytes = await tagged();
      const before = Buffer.from(bytes);

      // Act
      const stripped = strip(bytes);

      // Assess
      expect(stripped).not.toBe(bytes);
      expect(stripped.byteLength).toBeLessThan(bytes.byteLength);
      expect(Buffer.from(stripped).includes(Buffer.from(SECRET))).toBe(false);
      expect(bytes).toEqual(before);
    },
  );

  /** `gif` with a comment extension holding the secret, right after its colour table. */
  function gifWithComment(gif: Buffer): Buffer {
    const comment = Buffer.concat([
      Buffer.from([0x21, 0xfe, SECRET.length]),
      Buffer.from(SECRET),
      Buffer.from([0]),
    ]);
    const tableEnd = 13 + ((gif[10] as number) & 0x80 ? 3 * 2 ** (((gif[10] as number) & 7) + 1) : 0);
    return Buffer.concat([gif.subarray(0, tableEnd), comment, gif.subarray(tableEnd)]);
  }
});

/** One PNG chunk: length, type, data, CRC. */
function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function pngWithGarbage(): Uint8Array {
  const bytes = Buffer.from(png({ width: 8, height: 8, rgb: new Uint8Array(192) }));
  // Overwrite the zlib stream inside IDAT (its CRC stays wrong too): the header still parses.
  bytes.fill(0x55, 41, 60);
  return bytes;
}

/** A 5000 × 5000 PNG (above the in-memory decode bound) missing its last bytes. */
async function largePngCutShort(): Promise<Uint8Array> {
  const whole = await sharp({ create: { width: 5000, height: 5000, channels: 3, background: "#808080" } })
    .png()
    .toBuffer();
  return whole.subarray(0, Math.floor(whole.byteLength / 2));
}
