import { describe, expect, it } from "vitest";
import { MethodNotAllowedError, UnauthorizedError } from "../../contract/errors";
import { emptyResponse, errorResponse, jsonResponse } from "../../contract/responses";

const CORS = { "access-control-allow-origin": "https://notes.example.com", vary: "Origin" };

describe("jsonResponse", () => {
  it("answers JSON that no cache keeps, with the caller's headers added", () => {
    // Act
    const response = jsonResponse(200, { token: "t", expires_in: 300 }, CORS);

    // Assess
    expect(response).toEqual({
      status: 200,
      headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...CORS },
      body: '{"token":"t","expires_in":300}',
    });
  });
});

describe("errorResponse", () => {
  it("renders an HttpError as its status and the contract's error JSON, never stored", () => {
    // Act
    const response = errorResponse(new UnauthorizedError("token_expired", "The token has expired."), CORS);

    // Assess
    expect(response.status).toBe(401);
    expect(response.headers).toEqual({
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      ...CORS,
    });
    expect(JSON.parse(response.body)).toEqual({
      error: { code: "token_expired", message: "The token has expired." },
    });
  });

  it("adds the error's own headers: a 405 says what is allowed", () => {
    // Act
    const response = errorResponse(new MethodNotAllowedError(["GET", "HEAD"]), { allow: "stale" });

    // Assess
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe("GET, HEAD");
    expect(response.headers["cache-control"]).toBe("no-store");
  });

  it.each([
    ["an Error", new Error("SQLITE_CORRUPT at /var/task/.data/metadata.sqlite")],
    ["a TypeError", new TypeError("Cannot read properties of undefined (reading 'secret')")],
    ["a string", "connection string postgres://user:password@db"],
    ["undefined", undefined],
    ["an object that looks like an HttpError", { status: 418, code: "teapot", message: "short and stout" }],
  ])("turns %s into a bare 500 that tells nothing of it", (_what, thrown) => {
    // Act
    const response = errorResponse(thrown);

    // Assess
    expect(response.status).toBe(500);
    expect(response.headers["cache-control"]).toBe("no-store");
    expect(JSON.parse(response.body)).toEqual({
      error: { code: "internal_error", message: "The gateway could not answer." },
    });
  });
});

describe("emptyResponse", () => {
  it("answers no body, never stored, with the given headers", () => {
    expect(emptyResponse(204, { allow: "GET" })).toEqual({
      status: 204,
      headers: { "cache-control": "no-store", allow: "GET" },
      body: "",
    });
  });
});
