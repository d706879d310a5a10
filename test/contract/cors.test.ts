import { describe, expect, it } from "vitest";
import { corsHeaders, preflight } from "../../contract/cors";
import { ForbiddenError } from "../../contract/errors";

const ALLOWED = ["https://notes.example.com", "http://localhost:5173"];

describe("corsHeaders", () => {
  it.each(ALLOWED)("grants the configured origin %s by name, credentialed, varying by Origin", (origin) => {
    expect(corsHeaders(origin, ALLOWED)).toEqual({
      "access-control-allow-origin": origin,
      "access-control-allow-credentials": "true",
      "access-control-expose-headers": "Content-Length, Content-Range, ETag",
      vary: "Origin",
    });
  });

  it.each([
    ["no Origin header", undefined],
    ["an empty Origin", ""],
    ["another site", "https://evil.example"],
    ["a trailing slash", "https://notes.example.com/"],
    ["another scheme", "http://notes.example.com"],
    ["another port", "https://notes.example.com:8443"],
    ["another case", "https://Notes.Example.com"],
    ["a subdomain", "https://app.notes.example.com"],
    ["a suffix attack", "https://notes.example.com.evil.example"],
    ["the opaque origin", "null"],
    ["a wildcard", "*"],
  ])("grants nothing for %s, and says the answer varies by Origin", (_what, origin) => {
    expect(corsHeaders(origin, ALLOWED)).toEqual({ vary: "Origin" });
  });

  it("grants nothing when no origin is configured, and says the answer varies by Origin", () => {
    expect(corsHeaders(ALLOWED[0], [])).toEqual({ vary: "Origin" });
  });
});

describe("preflight", () => {
  it("answers a configured origin's preflight 204 with the whole grant, never stored", () => {
    // Act
    const response = preflight("https://notes.example.com", ALLOWED);

    // Assess
    expect(response).toEqual({
      status: 204,
      headers: {
        "cache-control": "no-store",
        "access-control-allow-origin": "https://notes.example.com",
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "Content-Length, Content-Range, ETag",
        vary: "Origin",
        "access-control-allow-methods": "GET, HEAD, POST, DELETE, OPTIONS",
        "access-control-allow-headers": "Authorization, Content-Type, Range, If-None-Match",
        "access-control-max-age": "600",
      },
      body: "",
    });
  });

  it("refuses another origin's preflight with 403 cors_origin_not_allowed", () => {
    // Act
    const refuse = () => preflight("https://evil.example", ALLOWED);

    // Assess
    expect(refuse).toThrow(ForbiddenError);
    expect(refuse).toThrow(
      expect.objectContaining({ status: 403, code: "cors_origin_not_allowed", headers: {} }),
    );
  });

  it("answers a plain OPTIONS (no Origin) 204 with the Allow list and no CORS headers", () => {
    // Act
    const response = preflight(undefined, ALLOWED);

    // Assess
    expect(response).toEqual({
      status: 204,
      headers: { "cache-control": "no-store", allow: "GET, HEAD, POST, DELETE, OPTIONS" },
      body: "",
    });
  });
});
