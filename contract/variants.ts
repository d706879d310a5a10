import { DEFAULT_VARIANT_WIDTHS } from "./constants";
import { BadRequestError } from "./errors";
import { imageObjectKey, imageOfKey } from "./keys";
import type { ImageRef } from "./types";

/**
 * Variants of an image (shared/ARCHITECTURE.md, "Variants"): which exist, how a request names one, and
 * the object key it is stored under. The edge folds a request into a key; the generator reads the key
 * back; nothing else is trusted to name a variant.
 */

/** Formats a request may fix with `&format=`. */
export const VARIANT_FORMATS = ["avif", "webp", "jpeg", "png"] as const;
export type VariantFormat = (typeof VARIANT_FORMATS)[number];

/**
 * What a variant is encoded as: a fixed format, or `original`, the original's own (the generator reads it
 * from the original; the edge never knows it).
 */
export type VariantEncoding = VariantFormat | "original";

/** One preset variant. */
export interface VariantSpec {
  readonly width: number;
  readonly encoding: VariantEncoding;
}

/** `w` and `format`: the only query parameters that name a variant; any other is ignored. */
const WIDTH_PARAMETER = "w";
const FORMAT_PARAMETER = "format";
/** A width as a request may write it: digits, leading zeros allowed (they are normalized away). */
const WIDTH_TEXT = /^[0-9]{1,6}$/;
const ENCODINGS: ReadonlySet<string> = new Set<VariantEncoding>([...VARIANT_FORMATS, "original"]);

/** `400 invalid_variant`, naming what is allowed. */
export class InvalidVariantError extends BadRequestError {
  public constructor(widths: readonly number[], detail: string) {
    super(
      "invalid_variant",
      `${detail} Widths: ${widths.join(", ")}; formats: ${VARIANT_FORMATS.join(", ")} (or by Accept).`,
    );
  }
}

/**
 * The variant a request asks for, normalized, or `undefined` for the original: `w` must be one of
 * `widths` (leading zeros allowed), `format` one of `VARIANT_FORMATS`; without `format` the viewer's
 * `Accept` decides (AVIF, else WebP, else the original's format). Each parameter at most once; `format`
 * only with `w`. Other parameters (the token, cache busters) do not change which variant it is, so no
 * request can make the cache hold anything but the presets.
 *
 * @throws {InvalidVariantError}
 */
export function variantOfRequest(
  querystring: string,
  accept: string | undefined,
  widths: readonly number[],
): VariantSpec | undefined {
  if (!querystring.includes(`${WIDTH_PARAMETER}=`) && !querystring.includes(`${FORMAT_PARAMETER}=`)) {
    return undefined;
  }
  const query = new URLSearchParams(querystring);
  const widthValues = query.getAll(WIDTH_PARAMETER);
  const formatValues = query.getAll(FORMAT_PARAMETER);
  if (widthValues.length === 0 && formatValues.length === 0) return undefined;
  if (widthValues.length !== 1 || formatValues.length > 1) {
    throw new InvalidVariantError(widths, "A variant takes exactly one w and at most one format.");
  }
  const widthText = widthValues[0] as string;
  const width = WIDTH_TEXT.test(widthText) ? Number(widthText) : Number.NaN;
  if (!widths.includes(width)) throw new InvalidVariantError(widths, `Width "${widthText}" is not offered.`);
  const format = formatValues[0];
  if (format === undefined) return { width, encoding: negotiateFormat(accept) };
  if (!(VARIANT_FORMATS as readonly string[]).includes(format)) {
    throw new InvalidVariantError(widths, `Format "${format}" is not offered.`);
  }
  return { width, encoding: format as VariantFormat };
}

/** AVIF if the viewer accepts it, else WebP, else the original's own format (`q=0` refuses a type). */
export function negotiateFormat(accept: string | undefined): VariantEncoding {
  if (!accept) return "original";
  let webp = false;
  for (const range of accept.split(",")) {
    const [type, ...parameters] = range.split(";");
    const mediaType = type?.trim().toLowerCase();
    if (mediaType !== "image/avif" && mediaType !== "image/webp") continue;
    const refused = parameters.some((parameter) => /^\s*q\s*=\s*0(\.0*)?\s*$/i.test(parameter));
    if (refused) continue;
    if (mediaType === "image/avif") return "avif";
    webp = true;
  }
  return webp ? "webp" : "original";
}

/**
 * The object key of a variant: its image's key, then `.w{width}.{encoding}`. It starts with the image's
 * key, so one wildcard invalidation and one prefix listing cover an image and all its variants; and it is
 * a sibling of the original's key, never below it, so a store that keeps each object as a file (whose
 * path ends with its key) can hold both.
 */
export function variantObjectKey(prefix: string, image: ImageRef, spec: VariantSpec): string {
  return `${imageObjectKey(prefix, image)}.w${spec.width}.${spec.encoding}`;
}

/** Reads a variant key back into its image and spec; `undefined` for any other key (an original's too). */
export function variantOfKey(
  prefix: string,
  key: string,
): { readonly image: ImageRef; readonly imageKey: string; readonly spec: VariantSpec } | undefined {
  const match = /^(.*)\.w([1-9][0-9]{0,5})\.([a-z]+)$/.exec(key);
  if (!match) return undefined;
  const [, imageKey, width, encoding] = match as unknown as [string, string, string, string];
  const image = imageOfKey(prefix, imageKey);
  if (!image || !ENCODINGS.has(encoding)) return undefined;
  return { image, imageKey, spec: { width: Number(width), encoding: encoding as VariantEncoding } };
}

/**
 * Reads `VARIANT_WIDTHS` (comma-separated positive whole numbers, at most 8192).
 *
 * @throws {Error} naming the setting
 */
export function parseVariantWidths(value: string | undefined): readonly number[] {
  if (value === undefined || value.trim() === "") return DEFAULT_VARIANT_WIDTHS;
  const widths = value.split(",").map((part) => Number(part.trim()));
  if (widths.some((width) => !Number.isInteger(width) || width < 1 || width > 8192)) {
    throw new Error(`VARIANT_WIDTHS "${value}" must be whole numbers from 1 to 8192, comma-separated.`);
  }
  return [...new Set(widths)].sort((a, b) => a - b);
}
