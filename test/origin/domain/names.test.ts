import { describe, expect, it } from "vitest";
import { imageName, sanitizeName } from "../../../origin/domain/names";

describe("sanitizeName", () => {
  it.each([
    ["a plain name", "holiday", "holiday"],
    ["surrounding spaces", "  harbour at dusk \t", "harbour at dusk"],
    ["a Unix path", "../../etc/passwd", "passwd"],
    ["a Windows path", "C:\\Users\\ann\\beach", "beach"],
    ["a trailing separator", "photos/", ""],
    ["control characters", "a\u0000b\nc\u007fd", "abcd"],
    ["a right-to-left override", "invoice\u202Egnp.exe", "invoicegnp.exe"],
    ["isolates", "\u2066name\u2069", "name"],
    ["dots alone", "...", ""],
    ["one dot", ".", ""],
    ["a dot file", ".profile", ".profile"],
    ["a decomposed accent, composed", "cafe\u0301", "caf\u00e9"],
    ["the empty string", "", ""],
  ])("keeps of %s %j", (_what, raw, name) => {
    expect(sanitizeName(raw)).toBe(name);
  });

  it("cuts to 200 characters", () => {
    expect(sanitizeName("a".repeat(250))).toBe("a".repeat(200));
  });

  it("cuts by code points, never splitting a character", () => {
    // Each emoji is two UTF-16 units; 201 of them cut to 200 whole ones.
    expect(sanitizeName("😀".repeat(201))).toBe("😀".repeat(200));
  });

  it("trims again after cutting", () => {
    expect(sanitizeName(`${"a".repeat(199)} b`)).toBe("a".repeat(199));
  });
});

describe("imageName", () => {
  it.each([
    ["the name part", "Beach", "photo.png", "Beach"],
    ["the name part, sanitized", " ../Beach\u0000 ", "photo.png", "Beach"],
    ["the file name without its extension, with no name part", undefined, "photo.png", "photo"],
    ["the file name, when the name part sanitizes away", " \u202E ", "photo.png", "photo"],
    ["only the last extension", undefined, "archive.tar.gz", "archive.tar"],
    ["the last segment of a file path", undefined, "C:\\pics\\sea.jpg", "sea"],
    ["a file name without an extension", undefined, "README", "README"],
    ["a dot in a folder, not the name", undefined, "v1.2/photo", "photo"],
    ["the fallback for a bare extension", undefined, ".png", "image"],
    ["the fallback for nothing at all", undefined, undefined, "image"],
    ["the fallback for an empty name and file name", "", "", "image"],
  ])("takes %s", (_what, namePart, fileName, name) => {
    expect(imageName(namePart, fileName)).toBe(name);
  });
});
