import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import sharp from "sharp";
import { type Bytes, png } from "./images";

/** A real photograph (Debian's mate-backgrounds, GreenMeadow.jpg) resized to 480 × 384: a small fixture. */
export const MEADOW_PATH = join(import.meta.dirname, "../fixtures/meadow-480.jpg");
export const MEADOW_SIZE = { width: 480, height: 384 } as const;
/** The corner a phone photo is marked in (top left, as displayed), and its colour. */
export const MARK = { size: 48, rgb: [255, 0, 0] } as const;

/** What a phone writes into a photo and the gateway must never serve. */
export const PRIVATE_TEXT = {
  owner: "Alice Example-Owner",
  camera: "PhoneMaker Model-X",
  xmpCreator: "xmp-creator-alice",
  iptcByline: "iptc-byline-alice",
} as const;

/**
 * A photo as a phone stores it: the meadow with a red mark in its top-left corner as displayed, its
 * pixels turned a quarter counter-clockwise with EXIF orientation 6 saying to turn them back, GPS
 * coordinates, the owner's name (Artist, Copyright), the camera, an XMP packet, an IPTC by-line in a
 * Photoshop APP13 segment, and a Display P3 ICC profile.
 */
export async function phonePhoto(): Promise<Bytes> {
  const mark = await sharp({
    create: { width: MARK.size, height: MARK.size, channels: 3, background: { r: 255, g: 0, b: 0 } },
  })
    .png()
    .toBuffer();
  const upright = await sharp(await readFile(MEADOW_PATH))
    .composite([{ input: mark, left: 0, top: 0 }])
    .toBuffer();
  const stored = await sharp(upright)
    .rotate(270)
    .withIccProfile("p3")
    .withExif({
      IFD0: {
        Orientation: "6",
        Artist: PRIVATE_TEXT.owner,
        Copyright: PRIVATE_TEXT.owner,
        Make: PRIVATE_TEXT.camera,
      },
      IFD3: {
        GPSLatitudeRef: "N",
        GPSLatitude: "38/1 42/1 3100/100",
        GPSLongitudeRef: "W",
        GPSLongitude: "9/1 8/1 3900/100",
      },
    })
    // sharp writes the orientation it is given here, whatever the EXIF block says.
    .withMetadata({ orientation: 6 })
    .withXmp(
      `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>${PRIVATE_TEXT.xmpCreator}</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>`,
    )
    .jpeg({ quality: 90 })
    .toBuffer();
  return withIptc(stored, PRIVATE_TEXT.iptcByline);
}

/** Inserts a Photoshop 3.0 APP13 segment holding an IPTC by-line (2:80) right after SOI. */
function withIptc(jpeg: Buffer, byline: string): Bytes {
  const dataset = Buffer.concat([Buffer.from([0x1c, 0x02, 0x50, 0x00, byline.length]), Buffer.from(byline)]);
  const resource = Buffer.concat([
    Buffer.from("8BIM", "latin1"),
    Buffer.from([0x04, 0x04, 0x00, 0x00]),
    Buffer.from([0, 0, 0, dataset.length]),
    dataset,
    dataset.length % 2 ? Buffer.from([0]) : Buffer.alloc(0),
  ]);
  const payload = Buffer.concat([Buffer.from("Photoshop 3.0\0", "latin1"), resource]);
  const header = Buffer.from([0xff, 0xed, 0, 0]);
  header.writeUInt16BE(payload.length + 2, 2);
  return new Uint8Array(Buffer.concat([jpeg.subarray(0, 2), header, payload, jpeg.subarray(2)]));
}

/** Which of the private strings occur anywhere in `bytes`. */
export function leakedText(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes).toString("latin1");
  return Object.values(PRIVATE_TEXT).filter((value) => text.includes(value));
}

/** Whether an EXIF block points to a GPS IFD (tag 0x8825), in either byte order. */
export function hasGpsIfd(exif: Uint8Array | undefined): boolean {
  if (!exif) return false;
  const block = Buffer.from(exif);
  return block.includes(Buffer.from([0x88, 0x25])) || block.includes(Buffer.from([0x25, 0x88]));
}

/** An animated GIF of `frames` frames, each a different colour band, `width` × `height` each. */
export async function animatedGif(width: number, height: number, frames: number): Promise<Bytes> {
  const rgba = Buffer.alloc(width * height * frames * 4);
  for (let frame = 0; frame < frames; frame += 1) {
    for (let pixel = 0; pixel < width * height; pixel += 1) {
      const at = (frame * width * height + pixel) * 4;
      rgba.set([(frame * 80) % 256, (pixel * 3) % 256, 255 - frame * 60, 255], at);
    }
  }
  const gif = await sharp(rgba, {
    raw: { width, height: height * frames, channels: 4, pageHeight: height } as never,
  })
    .gif()
    .toBuffer();
  return new Uint8Array(gif);
}

/**
 * A PNG whose header claims `side` × `side` pixels over a body of a few bytes: a decompression bomb that
 * must be refused from its header alone. (A 1 × 1 PNG with its `IHDR` size rewritten and its CRC redone.)
 */
export function pngBomb(side: number): Bytes {
  const bomb = Buffer.from(png({ width: 1, height: 1, rgb: new Uint8Array(3) }));
  // Signature (8), IHDR length (4), "IHDR" (4), then width and height; the CRC follows the 13 data bytes.
  bomb.writeUInt32BE(side, 16);
  bomb.writeUInt32BE(side, 20);
  bomb.writeUInt32BE(crc32(bomb.subarray(12, 29)), 29);
  return new Uint8Array(bomb);
}
