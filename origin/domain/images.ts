import sharp, { type Metadata, type SharpOptions } from "sharp";
import { HttpError } from "../../contract/errors";
import type { ImageType } from "./constants";
import { MalformedImageError, stripGif, stripJpeg, stripPng, stripWebp } from "./metadataStripping";

/** A file that does not decode as the image its bytes claim, or has too many pixels: `422 invalid_image`. */
export class InvalidImageError extends HttpError {
  public constructor(message = "The file is not a valid image of its type.") {
    super(422, "invalid_image", message);
  }
}

/** How uploads are checked and cleaned (`MAX_IMAGE_PIXELS`, `STRIP_IMAGE_METADATA`). */
export interface ImagePolicy {
  /** Largest pixel count (width × height × frames) an upload may decode to. */
  readonly maxPixels: number;
  /** Remove EXIF, XMP and IPTC (after applying the orientation); on unless an app needs EXIF. */
  readonly stripMetadata: boolean;
}

/** An upload as it is stored: its bytes, and the displayed size its record carries. */
export interface PreparedImage {
  readonly bytes: Uint8Array;
  /** Displayed pixel size, after orientation. */
  readonly width: number;
  readonly height: number;
}

/**
 * An upload cleaned and measured whose full decode may still be running: `decoded()` settles once every
 * frame has decoded, and rejects with `InvalidImageError` when the bytes are corrupt or cut short.
 */
export interface CleanedImage extends PreparedImage {
  decoded(): Promise<void>;
}

/** libvips' name for each allowed type, as `sharp().metadata().format` reports it. */
const SHARP_FORMATS: Readonly<Record<string, string>> = {
  "image/png": "png",
  "image/jpeg": "jpeg",
  "image/gif": "gif",
  "image/webp": "webp",
  "image/avif": "heif",
};

/**
 * Encoder settings for the formats that are re-encoded at upload: any format whose EXIF orientation is not
 * 1 (the pixels must turn for the image to display upright once EXIF is gone), and AVIF carrying EXIF or
 * XMP (its metadata lives in ISOBMFF items that cannot be dropped without rewriting the `meta` box). PNG
 * and GIF re-encode losslessly; JPEG keeps the source's chroma subsampling.
 */
export const REENCODE_SETTINGS = {
  jpeg: { quality: 90, mozjpeg: false },
  webp: { quality: 90, effort: 4 },
  avif: { quality: 70, effort: 4 },
  png: { compressionLevel: 9 },
  gif: {},
} as const;

/**
 * Checks an upload of the type its magic bytes gave and prepares the bytes to store:
 *
 * 1. the header alone is read (no pixel is decoded): its format must be `type`, and its pixel count at
 *    most `maxPixels` (a PNG claiming 30,000 × 30,000 with a tiny body stops here);
 * 2. with stripping on, metadata goes: losslessly where the container allows (JPEG, PNG, WebP, GIF) and
 *    the orientation is upright already; otherwise re-encoded with `REENCODE_SETTINGS`, pixels turned;
 *    ICC profiles stay either way (bytes with nothing to remove are given back as the same array);
 * 3. the bytes to store are decoded in full, so a file cut short or corrupt is refused.
 *
 * @throws {InvalidImageError}
 */
export async function prepareImage(
  bytes: Uint8Array,
  type: ImageType,
  policy: ImagePolicy,
): Promise<PreparedImage> {
  return whenDecoded(cleanImage(bytes, type, policy));
}

/**
 * An image whose decode was left running, once that decode has succeeded, without its `decoded` handle.
 *
 * @throws whatever the image or its decode rejects with
 */
export async function whenDecoded<T extends { decoded(): Promise<void> }>(
  image: Promise<T>,
): Promise<Omit<T, "decoded">> {
  const { decoded, ...rest } = await image;
  await decoded();
  return rest;
}

/**
 * `prepareImage`'s steps 1 and 2, with step 3 started and left running, so that a caller can write the
 * bytes meanwhile and keep them only once `decoded()` resolves.
 *
 * @throws {InvalidImageError} from steps 1 and 2
 */
export async function cleanImage(
  bytes: Uint8Array,
  type: ImageType,
  policy: ImagePolicy,
): Promise<CleanedImage> {
  const header = await readHeader(bytes);
  if (header.format !== SHARP_FORMATS[type.contentType]) {
    throw new InvalidImageError(`The file does not decode as ${type.extension.toUpperCase()}.`);
  }
  const pixels = header.width * (header.pageHeight ?? header.height) * (header.pages ?? 1);
  if (pixels > policy.maxPixels) {
    throw new InvalidImageError(
      `An image may have at most ${policy.maxPixels} pixels; this one has ${pixels}.`,
    );
  }
  const stored = policy.stripMetadata ? await stripMetadata(bytes, header, policy) : bytes;
  const decoding = decodeFully(stored, pixels, policy);
  // Awaited by `decoded()`; until then, a failure must not count as unhandled.
  decoding.catch(() => undefined);
  const size = displayedSize(stored === bytes ? header : await readHeader(stored));
  return { bytes: stored, ...size, decoded: () => decoding };
}

/**
 * Whether `metadata` (of a stored image) still carries anything the privacy rule forbids: EXIF (beyond
 * nothing at all), XMP or IPTC.
 */
export function carriesPrivateMetadata(metadata: Metadata): boolean {
  return metadata.exif !== undefined || metadata.xmp !== undefined || metadata.iptc !== undefined;
}

async function stripMetadata(bytes: Uint8Array, header: Metadata, policy: ImagePolicy): Promise<Uint8Array> {
  const upright = header.orientation === undefined || header.orientation === 1;
  if (upright) {
    try {
      switch (header.format) {
        case "jpeg":
          return stripJpeg(bytes);
        case "png":
          return stripPng(bytes);
        case "webp":
          return stripWebp(bytes);
        case "gif":
          return stripGif(bytes);
        default:
          if (!carriesPrivateMetadata(header)) return bytes;
      }
    } catch (error) {
      if (error instanceof MalformedImageError) throw new InvalidImageError(error.message);
      throw error;
    }
  }
  return reencode(bytes, header, policy);
}

/** The image re-encoded in its own format, orientation applied, ICC profile kept, nothing else. */
async function reencode(bytes: Uint8Array, header: Metadata, policy: ImagePolicy): Promise<Uint8Array> {
  const image = sharp(bytes, decodeOptions(policy)).autoOrient().keepIccProfile();
  try {
    switch (header.format) {
      case "jpeg":
        return await image
          .jpeg({ ...REENCODE_SETTINGS.jpeg, chromaSubsampling: header.chromaSubsampling ?? "4:2:0" })
          .toBuffer();
      case "png":
        return await image.png(REENCODE_SETTINGS.png).toBuffer();
      case "webp":
        return await image.webp(REENCODE_SETTINGS.webp).toBuffer();
      case "gif":
        return await image.gif(REENCODE_SETTINGS.gif).toBuffer();
      default:
        return await image.avif(REENCODE_SETTINGS.avif).toBuffer();
    }
  } catch (error) {
    throw new InvalidImageError(`The image does not decode: ${describeSharpError(error)}`);
  }
}

async function readHeader(bytes: Uint8Array): Promise<Metadata & { width: number; height: number }> {
  let metadata: Metadata;
  try {
    // No limit here: the header is all that is read, and the pixel limit is checked on what it says.
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new InvalidImageError(`The image header does not parse: ${describeSharpError(error)}`);
  }
  if (!metadata.width || !metadata.height) throw new InvalidImageError("The image has no size.");
  return metadata as Metadata & { width: number; height: number };
}

/**
 * Up to this many pixels (all frames), the full decode writes one channel to memory (at most this many
 * bytes, briefly): measured about 9× faster than `stats()` (a 900 KB PNG 1.7 ms against 15.5 ms, a
 * 2560-px JPEG 15 ms against 134 ms). Larger images stream through `stats()` so memory stays flat.
 */
const IN_MEMORY_DECODE_MAX_PIXELS = 24_000_000;

/** Every frame decoded, so corrupt or truncated data fails. */
async function decodeFully(bytes: Uint8Array, pixels: number, policy: ImagePolicy): Promise<void> {
  try {
    const image = sharp(bytes, decodeOptions(policy));
    if (pixels <= IN_MEMORY_DECODE_MAX_PIXELS) await image.extractChannel(0).raw().toBuffer();
    else await image.stats();
  } catch (error) {
    throw new InvalidImageError(`The image does not decode: ${describeSharpError(error)}`);
  }
}

/** How every upload is decoded: all frames, corrupt data an error, never above the pixel limit. */
export function decodeOptions(policy: Pick<ImagePolicy, "maxPixels">): SharpOptions {
  return { animated: true, failOn: "error", limitInputPixels: policy.maxPixels };
}

/** One frame's size as displayed: EXIF orientations 5 to 8 turn it by a quarter. */
function displayedSize(metadata: Metadata & { width: number; height: number }): {
  width: number;
  height: number;
} {
  const width = metadata.width;
  const height = metadata.pageHeight ?? metadata.height;
  return (metadata.orientation ?? 1) >= 5 ? { width: height, height: width } : { width, height };
}

function describeSharpError(error: unknown): string {
  return error instanceof Error ? error.message.split("\n", 1)[0] || "unknown" : "unknown";
}
