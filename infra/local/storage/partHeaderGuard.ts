import { Transform, type TransformCallback } from "node:stream";
import { S3Refusal } from "./S3Refusal";

/** RFC 2046's boundary characters, at most 70 of them, not ending in a space. */
const BOUNDARY_PATTERN = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;
/** Longer part headers than busboy itself takes are malformed anyway. */
const MAX_PART_HEADER_BYTES = 16 * 1024;

/**
 * The boundary of a `multipart/form-data` Content-Type, or `undefined` when it names none; a Content-Type
 * naming two is refused, since two readers could each take another one.
 *
 * @throws {S3Refusal} `400 MalformedPOSTRequest` for two `boundary` parameters
 */
export function formBoundary(contentType: string): string | undefined {
  const [type, ...parameters] = splitParameters(contentType);
  if (type?.[0].trim().toLowerCase() !== "multipart/form-data") return undefined;
  const boundaries = parameters.filter(([name]) => name === "boundary");
  if (boundaries.length > 1) throw malformed("The Content-Type names more than one boundary.");
  const boundary = boundaries[0]?.[1];
  if (boundary === undefined || boundary === "") return undefined;
  if (!BOUNDARY_PATTERN.test(boundary)) throw malformed("The boundary is not one RFC 2046 allows.");
  return boundary;
}

/**
 * Passes a form's bytes through unchanged, refusing any part whose headers a parser would have to choose
 * from: a header given twice (two `Content-Disposition`s), a `Content-Disposition` with two `name` (or
 * `filename`) parameters, or a folded header line. busboy alone takes the first of each and says nothing;
 * with this guard in front, the one parse the door makes is never a choice. It only reads the part
 * headers (a few hundred bytes each); the bodies between them are searched for the next delimiter, never
 * kept.
 */
export function partHeaderGuard(boundary: string): Transform {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The first delimiter opens the body without the CRLF that precedes every later one.
  let carry: Buffer = Buffer.from("\r\n");
  let ended = false;
  const inspect = (chunk: Buffer): void => {
    if (ended) return;
    // Most chunks are file data with no delimiter in them: those are searched where they lie, never
    // copied. Only a chunk where a delimiter begins or ends is joined to what came before.
    if (carry.length < delimiter.length && !delimiterIn(chunk)) {
      carry = tail(carry, chunk, delimiter.length - 1);
      return;
    }
    let buffer = Buffer.concat([carry, chunk]);
    let position = 0;
    for (;;) {
      const at = buffer.indexOf(delimiter, position);
      if (at < 0) {
        carry = buffer.subarray(Math.max(position, buffer.length - delimiter.length + 1));
        return;
      }
      const after = at + delimiter.length;
      if (buffer.length < after + 2) {
        carry = buffer.subarray(at);
        return;
      }
      if (buffer[after] === 0x2d && buffer[after + 1] === 0x2d) {
        ended = true;
        return;
      }
      const headersEnd = buffer.indexOf("\r\n\r\n", after);
      if (headersEnd < 0) {
        if (buffer.length - after > MAX_PART_HEADER_BYTES) throw malformed("A part's headers are too long.");
        carry = buffer.subarray(at);
        return;
      }
      checkPartHeaders(buffer.subarray(after, headersEnd).toString("latin1"));
      position = headersEnd + 4;
      // What was inspected is dropped, so the carried bytes stay small whatever the chunking.
      buffer = buffer.subarray(position);
      position = 0;
    }
  };
  /** Whether a delimiter starts in `chunk`, or in the carried bytes and ends in it. */
  const delimiterIn = (chunk: Buffer): boolean =>
    chunk.includes(delimiter) ||
    Buffer.concat([carry, chunk.subarray(0, delimiter.length - 1)]).includes(delimiter);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        inspect(chunk);
      } catch (error) {
        return callback(error as Error);
      }
      callback(null, chunk);
    },
  });
}

/** The last `length` bytes of `before` followed by `chunk`: a view of `chunk` when it is that long. */
function tail(before: Buffer, chunk: Buffer, length: number): Buffer {
  if (chunk.length >= length) return chunk.subarray(chunk.length - length);
  const joined = Buffer.concat([before, chunk]);
  return joined.subarray(Math.max(0, joined.length - length));
}

/** One part's header block, from just after its delimiter (transport padding, CRLF, then the lines). */
function checkPartHeaders(block: string): void {
  const [padding = "", ...lines] = block.split("\r\n");
  if (padding.trim() !== "") throw malformed("A delimiter line carries more than the boundary.");
  const seen = new Set<string>();
  for (const line of lines) {
    if (/^[ \t]/.test(line)) throw malformed("A part header is folded over two lines.");
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    if (colon <= 0 || seen.has(name))
      throw malformed("A part header is missing its name, or is given twice.");
    seen.add(name);
    if (name !== "content-disposition") continue;
    const parameters = splitParameters(line.slice(colon + 1)).slice(1);
    const count = (what: string) =>
      parameters.filter(([parameter]) => parameter === what || parameter === `${what}*`).length;
    if (count("name") !== 1 || count("filename") > 1) {
      throw malformed("A part's Content-Disposition must name it exactly once.");
    }
  }
  if (!seen.has("content-disposition")) throw malformed("A part has no Content-Disposition.");
}

/**
 * A header value split at its top-level semicolons: the value, then each parameter as a lower-cased name
 * and its value unquoted. A semicolon inside a quoted string does not split.
 */
function splitParameters(value: string): [string, string][] {
  const pieces: string[] = [];
  let current = "";
  let quoted = false;
  for (let index = 0; index < value.length; index += 1) {
    const char = value[index] as string;
    if (quoted && char === "\\") {
      current += char + (value[index + 1] ?? "");
      index += 1;
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (char === ";" && !quoted) {
      pieces.push(current);
      current = "";
    } else current += char;
  }
  pieces.push(current);
  return pieces.map((piece, index): [string, string] => {
    if (index === 0) return [piece, ""];
    const equals = piece.indexOf("=");
    const name = (equals < 0 ? piece : piece.slice(0, equals)).trim().toLowerCase();
    const raw = equals < 0 ? "" : piece.slice(equals + 1).trim();
    return [name, raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, "$1") : raw];
  });
}

function malformed(message: string): S3Refusal {
  return new S3Refusal(
    400,
    "MalformedPOSTRequest",
    `The body of your POST request is not well-formed multipart/form-data. ${message}`,
  );
}
