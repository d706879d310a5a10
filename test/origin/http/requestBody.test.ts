import { describe, expect, it } from "vitest";
import { BadRequestError } from "../../../contract/errors";
import { PayloadTooLargeError } from "../../../origin/domain/errors";
import { readLimitedBody } from "../../../origin/http/requestBody";

const LIMIT = 1000;
const TOO_LARGE = new PayloadTooLargeError("At most 1000 bytes.");
const UNREADABLE = new BadRequestError("invalid_upload", "The body could not be read.");
const refusals = { tooLarge: () => TOO_LARGE, unreadable: () => UNREADABLE };

/** A POST whose body arrives in `chunks` of the given sizes, streamed, with `headers`. */
function streamed(chunks: readonly number[], headers: Record<string, string> = {}): Request {
  let index = 0;
  const body = new ReadableStream<Uint8Array>({
    pull: (controller) => {
      const size = chunks[index++];
      if (size === undefined) controller.close();
      else controller.enqueue(new Uint8Array(size).fill(index));
    },
  });
  return new Request("http://origin/upload", {
    method: "POST",
    body,
    headers,
    duplex: "half",
  } as RequestInit);
}

/** Every byte of `request`'s body within the limit, or what reading it threw. */
async function read(request: Request): Promise<Uint8Array | unknown> {
  try {
    return new Uint8Array(await readLimitedBody(request, LIMIT, refusals));
  } catch (error) {
    return error;
  }
}

describe("readLimitedBody", () => {
  it.each([
    ["one chunk of exactly the limit", [LIMIT]],
    ["several chunks adding up to the limit", [400, 400, 200]],
    ["less than the limit", [1]],
    ["an empty body", []],
  ])("reads %s whole, unchanged", async (_what, chunks) => {
    // Act
    const bytes = await read(streamed(chunks));

    // Assess
    expect(bytes).toEqual(
      new Uint8Array(chunks.flatMap((size, index) => new Array<number>(size).fill(index + 1))),
    );
  });

  it("gives back a body that arrives in one chunk as that very chunk, not a copy", async () => {
    // Prepare
    const chunk = new Uint8Array(LIMIT).fill(7);
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        controller.enqueue(chunk);
        controller.close();
      },
    });
    const request = new Request("http://origin/upload", {
      method: "POST",
      body,
      duplex: "half",
    } as RequestInit);

    // Act
    const bytes = await readLimitedBody(request, LIMIT, refusals);

    // Assess
    expect(bytes.buffer).toBe(chunk.buffer);
    expect(bytes.byteLength).toBe(LIMIT);
  });

  it.each([
    ["a single chunk one byte over", [LIMIT + 1]],
    ["chunks that pass the limit on the third", [400, 400, 201, 5000]],
  ])("refuses %s with the limit's error", async (_what, chunks) => {
    // Act
    const outcome = await read(streamed(chunks));

    // Assess
    expect(outcome).toBe(TOO_LARGE);
  });

  it("refuses a declared length above the limit before reading a byte", async () => {
    // Prepare: a body that never ends, so only the declared length can answer
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull: () => {
        pulled += 1;
        return new Promise(() => undefined);
      },
    });
    const request = new Request("http://origin/upload", {
      method: "POST",
      body: endless,
      duplex: "half",
      headers: { "content-length": String(LIMIT + 1) },
    } as RequestInit);

    // Act
    const outcome = await read(request);

    // Assess
    expect(outcome).toBe(TOO_LARGE);
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it.each([
    ["a declared length at the limit", String(LIMIT)],
    ["a declared length that is not a number", "lots"],
  ])("reads on with %s, and still stops at the limit", async (_what, contentLength) => {
    // Prepare: the declared length is wrong, the bytes are what count
    const request = streamed([LIMIT, 1], { "content-length": contentLength });

    // Act
    const outcome = await read(request);

    // Assess
    expect(outcome).toBe(TOO_LARGE);
  });

  it("refuses a body cut off before its end as unreadable", async () => {
    // Prepare: the client goes away after the first chunk
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        pulls += 1;
        if (pulls === 1) controller.enqueue(new Uint8Array(10));
        else controller.error(new Error("socket hang up"));
      },
    });
    const request = new Request("http://origin/upload", {
      method: "POST",
      body,
      duplex: "half",
    } as RequestInit);

    // Act
    const outcome = await read(request);

    // Assess
    expect(outcome).toBe(UNREADABLE);
  });

  it("reads a request without a body as empty", async () => {
    // Act
    const bytes = await read(new Request("http://origin/upload"));

    // Assess
    expect(bytes).toEqual(new Uint8Array());
  });
});
