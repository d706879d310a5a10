/**
 * Lossless removal of metadata from image containers: the compressed image data is copied byte for byte,
 * only the segments, chunks or blocks that carry EXIF, XMP, IPTC, comments or timestamps are left out.
 * Each function keeps an allowlist (what an image needs to display, its ICC profile included) rather than
 * a blocklist, so a metadata carrier nobody thought of is dropped too. Anything after the container's end
 * marker goes as well: a JPEG's MPF secondary images (previews, depth maps) carry their own EXIF.
 *
 * Every function throws `MalformedImageError` on bytes that do not follow their container's grammar, and
 * returns its very input when there was nothing to remove, so a caller can tell without comparing bytes.
 */

/** The container does not parse: the caller answers `422 invalid_image`. */
export class MalformedImageError extends Error {}

// JPEG markers (ITU T.81 B.1.1.3; JFIF, Exif, XMP and Adobe application segments).
const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const APP0 = 0xe0;
const APP2 = 0xe2;
const APP14 = 0xee;
const TEM = 0x01;
const ICC_PROFILE_ID = Buffer.from("ICC_PROFILE\0", "latin1");

/**
 * A JPEG without APP1 (Exif, XMP), APP13 (Photoshop IPTC), COM and any other application segment but
 * APP0 (JFIF), APP2 holding an ICC profile, and APP14 (Adobe: the colour transform CMYK files need).
 * Entropy-coded data, tables and frame headers are copied as they are; everything after EOI is dropped.
 */
export function stripJpeg(bytes: Uint8Array): Uint8Array {
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (input[0] !== 0xff || input[1] !== SOI) throw new MalformedImageError("No JPEG start of image.");
  const kept: Buffer[] = [input.subarray(0, 2)];
  let position = 2;
  while (position < input.length) {
    if (input[position] !== 0xff) throw new MalformedImageError("A JPEG marker was expected.");
    // Any number of 0xFF fill bytes may precede a marker.
    let markerAt = position;
    while (input[markerAt + 1] === 0xff) markerAt += 1;
    const marker = input[markerAt + 1];
    if (marker === undefined) break;
    if (marker === EOI) {
      kept.push(input.subarray(markerAt, markerAt + 2));
      return joined(bytes, input, kept);
    }
    if (marker === TEM || (marker >= 0xd0 && marker <= 0xd7)) {
      kept.push(input.subarray(markerAt, markerAt + 2));
      position = markerAt + 2;
      continue;
    }
    if (markerAt + 4 > input.length) throw new MalformedImageError("A JPEG segment is cut short.");
    const end = markerAt + 2 + input.readUInt16BE(markerAt + 2);
    if (end > input.length) throw new MalformedImageError("A JPEG segment is cut short.");
    const segment = input.subarray(markerAt, end);
    if (keepsJpegSegment(marker, segment)) kept.push(segment);
    position = end;
    if (marker === SOS) {
      const scanEnd = endOfEntropyData(input, position);
      kept.push(input.subarray(position, scanEnd));
      position = scanEnd;
    }
  }
  // No EOI: what was read is kept, and the decode check judges whether it is an image.
  return joined(bytes, input, kept);
}

function keepsJpegSegment(marker: number, segment: Buffer): boolean {
  if (marker === APP0 || marker === APP14) return true;
  if (marker === APP2) return segment.subarray(4, 4 + ICC_PROFILE_ID.length).equals(ICC_PROFILE_ID);
  // Other APPn (0xE1 Exif/XMP, 0xED IPTC, vendors' 0xE3-0xEF) and COM (0xFE) carry metadata only.
  return !((marker >= 0xe0 && marker <= 0xef) || marker === 0xfe);
}

/** Where a scan's entropy-coded data ends: at the first marker that is neither stuffing nor a restart. */
function endOfEntropyData(input: Buffer, from: number): number {
  let index = from;
  while (index < input.length - 1) {
    if (input[index] === 0xff) {
      const next = input[index + 1] as number;
      if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7)) return index;
      index += 2;
    } else index += 1;
  }
  return input.length;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/**
 * PNG chunks that describe pixels or colour (PNG 3rd edition, APNG), kept; `eXIf`, `tEXt`, `zTXt`, `iTXt`,
 * `tIME` and private chunks are not.
 */
const PNG_KEPT_CHUNKS = new Set([
  "IHDR",
  "PLTE",
  "IDAT",
  "IEND",
  "tRNS",
  "cHRM",
  "gAMA",
  "iCCP",
  "sBIT",
  "sRGB",
  "cICP",
  "mDCV",
  "cLLI",
  "bKGD",
  "hIST",
  "pHYs",
  "sPLT",
  "acTL",
  "fcTL",
  "fdAT",
]);

/** A PNG of its allowed chunks only, each with its CRC as it was; nothing after `IEND`. */
export function stripPng(bytes: Uint8Array): Uint8Array {
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!input.subarray(0, 8).equals(PNG_SIGNATURE)) throw new MalformedImageError("No PNG signature.");
  const kept: Buffer[] = [input.subarray(0, 8)];
  let position = 8;
  while (position + 12 <= input.length) {
    const end = position + 12 + input.readUInt32BE(position);
    if (end > input.length) throw new MalformedImageError("A PNG chunk is cut short.");
    const type = input.toString("latin1", position + 4, position + 8);
    if (PNG_KEPT_CHUNKS.has(type)) kept.push(input.subarray(position, end));
    position = end;
    if (type === "IEND") return joined(bytes, input, kept);
  }
  throw new MalformedImageError("The PNG has no IEND chunk.");
}

/** WebP chunks an image needs (RIFF container spec); `EXIF`, `XMP ` and unknown chunks are not kept. */
const WEBP_KEPT_CHUNKS = new Set(["VP8 ", "VP8L", "VP8X", "ALPH", "ANIM", "ANMF", "ICCP"]);
/** `VP8X` flag bits that announce EXIF (bit 3) and XMP (bit 2) chunks. */
const VP8X_METADATA_FLAGS = 0x08 | 0x04;

/** A WebP of its allowed chunks, the `VP8X` flags and the RIFF size corrected to match. */
export function stripWebp(bytes: Uint8Array): Uint8Array {
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (input.toString("latin1", 0, 4) !== "RIFF" || input.toString("latin1", 8, 12) !== "WEBP") {
    throw new MalformedImageError("No RIFF WEBP header.");
  }
  const riffEnd = Math.min(input.length, 8 + input.readUInt32LE(4));
  const kept: Buffer[] = [];
  // Whether the output differs from the input: a chunk left out, a flag cleared, or bytes past the RIFF.
  let changed = riffEnd !== input.length;
  let position = 12;
  while (position + 8 <= riffEnd) {
    const size = input.readUInt32LE(position + 4);
    const end = position + 8 + size + (size % 2);
    if (position + 8 + size > riffEnd) throw new MalformedImageError("A WebP chunk is cut short.");
    const fourcc = input.toString("latin1", position, position + 4);
    if (WEBP_KEPT_CHUNKS.has(fourcc)) {
      const chunk = input.subarray(position, Math.min(end, riffEnd));
      if (fourcc === "VP8X" && ((chunk[8] as number) & VP8X_METADATA_FLAGS) !== 0) {
        const cleared = Buffer.from(chunk);
        cleared[8] = (chunk[8] as number) & ~VP8X_METADATA_FLAGS;
        kept.push(cleared);
        changed = true;
      } else kept.push(chunk);
    } else changed = true;
    position = end;
  }
  if (!changed && position === riffEnd) return bytes;
  const body = Buffer.concat(kept);
  const header = Buffer.alloc(12);
  header.write("RIFF", 0, "latin1");
  header.writeUInt32LE(4 + body.length, 4);
  header.write("WEBP", 8, "latin1");
  return Buffer.concat([header, body]);
}

// GIF89a block introducers and extension labels.
const EXTENSION = 0x21;
const IMAGE_DESCRIPTOR = 0x2c;
const TRAILER = 0x3b;
const GRAPHIC_CONTROL = 0xf9;
const PLAIN_TEXT = 0x01;
const APPLICATION = 0xff;
/** Application extensions that change how the image displays: looping, and an ICC profile. */
const GIF_KEPT_APPLICATIONS = new Set(["NETSCAPE2.0", "ANIMEXTS1.0", "ICCRGBG1012"]);

/**
 * A GIF without comment extensions and without application extensions other than looping and ICC
 * (XMP travels as the `XMP DataXMP` application extension); nothing after the trailer.
 */
export function stripGif(bytes: Uint8Array): Uint8Array {
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!input.toString("latin1", 0, 3).startsWith("GIF")) throw new MalformedImageError("No GIF header.");
  const screenFlags = byteAt(input, 10);
  let position = 13 + colourTableBytes(screenFlags);
  const kept: Buffer[] = [input.subarray(0, position)];
  while (position < input.length) {
    const introducer = byteAt(input, position);
    if (introducer === TRAILER) {
      kept.push(input.subarray(position, position + 1));
      return joined(bytes, input, kept);
    }
    let end: number;
    let keep = true;
    if (introducer === IMAGE_DESCRIPTOR) {
      const headerEnd = position + 10 + colourTableBytes(byteAt(input, position + 9));
      // The LZW minimum code size byte, then the data sub-blocks.
      end = skipSubBlocks(input, headerEnd + 1);
    } else if (introducer === EXTENSION) {
      const label = byteAt(input, position + 1);
      end = skipSubBlocks(input, position + 2);
      if (label === APPLICATION) {
        const identifier = input.toString("latin1", position + 3, position + 3 + byteAt(input, position + 2));
        keep = GIF_KEPT_APPLICATIONS.has(identifier);
      } else keep = label === GRAPHIC_CONTROL || label === PLAIN_TEXT;
    } else throw new MalformedImageError("An unknown GIF block.");
    if (keep) kept.push(input.subarray(position, end));
    position = end;
  }
  throw new MalformedImageError("The GIF has no trailer.");
}

/**
 * The `kept` parts of `input` (views of it, in order) as one image: `bytes` itself when they are all of
 * it, end to end, so that nothing removed costs no copy.
 */
function joined(bytes: Uint8Array, input: Buffer, kept: readonly Buffer[]): Uint8Array {
  let next = input.byteOffset;
  for (const part of kept) {
    if (part.buffer !== input.buffer || part.byteOffset !== next) return Buffer.concat(kept);
    next += part.byteLength;
  }
  return next === input.byteOffset + input.byteLength ? bytes : Buffer.concat(kept);
}

function colourTableBytes(flags: number): number {
  return flags & 0x80 ? 3 * 2 ** ((flags & 0x07) + 1) : 0;
}

function skipSubBlocks(input: Buffer, from: number): number {
  let position = from;
  for (;;) {
    const size = byteAt(input, position);
    position += 1 + size;
    if (size === 0) return position;
  }
}

function byteAt(input: Buffer, index: number): number {
  const value = input[index];
  if (value === undefined) throw new MalformedImageError("The image is cut short.");
  return value;
}
