import { afterEach, describe, expect, it, vi } from "vitest";
import { consoleLog, describeError } from "../../contract/log";

describe("describeError", () => {
  it("gives an error's name and message, never its stack", () => {
    // Prepare
    const error = new TypeError("Cannot read properties of undefined");

    // Act
    const described = describeError(error);

    // Assess
    expect(described).toBe("TypeError: Cannot read properties of undefined");
    expect(described).not.toContain("at ");
  });

  it("adds the name and message of an Error cause", () => {
    // Prepare
    const cause = new Error("socket hang up");
    cause.name = "NetworkError";
    const error = new RangeError("The image store is unavailable.", { cause });

    // Act
    const described = describeError(error);

    // Assess
    expect(described).toBe("RangeError: The image store is unavailable. (NetworkError: socket hang up)");
  });

  it("leaves out a cause that is not an Error, which might carry anything", () => {
    const error = new Error("failed", { cause: { authorization: "Bearer secret" } });
    expect(describeError(error)).toBe("Error: failed");
  });

  it.each([
    ["a string", "Bearer secret-credential"],
    ["an object", { token: "eyJhbGciOi" }],
    ["undefined", undefined],
  ])("says only unknown of %s, which might carry anything", (_what, thrown) => {
    expect(describeError(thrown)).toBe("unknown");
  });
});

describe("consoleLog", () => {
  afterEach(() => vi.restoreAllMocks());

  it("writes one JSON line per entry", () => {
    // Prepare
    const lines: unknown[][] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args));

    // Act
    consoleLog({ level: "info", event: "request", status: 200, note: "two\nlines" });

    // Assess
    expect(lines).toEqual([['{"level":"info","event":"request","status":200,"note":"two\\nlines"}']]);
  });
});
