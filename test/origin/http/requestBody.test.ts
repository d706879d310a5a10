import { describe, expect, it } from "vitest";
import { PayloadTooLargeError } from "../../../origin/domain/errors";
import { limitedBody } from "../../../origin/http/requestBody";

const LIMIT = 1000;
const TOO_LARGE = new PayloadTooLargeError("At most 1000 bytes.");
const tooLarge = () => TOO_LARGE;

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

/** Every byte of `stream`, or what reading it threw. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array | unknown> {
  try {
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (error) {
    return error;
  }
}

describe("limitedBody", () => {
  it.each([
    ["one chunk of exactly the limit", [LIMIT]],
    ["several chunks adding up to the limit", [400, 400, 200]],
    ["less than the limit", [1]],
    ["an empty body", []],
  ])("passes %s through unchanged", async (_what, chunks) => {
    // Prepare
    const body = limitedBody(streamed(chunks), LIMIT, tooLarge);

    // Act
    const bytes = await drain(body.stream);

    // Assess
    expect(bytes).toEqual(
      new Uint8Array(chunks.flatMap((size, index) => new Array<number>(size).fill(index + 1))),
    );
    expect(body.exceeded()).toBe(false);
  });

  it.each([
    ["a single chunk one byte over", [LIMIT + 1]],
    ["chunks that pass the limit on the third", [400, 400, 201, 5000]],
  ])("errors the stream with the limit's error for %s, and says so", async (_what, chunks) => {
    // Prepare
    const body = limitedBody(streamed(chunks), LIMIT, tooLarge);

    // Act
    const outcome = await drain(body.stream);

    // Assess
    expect(outcome).toBe(TOO_LARGE);
    expect(body.exceeded()).toBe(true);
  });

  it("refuses a declared length above the limit before reading a byte", () => {
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
    const act = () => limitedBody(request, LIMIT, tooLarge);

    // Assess
    expect(act).toThrow(TOO_LARGE);
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it.each([
    ["a declared length at the limit", String(LIMIT)],
    ["a declared length that is not a number", "lots"],
  ])("reads on with %s, and still stops at the limit", async (_what, contentLength) => {
    // Prepare: the declared length is wrong, the bytes are what count
    const body = limitedBody(streamed([LIMIT, 1], { "content-length": contentLength }), LIMIT, tooLarge);

    // Act
    const outcome = await drain(body.stream);

    // Assess
    expect(outcome).toBe(TOO_LARGE);
    expect(body.exceeded()).toBe(true);
  });

  it("reads a request without a body as empty", async () => {
    // Act
    const body = limitedBody(new Request("http://origin/upload"), LIMIT, tooLarge);

    // Assess
    expect(await drain(body.stream)).toEqual(new Uint8Array());
    expect(body.exceeded()).toBe(false);
  });
});
