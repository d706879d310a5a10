import { FALLBACK_IMAGE_NAME, MAX_NAME_LENGTH } from "./constants";

// Control characters, and the bidirectional overrides that make a name display as another.
const UNSAFE_CHARACTERS = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/gu;
const PATH_SEPARATOR = /[/\\]/;

/**
 * The display name of an upload: the `name` part if it leaves anything after sanitizing, else the file
 * name without its extension, else a fixed fallback. Never empty.
 */
export function imageName(namePart: string | undefined, fileName: string | undefined): string {
  return (
    sanitizeName(namePart ?? "") || sanitizeName(withoutExtension(fileName ?? "")) || FALLBACK_IMAGE_NAME
  );
}

/**
 * Keeps the last path segment, drops control and direction-override characters, trims, and cuts to
 * `MAX_NAME_LENGTH` characters (code points, so no character is split). A name of only dots is empty.
 */
export function sanitizeName(raw: string): string {
  const segment = raw.normalize("NFC").replace(UNSAFE_CHARACTERS, "").split(PATH_SEPARATOR).at(-1) ?? "";
  const cut = Array.from(segment.trim()).slice(0, MAX_NAME_LENGTH).join("").trim();
  return /^\.*$/.test(cut) ? "" : cut;
}

function withoutExtension(fileName: string): string {
  const segment = fileName.split(PATH_SEPARATOR).at(-1) ?? "";
  const dot = segment.lastIndexOf(".");
  return dot >= 0 ? segment.slice(0, dot) : segment;
}
