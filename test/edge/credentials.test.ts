import { describe, expect, it } from "vitest";
import { BadRequestError } from "../../contract/errors";
import { type HeaderValues, readAuthorization, readCookie, readCredential } from "../../edge/credentials";

const AUTH = "Bearer app-credential";

describe("readCredential", () => {
  it.each<[string, string, HeaderValues, ReturnType<typeof readCredential>]>([
    [
      "the query token over the cookie and Authorization",
      "token=from-query",
      { cookie: ["image_token=from-cookie"], authorization: [AUTH] },
      { kind: "token", token: "from-query", source: "query" },
    ],
    [
      "the cookie over Authorization",
      "",
      { cookie: ["image_token=from-cookie"], authorization: [AUTH] },
      { kind: "token", token: "from-cookie", source: "cookie" },
    ],
    ["Authorization alone", "", { authorization: [AUTH] }, { kind: "authorization", value: AUTH }],
    ["nothing", "", {}, { kind: "none" }],
    [
      "the token among other parameters",
      "w=320&format=webp&token=abc.def.ghi",
      {},
      { kind: "token", token: "abc.def.ghi", source: "query" },
    ],
    ["a percent-encoded token, decoded", "token=a%2Eb", {}, { kind: "token", token: "a.b", source: "query" }],
    [
      "the cookie when the token parameter is empty",
      "token=",
      { cookie: ["image_token=from-cookie"] },
      { kind: "token", token: "from-cookie", source: "cookie" },
    ],
    [
      "Authorization when the token cookie is empty",
      "",
      { cookie: ["image_token="], authorization: [AUTH] },
      { kind: "authorization", value: AUTH },
    ],
    [
      "Authorization when only a similarly named parameter is sent",
      "tokens=x&image_token=y",
      { authorization: [AUTH] },
      { kind: "authorization", value: AUTH },
    ],
  ])("takes %s", (_what, querystring, headers, credential) => {
    expect(readCredential(querystring, headers)).toEqual(credential);
  });

  it("keeps a bad query token rather than falling back to a valid Authorization", () => {
    expect(readCredential("token=garbage", { authorization: [AUTH] })).toEqual({
      kind: "token",
      token: "garbage",
      source: "query",
    });
  });

  it.each([
    ["two token parameters", "token=a&token=b", {}],
    ["the same token parameter twice", "token=a&token=a", {}],
    ["a token parameter beside an empty one", "token=&token=a", {}],
    ["two different Authorization values", "", { authorization: [AUTH, "Bearer someone-else"] }],
  ])("refuses %s as ambiguous_credentials", (_what, querystring, headers: HeaderValues) => {
    // Act
    const read = () => readCredential(querystring, headers);

    // Assess
    expect(read).toThrow(BadRequestError);
    expect(read).toThrow(expect.objectContaining({ status: 400, code: "ambiguous_credentials" }));
  });

  it("does not look at two Authorization values when a token decides first", () => {
    const headers = { cookie: ["image_token=t"], authorization: [AUTH, "Bearer someone-else"] };
    expect(readCredential("", headers)).toEqual({ kind: "token", token: "t", source: "cookie" });
  });
});

describe("readAuthorization", () => {
  it.each<[string, HeaderValues, ReturnType<typeof readAuthorization>]>([
    ["one value", { authorization: [AUTH] }, { kind: "authorization", value: AUTH }],
    [
      "a value with surrounding spaces, trimmed",
      { authorization: [`  ${AUTH} `] },
      { kind: "authorization", value: AUTH },
    ],
    [
      "the same value twice, as one",
      { authorization: [AUTH, ` ${AUTH}`] },
      { kind: "authorization", value: AUTH },
    ],
    [
      "an empty value beside a real one",
      { authorization: ["", AUTH, "  "] },
      { kind: "authorization", value: AUTH },
    ],
    ["only empty values", { authorization: ["", " "] }, { kind: "none" }],
    ["no header", {}, { kind: "none" }],
    ["a token cookie, which /api/* does not take", { cookie: ["image_token=t"] }, { kind: "none" }],
  ])("reads %s", (_what, headers, credential) => {
    expect(readAuthorization(headers)).toEqual(credential);
  });

  it("keeps the value verbatim inside, case and inner spacing alike", () => {
    expect(readAuthorization({ authorization: ["bearer  Mixed==Case"] })).toEqual({
      kind: "authorization",
      value: "bearer  Mixed==Case",
    });
  });
});

describe("readCookie", () => {
  it.each<[string, string[] | undefined, string | undefined]>([
    ["one cookie among others", ["theme=dark; image_token=t1; lang=en"], "t1"],
    ["a cookie in the second Cookie header", ["theme=dark", "image_token=t2"], "t2"],
    [
      "the first of two, across headers (the most specific path)",
      ["image_token=first", "image_token=second"],
      "first",
    ],
    ["the first of two in one header", ["image_token=first; image_token=second"], "first"],
    ["the next one when the first is empty", ["image_token=; x=1", "image_token=later"], "later"],
    ["a value holding =, whole", ["image_token=a=b=="], "a=b=="],
    ["a value with spaces around, trimmed", ["  image_token =  t3  ;x=1"], "t3"],
    ["nothing for a similarly named cookie", ["ximage_token=a; image_token_old=b"], undefined],
    ["nothing for a pair without =", ["image_token; theme"], undefined],
    ["nothing for a pair with no name", ["=image_token"], undefined],
    ["nothing for no Cookie header", undefined, undefined],
    ["nothing for empty headers", ["", ";;"], undefined],
  ])("finds %s", (_what, headers, value) => {
    expect(readCookie(headers, "image_token")).toBe(value);
  });
});
