import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pngBytes } from "../support/images";
import {
  imagesPath,
  makeOrigin,
  startMetadata,
  type TestMetadata,
  type TestOrigin,
  uploadForm,
} from "../support/origin";
import { assertProperty, propertyTimeoutMs } from "../support/properties";
import { startS3Server, type TestS3 } from "../support/s3Server";

/**
 * Multipart bodies, broken on purpose: truncated, with corrupted boundaries, duplicated parts, huge part
 * headers, binary noise, the wrong type. Each goes through the real origin app over a real S3-compatible
 * server and SQLite, and each must be a 4xx of the contract (never a 5xx), leaving no object and no
 * record behind. Every generated body is invalid by construction, and says which 4xx it must get.
 */

const RUNS = 600;
const ENTRY = { journalId: "journal-mp", entryId: "entry-mp" } as const;
/** The test origin's direct-upload limit (test/support/origin.ts) and the multipart overhead allowed. */
const MAX_FILE_BYTES = 64 * 1024;
const MAX_BODY_BYTES = MAX_FILE_BYTES + 16 * 1024;

let s3: TestS3;
let metadata: TestMetadata;
let origin: TestOrigin;

beforeAll(async () => {
  s3 = await startS3Server();
  metadata = await startMetadata("sqlite");
  origin = await makeOrigin({ s3, metadata: metadata.store });
});

afterAll(async () => {
  await metadata?.stop();
  await s3?.stop();
});

interface Part {
  readonly name: string;
  readonly filename?: string;
  readonly headers?: readonly string[];
  readonly bytes: Uint8Array;
}

/** A body and its `Content-Type`, with the answer the contract gives it. */
interface BrokenUpload {
  readonly label: string;
  readonly contentType: string | undefined;
  readonly body: Buffer;
  readonly status: 400 | 413 | 415;
  readonly code: "invalid_upload" | "empty_file" | "too_large" | "unsupported_type";
}

const CRLF = "\r\n";

/** A `multipart/form-data` body, written byte by byte as RFC 7578 says. */
function multipart(boundary: string, parts: readonly Part[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `Content-Disposition: form-data; name="${part.name}"${
      part.filename === undefined ? "" : `; filename="${part.filename}"`
    }`;
    const type = part.filename === undefined ? [] : ["Content-Type: image/png"];
    const headers = [disposition, ...type, ...(part.headers ?? [])].join(CRLF);
    chunks.push(
      Buffer.from(`--${boundary}${CRLF}${headers}${CRLF}${CRLF}`, "latin1"),
      Buffer.from(part.bytes),
    );
    chunks.push(Buffer.from(CRLF));
  }
  chunks.push(Buffer.from(`--${boundary}--${CRLF}`));
  return Buffer.concat(chunks);
}

// A valid image inside most broken bodies, so that only the body's shape can be why it is refused.
const image = fc.integer({ min: 1, max: 1_000_000 }).map((seed) => pngBytes(4 + (seed % 12), 3, seed));
/**
 * Boundaries as clients make them: long and random. (Node 20's multipart parser refuses any body whose
 * content holds the boundary text, even without the delimiter's "--": short boundaries over random bytes
 * would be refused for that alone, which is not what these cases search.)
 */
const boundary = fc.stringMatching(/^[A-Za-z0-9'+_.-]{23,69}[A-Za-z0-9]$/);
const filePart = image.map((bytes): Part => ({ name: "file", filename: "photo.png", bytes }));
const namePart = fc
  .string({ maxLength: 40 })
  .map((text): Part => ({ name: "name", bytes: Buffer.from(text) }));
const validParts = fc
  .tuple(filePart, fc.option(namePart, { nil: undefined }), fc.boolean())
  .map(([file, name, nameFirst]) => {
    if (!name) return [file];
    return nameFirst ? [name, file] : [file, name];
  });
const multipartType = (value: string) => `multipart/form-data; boundary=${value}`;

const truncated = fc
  .tuple(boundary, validParts, fc.double({ min: 0, max: 1, noNaN: true }))
  .map(([mark, parts, fraction]): BrokenUpload => {
    const body = multipart(mark, parts);
    // Anything short of the closing delimiter's final "--" is an incomplete body.
    const cut = Math.floor(fraction * (body.byteLength - 3));
    return {
      label: `truncated at ${cut} of ${body.byteLength}`,
      contentType: multipartType(mark),
      body: body.subarray(0, cut),
      status: 400,
      code: "invalid_upload",
    };
  });

const corruptedBoundary = fc
  .tuple(boundary, validParts, fc.constantFrom("declared", "every-delimiter", "closing", "missing-parameter"))
  .chain(([mark, parts, where]) =>
    fc.tuple(
      fc.constant(mark),
      fc.constant(parts),
      fc.constant(where),
      fc.nat(mark.length),
      fc.constantFrom("x", "-", " ", "\0"),
    ),
  )
  .map(([mark, parts, where, at, character]): BrokenUpload => {
    const other = mark.slice(0, at) + (mark[at] === character ? "Q" : character) + mark.slice(at + 1);
    const body = multipart(mark, parts).toString("latin1");
    let declared = multipartType(mark);
    let sent = body;
    if (where === "declared") declared = multipartType(other.replace(/[\s\0]/g, "Z") || "Z");
    if (where === "every-delimiter") sent = body.replaceAll(`--${mark}`, `--${other}`);
    if (where === "closing") sent = body.replace(`--${mark}--`, `--${other}--`);
    if (where === "missing-parameter") declared = "multipart/form-data; charset=utf-8";
    return {
      label: `boundary corrupted: ${where}`,
      contentType: declared,
      body: Buffer.from(sent, "latin1"),
      status: 400,
      code: "invalid_upload",
    };
  })
  // A character change that happens to leave the very same boundary is no corruption.
  .filter((upload) => upload.body.toString("latin1").includes("--") && !isSameAsValid(upload));

function isSameAsValid(upload: BrokenUpload): boolean {
  const declared = /boundary=(.*)$/.exec(upload.contentType ?? "")?.[1];
  const text = upload.body.toString("latin1");
  return (
    declared !== undefined && text.startsWith(`--${declared}\r\n`) && text.endsWith(`--${declared}--\r\n`)
  );
}

const duplicated = fc
  .tuple(
    boundary,
    filePart,
    filePart,
    namePart,
    fc.constantFrom("file-twice", "same-file-twice", "name-twice", "name-as-file", "file-as-text", "no-file"),
  )
  .map(([mark, file, another, name, how]): BrokenUpload => {
    const parts: Record<typeof how, Part[]> = {
      "file-twice": [file, another],
      "same-file-twice": [file, name, file],
      "name-twice": [file, name, name],
      "name-as-file": [file, { ...name, filename: "name.txt" }],
      "file-as-text": [{ name: "file", bytes: file.bytes }],
      "no-file": [name, { ...file, name: "File" }, { ...file, name: "files" }],
    };
    return {
      label: `parts: ${how}`,
      contentType: multipartType(mark),
      body: multipart(mark, parts[how]),
      status: 400,
      code: "invalid_upload",
    };
  });

const hugeHeaders = fc
  .tuple(
    boundary,
    filePart,
    fc.integer({ min: MAX_BODY_BYTES + 1, max: MAX_BODY_BYTES + 64 * 1024 }),
    fc.constantFrom("header-line", "filename", "many-headers"),
  )
  .map(([mark, file, size, where]): BrokenUpload => {
    const filler = "h".repeat(size);
    const part: Part =
      where === "filename"
        ? { ...file, filename: filler }
        : where === "header-line"
          ? { ...file, headers: [`X-Padding: ${filler}`] }
          : {
              ...file,
              headers: Array.from({ length: Math.ceil(size / 64) }, (_, i) => `X-H${i}: ${"v".repeat(56)}`),
            };
    return {
      label: `huge part headers: ${where}`,
      contentType: multipartType(mark),
      body: multipart(mark, [part]),
      status: 413,
      code: "too_large",
    };
  });

/** Bytes no allowed image starts with (PNG, JPEG, GIF, WebP, AVIF all have their magic in the first 12). */
const noise = fc
  .uint8Array({ minLength: 1, maxLength: 4096 })
  .map((bytes) => Buffer.concat([Buffer.from("NOISE"), bytes]));
const binaryNoise = fc
  .tuple(boundary, noise, fc.constantFrom("whole-body", "file-content", "empty-file"))
  .map(([mark, bytes, where]): BrokenUpload => {
    if (where === "whole-body") {
      return {
        label: "noise as the body",
        contentType: multipartType(mark),
        body: bytes,
        status: 400,
        code: "invalid_upload",
      };
    }
    const file: Part = {
      name: "file",
      filename: "photo.png",
      bytes: where === "empty-file" ? new Uint8Array() : bytes,
    };
    return where === "empty-file"
      ? {
          label: "empty file",
          contentType: multipartType(mark),
          body: multipart(mark, [file]),
          status: 400,
          code: "empty_file",
        }
      : {
          label: "noise as the file",
          contentType: multipartType(mark),
          body: multipart(mark, [file]),
          status: 415,
          code: "unsupported_type",
        };
  });

const wrongType = fc
  .tuple(
    boundary,
    validParts,
    fc.constantFrom(
      undefined,
      "application/octet-stream",
      "image/png",
      "text/plain",
      "multipart/mixed; boundary=B",
      "multipart/form-data",
      "application/x-www-form-urlencoded",
      "multipart/form-data-x; boundary=B",
    ),
  )
  .map(
    ([mark, parts, type]): BrokenUpload => ({
      label: `content type ${type}`,
      contentType: type?.replace("boundary=B", `boundary=${mark}`),
      body: multipart(mark, parts),
      status: 400,
      code: "invalid_upload",
    }),
  );

const oversizedFile = fc
  .tuple(boundary, fc.integer({ min: MAX_FILE_BYTES + 1, max: MAX_FILE_BYTES + 8 * 1024 }))
  .map(([mark, size]): BrokenUpload => {
    const bytes = Buffer.concat([pngBytes(2, 2, size), randomBytes(size)]).subarray(0, size);
    return {
      label: `file of ${size} bytes`,
      contentType: multipartType(mark),
      body: multipart(mark, [{ name: "file", filename: "big.png", bytes }]),
      status: 413,
      code: "too_large",
    };
  });

/** fast-check reports a failing body by what it is, its type and its first bytes, not as a byte array. */
function described(upload: BrokenUpload): BrokenUpload {
  const start = JSON.stringify(upload.body.subarray(0, 160).toString("latin1"));
  const type = JSON.stringify(upload.contentType);
  return Object.assign(upload, {
    [fc.toStringMethod]: () =>
      `${upload.label}; content-type ${type}; ${upload.body.byteLength} bytes: ${start}`,
  });
}

const brokenUpload = fc
  .oneof(
    { weight: 3, arbitrary: truncated },
    { weight: 3, arbitrary: corruptedBoundary },
    { weight: 2, arbitrary: duplicated },
    { weight: 1, arbitrary: hugeHeaders },
    { weight: 2, arbitrary: binaryNoise },
    { weight: 1, arbitrary: wrongType },
    { weight: 1, arbitrary: oversizedFile },
  )
  .map(described);

async function storedNothing(): Promise<void> {
  expect(await s3.keys("")).toEqual([]);
  expect(await metadata.stored()).toEqual([]);
}

describe("a broken multipart upload", () => {
  it(
    "is the contract's 4xx, never a 5xx, and leaves no object and no record",
    async () => {
      const seen = new Map<string, number>();
      const property = fc.asyncProperty(brokenUpload, async (upload) => {
        // Prepare
        const headers: Record<string, string> = upload.contentType
          ? { "content-type": upload.contentType }
          : {};
        const kind = upload.label.replace(/[:\d].*$/, "").trim();
        seen.set(kind, (seen.get(kind) ?? 0) + 1);

        // Act
        const response = await origin.send("POST", imagesPath(ENTRY), {
          entry: ENTRY,
          body: new Uint8Array(upload.body),
          headers,
        });

        // Assess
        const answer = (await response.json()) as { error?: { code?: string } };
        expect({ label: upload.label, status: response.status, code: answer.error?.code }).toEqual({
          label: upload.label,
          status: upload.status,
          code: upload.code,
        });
        expect(response.headers.get("cache-control")).toBe("no-store");
        await storedNothing();
      });
      await assertProperty("broken multipart uploads", property, RUNS);
      console.info("[property] broken multipart uploads by kind:", Object.fromEntries(seen));
    },
    propertyTimeoutMs(RUNS, 15),
  );

  it("is not refused for want of a working store: the same origin stores a valid upload", async () => {
    // Act
    const response = await origin.upload(ENTRY, uploadForm(pngBytes(5, 5, 42)));

    // Assess
    expect(response.status).toBe(201);
    expect(await s3.keys("dev/")).toHaveLength(1);
    expect(await metadata.stored()).toHaveLength(1);
  });
});
