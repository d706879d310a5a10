/**
 * A `multipart/form-data` body built by hand rather than by `FormData`, so the same bytes go out by
 * `XMLHttpRequest` in browsers and as a counted stream by `fetch` elsewhere, with an exact length (S3
 * refuses a presigned POST without `Content-Length`), and so the file's own bytes can be told apart from
 * the form around them when reporting progress.
 */
export interface MultipartBody {
  readonly contentType: string;
  /** Every text part, then the file part's headers. */
  readonly head: Uint8Array;
  readonly file: Blob;
  /** The closing boundary. */
  readonly tail: Uint8Array;
  /** Bytes of the whole body. */
  readonly length: number;
}

/**
 * Text parts in the order given, then the file as the part named `file`, last: S3 ignores every field
 * after the file, and the gateway reads any order.
 */
export function multipartBody(
  fields: readonly (readonly [string, string])[],
  file: Blob,
  fileName: string,
): MultipartBody {
  const boundary = `image-gateway-${randomHex(16)}`;
  const parts = fields.map(
    ([name, value]) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"\r\n\r\n${value}\r\n`,
  );
  const fileType = file.type || "application/octet-stream";
  parts.push(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoted(fileName)}"\r\n` +
      `Content-Type: ${fileType}\r\n\r\n`,
  );
  const encoder = new TextEncoder();
  const head = encoder.encode(parts.join(""));
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    head,
    file,
    tail,
    length: head.byteLength + file.size + tail.byteLength,
  };
}

/** A name inside a quoted header parameter, escaped as browsers escape form names (WHATWG HTML). */
function quoted(value: string): string {
  return value.replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (byte) =>
    byte.toString(16).padStart(2, "0"),
  ).join("");
}
