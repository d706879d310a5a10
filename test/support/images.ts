import { randomBytes } from "node:crypto";
import { crc32, deflateSync } from "node:zlib";

/**
 * Image bytes made at test time: real formats that `file-type` recognizes, nothing checked in. Each helper
 * answers a fresh `Uint8Array` over its own `ArrayBuffer`, which `File` and `Blob` accept as they are.
 */
export type Bytes = Uint8Array<ArrayBuffer>;

const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

interface PngOptions {
  readonly width: number;
  readonly height: number;
  /** RGB triplets, row by row; `width * height * 3` bytes. */
  readonly rgb: Uint8Array;
  /** zlib level of the image data; 0 stores the bytes as they are. */
  readonly level?: number;
  /** Chunks written between `IHDR` and `IDAT`. */
  readonly chunks?: readonly { readonly type: string; readonly data: Uint8Array }[];
}

/** A valid 8-bit RGB PNG: signature, `IHDR`, optional chunks, `IDAT` (zlib), `IEND`, each with its CRC. */
export function png({ width, height, rgb, level = 6, chunks = [] }: PngOptions): Bytes {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // bit depth 8, RGB, deflate, no filter method, no interlace
  const rowBytes = width * 3;
  const scanlines = Buffer.alloc(height * (rowBytes + 1));
  for (let row = 0; row < height; row += 1) {
    // Each scanline starts with its filter type (0: none).
    scanlines.set(rgb.subarray(row * rowBytes, (row + 1) * rowBytes), row * (rowBytes + 1) + 1);
  }
  return bytes(
    PNG_SIGNATURE,
    chunk("IHDR", header),
    ...chunks.map(({ type, data }) => chunk(type, data)),
    chunk("IDAT", deflateSync(scanlines, { level })),
    chunk("IEND", new Uint8Array()),
  );
}

/**
 * A `width`×`height` PNG of a gradient; different `seed`s (below 2^24) give different bytes: the first
 * pixel is the seed itself, since stored images keep no text chunk to tell them apart.
 */
export function pngBytes(width: number, height: number, seed = 0): Bytes {
  const rgb = new Uint8Array(width * height * 3).map((_, index) => (index * 7 + seed * 13) % 256);
  rgb.set([(seed >> 16) & 0xff, (seed >> 8) & 0xff, seed & 0xff], 0);
  return png({ width, height, rgb });
}

/** A PNG of random pixels stored uncompressed: about `bytes` long, and different on every call. */
export function noisyPng(approximateBytes: number): Bytes {
  const side = Math.max(1, Math.floor(Math.sqrt(approximateBytes / 3)));
  return png({ width: side, height: side, rgb: randomBytes(side * side * 3), level: 0 });
}

/**
 * A PNG holding every byte value 0..255, both in a private chunk and in its (stored) pixels. The gateway
 * stores it without the private chunk (`storedAllBytesPng`): the pixels still hold every value.
 */
export function allBytesPng(): Bytes {
  const every = Uint8Array.from({ length: 256 }, (_, value) => value);
  return png({ ...ALL_BYTES_PIXELS, chunks: [{ type: "prVt", data: every }] });
}

/** `allBytesPng` as the gateway stores it: only the chunks that describe pixels. */
export function storedAllBytesPng(): Bytes {
  return png(ALL_BYTES_PIXELS);
}

const ALL_BYTES_PIXELS = {
  width: 16,
  height: 16,
  rgb: new Uint8Array(16 * 16 * 3).map((_, index) => index % 256),
  level: 0,
} as const;

/** An animated PNG: an `acTL` chunk before the image data. */
export function animatedPng(): Bytes {
  const animation = Buffer.alloc(8);
  animation.writeUInt32BE(1, 0); // frames
  return png({ width: 2, height: 2, rgb: new Uint8Array(12), chunks: [{ type: "acTL", data: animation }] });
}

/** A 2×2 baseline JPEG (as sharp encodes it): it decodes. */
export function jpeg(): Bytes {
  return bytes(
    Buffer.from(
      "/9j/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wAARCAACAAIDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAb/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFAEBAAAAAAAAAAAAAAAAAAAABv/EABQRAQAAAAAAAAAAAAAAAAAAAAD/2gAMAwEAAhEDEQA/AJAAnHX/2Q==",
      "base64",
    ),
  );
}

/** A 1×1 transparent GIF89a. */
export function gif(): Bytes {
  return bytes(Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64"));
}

/** A 1×1 lossless WebP. */
export function webp(): Bytes {
  return bytes(Buffer.from("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==", "base64"));
}

/** A 2×2 AVIF (as sharp encodes it): it decodes. */
export function avif(): Bytes {
  return bytes(
    Buffer.from(
      "AAAAHGZ0eXBhdmlmAAAAAG1pZjFhdmlmbWlhZgAAANZtZXRhAAAAAAAAACFoZGxyAAAAAAAAAABwaWN0AAAAAAAAAAAAAAAAAAAAACJpbG9jAAAAAERAAAEAAQAAAAAA+gABAAAAAAAAACMAAAAjaWluZgAAAAAAAQAAABVpbmZlAgAAAAABAABhdjAxAAAAAA5waXRtAAAAAAABAAAAVmlwcnAAAAA4aXBjbwAAAAxhdjFDgSACAAAAABRpc3BlAAAAAAAAAAIAAAACAAAAEHBpeGkAAAAAAwgICAAAABZpcG1hAAAAAAAAAAEAAQOBAgMAAAArbWRhdBIACgc4ADaQENBpMhYZQmMEwAA0AACQQMkcYVdPizYnkb2A",
      "base64",
    ),
  );
}

/** A HEIC's `ftyp` box: an image type the gateway does not take. */
export function heic(): Bytes {
  return ftyp("heic", ["mif1", "heic"]);
}

/** An SVG: an image a browser may run, never accepted. */
export function svg(): Bytes {
  return bytes(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'));
}

/** A PDF header. */
export function pdf(): Bytes {
  return bytes(
    Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n", "latin1"),
  );
}

function chunk(type: string, data: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.byteLength, 0);
  const typeAndData = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData), 0);
  return Buffer.concat([length, typeAndData, crc]);
}

function ftyp(major: string, compatible: readonly string[]): Bytes {
  const body = Buffer.concat([
    Buffer.from(major, "latin1"),
    Buffer.alloc(4),
    ...compatible.map((brand) => Buffer.from(brand, "latin1")),
  ]);
  const size = Buffer.alloc(4);
  size.writeUInt32BE(8 + body.byteLength, 0);
  return bytes(size, Buffer.from("ftyp", "latin1"), body);
}

/** The parts joined into one fresh array. */
function bytes(...parts: readonly Uint8Array[]): Bytes {
  const joined = new Uint8Array(parts.reduce((total, part) => total + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}
