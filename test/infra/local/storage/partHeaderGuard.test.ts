import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { partHeaderGuard } from "../../../../infra/local/storage/partHeaderGuard";

const BOUNDARY = "----gatewayBoundary7MA4YWxkTrZu0gW";

/** A form of two fields and one file, with `fileHeaders` as the file part's header lines. */
function form(fileHeaders: string, file: Buffer): Buffer {
  const part = (headers: string, body: Buffer | string) =>
    Buffer.concat([
      Buffer.from(`--${BOUNDARY}\r\n${headers}\r\n\r\n`),
      Buffer.from(body),
      Buffer.from("\r\n"),
    ]);
  return Buffer.concat([
    part('Content-Disposition: form-data; name="key"', "incoming/a/b"),
    part('Content-Disposition: form-data; name="policy"', "e30="),
    part(fileHeaders, file),
    Buffer.from(`--${BOUNDARY}--\r\n`),
  ]);
}

/** `bytes` through the guard in chunks of `size`: what came out, or the error it stopped with. */
async function guarded(bytes: Buffer, size: number): Promise<Buffer | Error> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  const out: Buffer[] = [];
  try {
    await pipeline(Readable.from(chunks), partHeaderGuard(BOUNDARY), async (source) => {
      for await (const chunk of source) out.push(chunk as Buffer);
    });
  } catch (error) {
    return error as Error;
  }
  return Buffer.concat(out);
}

// File data full of near-delimiters: CRLFs, dashes and the boundary's own start, cut short.
const FILE = Buffer.concat(
  Array.from({ length: 40 }, (_, index) =>
    Buffer.from(`\r\n--${BOUNDARY.slice(0, index % BOUNDARY.length)}x${"\r\n-".repeat(index % 5)}`),
  ),
);
const SIZES = [1, 2, 3, 5, 7, 13, 31, 64, 100, 257, 1024, 65_536];

describe("partHeaderGuard", () => {
  it.each(SIZES)("passes a well-formed form through byte for byte in chunks of %i", async (size) => {
    // Prepare
    const bytes = form('Content-Disposition: form-data; name="file"; filename="a.png"', FILE);

    // Act
    const out = await guarded(bytes, size);

    // Assess
    expect(out).toBeInstanceOf(Buffer);
    expect((out as Buffer).equals(bytes)).toBe(true);
  });

  it.each(SIZES)("refuses a part header with two names wherever the chunks split it (%i)", async (size) => {
    // Prepare
    const bytes = form('Content-Disposition: form-data; name="file"; name="key"; filename="a.png"', FILE);

    // Act
    const out = await guarded(bytes, size);

    // Assess
    expect(out).toMatchObject({ code: "MalformedPOSTRequest" });
  });

  it.each(SIZES)("refuses a header given twice wherever the chunks split it (%i)", async (size) => {
    // Prepare
    const headers =
      'Content-Disposition: form-data; name="file"\r\nContent-Disposition: form-data; name="key"';
    const bytes = form(headers, FILE);

    // Act
    const out = await guarded(bytes, size);

    // Assess
    expect(out).toMatchObject({ code: "MalformedPOSTRequest" });
  });
});
