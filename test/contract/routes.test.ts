import { describe, expect, it } from "vitest";
import { HttpError } from "../../contract/errors";
import { matchRoute } from "../../contract/routes";
import { IMAGE_ID } from "../support/edge";

function refusal(method: string, uri: string): HttpError {
  try {
    matchRoute(method, uri);
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error(`${method} ${uri} was accepted`);
}

describe("matchRoute", () => {
  it("matches an image read", () => {
    // Act
    const route = matchRoute("GET", `/journals/j-1/entries/e_2/images/${IMAGE_ID}`);

    // Assess
    expect(route).toEqual({ kind: "image", journalId: "j-1", entryId: "e_2", imageId: IMAGE_ID });
  });

  it.each([
    ["POST", "/api/journals/j/entries/e/access", { kind: "access", journalId: "j", entryId: "e" }],
    [
      "GET",
      "/api/journals/j/entries/e/images",
      { kind: "api", resource: "images", journalId: "j", entryId: "e" },
    ],
    [
      "POST",
      "/api/journals/j/entries/e/images",
      { kind: "api", resource: "images", journalId: "j", entryId: "e" },
    ],
    [
      "DELETE",
      "/api/journals/j/entries/e/images",
      { kind: "api", resource: "images", journalId: "j", entryId: "e" },
    ],
    [
      "DELETE",
      `/api/journals/j/entries/e/images/${IMAGE_ID}`,
      { kind: "api", resource: "image", journalId: "j", entryId: "e", id: IMAGE_ID },
    ],
    [
      "POST",
      "/api/journals/j/entries/e/uploads",
      { kind: "api", resource: "uploads", journalId: "j", entryId: "e" },
    ],
    [
      "GET",
      `/api/journals/j/entries/e/uploads/${IMAGE_ID}`,
      { kind: "api", resource: "upload", journalId: "j", entryId: "e", id: IMAGE_ID },
    ],
    ["GET", "/api/health", { kind: "health" }],
    ["GET", "/api/openapi.json", { kind: "openapi" }],
  ])("matches %s %s", (method, uri, expected) => {
    expect(matchRoute(method, uri)).toEqual(expected);
  });

  it("accepts UUID journal and entry ids and 128-character ids", () => {
    const long = `a${"b".repeat(127)}`;
    expect(matchRoute("GET", `/journals/${IMAGE_ID}/entries/${long}/images/${IMAGE_ID}`)).toMatchObject({
      journalId: IMAGE_ID,
      entryId: long,
    });
  });

  it.each([
    ["a parent-directory journal id", `/journals/../entries/e/images/${IMAGE_ID}`],
    ["a parent-directory entry id", `/api/journals/j/entries/../images`],
    ["a parent-directory image id", "/journals/j/entries/e/images/.."],
    ["an encoded slash", `/journals/a%2Fb/entries/e/images/${IMAGE_ID}`],
    ["an encoded slash alone", `/journals/%2F/entries/e/images/${IMAGE_ID}`],
    ["an encoded NUL", `/journals/j%00/entries/e/images/${IMAGE_ID}`],
    ["a raw NUL", `/journals/j\u0000/entries/e/images/${IMAGE_ID}`],
    ["a 129-character id", `/journals/${"a".repeat(129)}/entries/e/images/${IMAGE_ID}`],
    ["an empty journal id", `/journals//entries/e/images/${IMAGE_ID}`],
    ["an empty entry id", "/api/journals/j/entries//images"],
    ["an empty image id", "/journals/j/entries/e/images/"],
    ["a non-UUID image id", "/journals/j/entries/e/images/holiday.png"],
    ["an upper-case UUID", `/journals/j/entries/e/images/${IMAGE_ID.toUpperCase()}`],
    ["a UUID with braces", `/journals/j/entries/e/images/{${IMAGE_ID}}`],
    ["an id starting with a dash", `/journals/-j/entries/e/images/${IMAGE_ID}`],
    ["a dot", `/journals/j.k/entries/e/images/${IMAGE_ID}`],
    ["a trailing newline", `/journals/j%0A/entries/e/images/${IMAGE_ID}`],
    ["a non-UUID upload id", "/api/journals/j/entries/e/uploads/1"],
  ])("refuses %s with 400 invalid_id", (_what, uri) => {
    // Act
    const error = refusal("GET", uri);

    // Assess
    expect(error.status).toBe(400);
    expect(error.code).toBe("invalid_id");
  });

  it.each([
    "/",
    "/favicon.ico",
    "/journals/j/entries/e",
    `/journals/j/entries/e/images/${IMAGE_ID}/extra`,
    `/journals/j/entries/e/files/${IMAGE_ID}`,
    "/api",
    "/api/journals/j/entries/e/comments",
    "/api/journals/j/entries/e/access/more",
    "journals/j/entries/e/images",
  ])("answers 404 for %s", (uri) => {
    expect(refusal("GET", uri)).toMatchObject({ status: 404, code: "not_found" });
  });

  it.each([
    ["PUT", `/journals/j/entries/e/images/${IMAGE_ID}`, "GET, HEAD"],
    ["GET", "/api/journals/j/entries/e/access", "POST"],
    ["PATCH", "/api/journals/j/entries/e/images", "GET, POST, DELETE"],
    ["POST", `/api/journals/j/entries/e/images/${IMAGE_ID}`, "GET, DELETE"],
  ])("answers 405 for %s %s with Allow: %s", (method, uri, allow) => {
    expect(refusal(method, uri)).toMatchObject({
      status: 405,
      code: "method_not_allowed",
      headers: { allow },
    });
  });
});
