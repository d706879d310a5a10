import { describe, expect, it } from "vitest";
import {
  BadGatewayError,
  BadRequestError,
  ForbiddenError,
  GatewayTimeoutError,
  HttpError,
  InvalidIdError,
  MethodNotAllowedError,
  NotFoundError,
  ServiceUnavailableError,
  UnauthorizedError,
} from "../../contract/errors";

describe("the contract's HTTP errors", () => {
  it.each([
    [new InvalidIdError("journal"), "InvalidIdError", 400, "invalid_id", "The journal id is not valid."],
    [new BadRequestError("bad_thing", "Bad."), "BadRequestError", 400, "bad_thing", "Bad."],
    [new UnauthorizedError("invalid_token", "No."), "UnauthorizedError", 401, "invalid_token", "No."],
    [new ForbiddenError("forbidden", "Not yours."), "ForbiddenError", 403, "forbidden", "Not yours."],
    [new NotFoundError(), "NotFoundError", 404, "not_found", "No such resource."],
    [new NotFoundError("No such image."), "NotFoundError", 404, "not_found", "No such image."],
    [
      new BadGatewayError("journals_unavailable", "Down."),
      "BadGatewayError",
      502,
      "journals_unavailable",
      "Down.",
    ],
    [new ServiceUnavailableError("starting", "Wait."), "ServiceUnavailableError", 503, "starting", "Wait."],
    [
      new GatewayTimeoutError("journals_timeout", "Slow."),
      "GatewayTimeoutError",
      504,
      "journals_timeout",
      "Slow.",
    ],
  ])("%s is a %s: status %i, code %s", (error, name, status, code, message) => {
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name, status, code, message, headers: {} });
  });

  it("renders as the contract's JSON, and nothing else of the error", () => {
    // Prepare
    const error = new ForbiddenError("forbidden", "The credential does not open this entry.");

    // Act
    const rendered = JSON.parse(JSON.stringify(error));

    // Assess
    expect(rendered).toEqual({
      error: { code: "forbidden", message: "The credential does not open this entry." },
    });
  });

  it("names the allowed methods of a 405 in its message and its Allow header", () => {
    // Act
    const error = new MethodNotAllowedError(["GET", "HEAD", "DELETE"]);

    // Assess
    expect(error).toMatchObject({
      status: 405,
      code: "method_not_allowed",
      headers: { allow: "GET, HEAD, DELETE" },
    });
    expect(error.message).toBe("Allowed methods: GET, HEAD, DELETE.");
  });
});
