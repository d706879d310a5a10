import { describe, expect, it } from "vitest";
import { DEFAULT_VARIANT_WIDTHS } from "../../contract/constants";
import { imageObjectKey } from "../../contract/keys";
import {
  InvalidVariantError,
  negotiateFormat,
  parseVariantWidths,
  variantObjectKey,
  variantOfKey,
  variantOfRequest,
} from "../../contract/variants";

const IMAGE = { journalId: "j-1", entryId: "e-1", imageId: "3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71" };
const CHROMIUM = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
const widths = DEFAULT_VARIANT_WIDTHS;

describe("variantOfRequest", () => {
  it.each([
    ["", CHROMIUM, undefined],
    ["token=abc", CHROMIUM, undefined],
    ["w=640", CHROMIUM, { width: 640, encoding: "avif" }],
    ["w=0640&token=abc&v=9", CHROMIUM, { width: 640, encoding: "avif" }],
    ["token=abc&w=160", "image/webp,*/*", { width: 160, encoding: "webp" }],
    ["w=160", undefined, { width: 160, encoding: "original" }],
    ["w=160&format=png", CHROMIUM, { width: 160, encoding: "png" }],
    ["format=jpeg&w=1920", "image/webp", { width: 1920, encoding: "jpeg" }],
  ])("reads %j with Accept %j as %j", (query, accept, expected) => {
    expect(variantOfRequest(query, accept, widths)).toEqual(expected);
  });

  it.each([
    "w=333",
    "w=0",
    "w=-160",
    "w=1e3",
    "w=160.0",
    "w=%31%36%30%20",
    "w=",
    "w=160&w=320",
    "w=160&format=gif",
    "w=160&format=webp&format=png",
    "format=webp",
  ])("refuses %j with invalid_variant naming the widths", (query) => {
    expect(() => variantOfRequest(query, CHROMIUM, widths)).toThrow(InvalidVariantError);
    expect(() => variantOfRequest(query, CHROMIUM, widths)).toThrow(/160, 320, 640, 1280, 1920/);
  });
});

describe("negotiateFormat", () => {
  it.each([
    [CHROMIUM, "avif"],
    ["image/webp,image/*", "webp"],
    ["image/avif;q=0, image/webp", "webp"],
    ["IMAGE/AVIF", "avif"],
    ["image/avif;q=0.0", "original"],
    ["*/*", "original"],
    ["", "original"],
  ])("answers %j with %s", (accept, expected) => {
    expect(negotiateFormat(accept)).toBe(expected);
  });
});

describe("variant keys", () => {
  it("start with the image's key and read back to the image and the spec", () => {
    // Act
    const key = variantObjectKey("dev/v2", IMAGE, { width: 640, encoding: "webp" });

    // Assess
    expect(key).toBe(`${imageObjectKey("dev/v2", IMAGE)}.w640.webp`);
    expect(variantOfKey("dev/v2", key)).toEqual({
      image: IMAGE,
      imageKey: imageObjectKey("dev/v2", IMAGE),
      spec: { width: 640, encoding: "webp" },
    });
  });

  it.each([
    imageObjectKey("dev", IMAGE),
    `${imageObjectKey("dev", IMAGE)}.w640.gif`,
    `${imageObjectKey("dev", IMAGE)}.w0640.webp`,
    `${imageObjectKey("dev", IMAGE)}.w640`,
    `${imageObjectKey("other", IMAGE)}.w640.webp`,
    `incoming/j-1/entries/e-1/images/${IMAGE.imageId}.w640.webp`,
    `${imageObjectKey("dev", IMAGE)}/w640.webp`,
  ])("are not read from %j", (key) => {
    expect(variantOfKey("dev", key)).toBeUndefined();
  });
});

describe("parseVariantWidths", () => {
  it("defaults, sorts and dedupes", () => {
    expect(parseVariantWidths(undefined)).toEqual([160, 320, 640, 1280, 1920]);
    expect(parseVariantWidths(" 800, 400,800 ")).toEqual([400, 800]);
  });

  it.each(["0", "abc", "320,", "9000"])("refuses %j", (value) => {
    expect(() => parseVariantWidths(value)).toThrow(/VARIANT_WIDTHS/);
  });
});
