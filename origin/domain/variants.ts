import { createHash } from "node:crypto";
import sharp, { type Sharp } from "sharp";
import { describeError } from "../../contract/log";
import type { ImageRef } from "../../contract/types";
import { type VariantFormat, type VariantSpec, variantOfKey } from "../../contract/variants";
import { CONTENT_TYPES_BY_EXTENSION } from "./constants";
import { InvalidImageError } from "./images";
import type { OriginServices } from "./ports";

/**
 * Encoder settings, chosen by measurement (`npm run bench`, "variants"): AVIF's effort costs seconds at
 * large widths for a few percent of bytes, so it drops above 640 px, where effort 0 gave the same bytes
 * as effort 2 in a quarter of the time; WebP and JPEG at the quality photo CDNs default to.
 */
export const VARIANT_ENCODER_SETTINGS = {
  avif: (width: number) => ({ quality: 50, effort: width <= 640 ? 2 : 0 }),
  webp: () => ({ quality: 75, effort: 4 }),
  jpeg: () => ({ quality: 80, mozjpeg: true }),
  png: () => ({ compressionLevel: 9, effort: 7 }),
  gif: () => ({ effort: 7 }),
} as const;

/** A generated variant: its bytes and the type they are served with. */
export interface RenderedVariant {
  readonly bytes: Uint8Array;
  readonly contentType: string;
}

/** What serving variants needs. */
export interface VariantDeps extends Pick<OriginServices, "images" | "log"> {
  readonly imagesPrefix: string;
  /** `VARIANT_WIDTHS`: the generator makes no other width, whatever key it is asked for. */
  readonly variantWidths: readonly number[];
  /** Largest pixel count an original may decode to (`MAX_IMAGE_PIXELS`); uploads were held to it. */
  readonly maxPixels: number;
}

/** What a variant key led to. */
export type VariantOutcome =
  | { readonly kind: "variant"; readonly variant: RenderedVariant; readonly image: ImageRef }
  /** Not a preset variant's key, or its original is not there: the contract's `404 not_found`. */
  | { readonly kind: "missing" };

/**
 * Makes the variant an object key names, from its original, and stores it beside the original (its key
 * starts with the original's), so every later read is an ordinary object read. Viewers racing for the
 * same new variant each make it and write the same bytes to the same key: S3 keeps one whole object,
 * never a mix.
 *
 * @throws {StorageUnavailableError} when the original cannot be read or the variant cannot be stored
 */
export async function generateVariant(key: string, deps: VariantDeps): Promise<VariantOutcome> {
  const named = variantOfKey(deps.imagesPrefix, key);
  if (!named || !deps.variantWidths.includes(named.spec.width)) return { kind: "missing" };
  const original = await deps.images.get(named.imageKey);
  if (!original) return { kind: "missing" };
  const started = performance.now();
  const variant = await renderVariant(original.bytes, named.spec, deps.maxPixels);
  const sha256 = createHash("sha256").update(variant.bytes).digest("hex");
  await deps.images.put(key, variant.bytes, { contentType: variant.contentType, sha256 });
  deps.log({
    level: "info",
    event: "variant_generated",
    object_key: key,
    size: variant.bytes.byteLength,
    ms: Math.round(performance.now() - started),
  });
  return { kind: "variant", variant, image: named.image };
}

/**
 * Resizes an original to `spec.width` (never larger than it is: a wider preset gives the original's
 * size) and encodes it. Animated images stay animated: every frame is resized, and AVIF, which sharp
 * encodes as a still image only, becomes animated WebP. Nothing of the original's metadata is written
 * but its ICC profile (stored originals carry no other).
 *
 * @throws {InvalidImageError} when the original does not decode (it was checked at upload)
 */
export async function renderVariant(
  original: Uint8Array,
  spec: VariantSpec,
  maxPixels: number,
): Promise<RenderedVariant> {
  try {
    const source = sharp(original, { animated: true, limitInputPixels: maxPixels });
    const metadata = await source.metadata();
    const animated = (metadata.pages ?? 1) > 1;
    const format = outputFormat(spec, metadata.format, animated);
    const resized = source
      .resize({ width: spec.width, withoutEnlargement: true })
      .autoOrient()
      .keepIccProfile();
    const bytes = await encode(resized, format, spec.width).toBuffer();
    return { bytes, contentType: contentTypeOf(format) };
  } catch (error) {
    throw new InvalidImageError(`The original does not decode: ${describeError(error)}`);
  }
}

type OutputFormat = VariantFormat | "gif";

function outputFormat(
  spec: VariantSpec,
  originalFormat: string | undefined,
  animated: boolean,
): OutputFormat {
  if (spec.encoding === "avif" && animated) return "webp";
  if (spec.encoding !== "original") return spec.encoding;
  if (originalFormat === "heif") return animated ? "webp" : "avif";
  if (originalFormat === "jpeg" || originalFormat === "png" || originalFormat === "webp")
    return originalFormat;
  return "gif";
}

function encode(image: Sharp, format: OutputFormat, width: number): Sharp {
  switch (format) {
    case "avif":
      return image.avif(VARIANT_ENCODER_SETTINGS.avif(width));
    case "webp":
      return image.webp(VARIANT_ENCODER_SETTINGS.webp());
    case "jpeg":
      // JPEG has no alpha: transparent originals are laid on white rather than black.
      return image.flatten({ background: "#ffffff" }).jpeg(VARIANT_ENCODER_SETTINGS.jpeg());
    case "png":
      return image.png(VARIANT_ENCODER_SETTINGS.png());
    case "gif":
      return image.gif(VARIANT_ENCODER_SETTINGS.gif());
  }
}

function contentTypeOf(format: OutputFormat): string {
  return CONTENT_TYPES_BY_EXTENSION[format] as string;
}

/** Logs a failed generation without its bytes; the answer is the caller's. */
export function logVariantFailure(key: string, error: unknown, deps: Pick<VariantDeps, "log">): void {
  deps.log({ level: "error", event: "variant_failed", object_key: key, error: describeError(error) });
}
