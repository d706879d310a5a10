import type { CloudFrontRequest, CloudFrontRequestEvent } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KeyRing } from "../../contract/KeyRing";
import { signAccessToken, verifyGrant } from "../../contract/tokens";
import { createViewerRequestHandler } from "../../edge/handler";
import {
  ACCESS,
  ALICE,
  ALLOWED_ORIGIN,
  CONTEXT,
  ENTRY,
  IMAGE_ID,
  isResponse,
  loadEvent,
  makeEdge,
  makeKey,
  type TestEdge,
  withToken,
} from "../support/edge";
import { FaultyJournalsApi } from "../support/journalsApi";

const journals = new FaultyJournalsApi(ACCESS);
const key = makeKey("2026-11");
let edge: TestEdge;
let journalsUrl: string;

beforeAll(async () => {
  journalsUrl = await journals.start();
});
afterAll(() => journals.stop());
beforeEach(async () => {
  journals.reset();
  edge = await makeEdge(journalsUrl, [key]);
});

async function run(event: CloudFrontRequestEvent) {
  const handler = createViewerRequestHandler(async () => edge.deps);
  return handler(event, CONTEXT, () => undefined);
}

async function token(): Promise<string> {
  return (await signAccessToken(await KeyRing.create([key]), ENTRY, 300, edge.clock.seconds)).token;
}

const OBJECT_URI = `/dev/journal-1/entries/entry-1/images/${IMAGE_ID}`;

describe.each(["image-query-token", "image-cookie", "image-authorization"])(
  "viewer-request %s",
  (fixture) => {
    it("sends the request on to S3 at the object key, with nothing of the viewer's credentials", async () => {
      // Prepare
      const event = withToken(loadEvent(fixture), await token());

      // Act
      const result = await run(event);

      // Assess
      if (!result || isResponse(result))
        throw new Error(`expected the request, got ${JSON.stringify(result)}`);
      const request = result as CloudFrontRequest;
      expect(request.uri).toBe(OBJECT_URI);
      expect(request.querystring).toBe("");
      expect(request.headers.cookie).toBeUndefined();
      expect(request.headers.authorization).toBeUndefined();
      expect(JSON.stringify(request)).not.toMatch(/token|test-credential/);
      expect(request.headers.host).toEqual([{ key: "Host", value: "d111111abcdef8.cloudfront.net" }]);
    });
  },
);

describe("viewer-request image-variant-token", () => {
  it("folds the normalized width and Accept's format into the object key, and drops the query", async () => {
    // Prepare: w=0640, an unknown parameter, Chromium's Accept
    const event = withToken(loadEvent("image-variant-token"), await token());

    // Act
    const result = await run(event);

    // Assess
    if (!result || isResponse(result)) throw new Error(`expected the request, got ${JSON.stringify(result)}`);
    const request = result as CloudFrontRequest;
    expect(request.uri).toBe(`${OBJECT_URI}.w640.avif`);
    expect(request.querystring).toBe("");
    expect(journals.calls).toHaveLength(0);
  });

  it("keys a viewer without AVIF or WebP to the original's own format", async () => {
    // Prepare
    const event = withToken(loadEvent("image-variant-token"), await token());
    const request = event.Records[0]?.cf.request as CloudFrontRequest;
    request.headers.accept = [{ key: "Accept", value: "image/png,image/*;q=0.8" }];

    // Act
    const result = (await run(event)) as CloudFrontRequest;

    // Assess
    expect(result.uri).toBe(`${OBJECT_URI}.w640.original`);
  });

  it("answers a width that is not a preset with 400 invalid_variant, before any credential is checked", async () => {
    // Prepare
    const event = loadEvent("image-variant-token");
    (event.Records[0]?.cf.request as CloudFrontRequest).querystring = "w=641&token=not-a-token";

    // Act
    const result = await run(event);

    // Assess
    if (!isResponse(result)) throw new Error("expected a response");
    expect(result.status).toBe("400");
    expect(JSON.parse(result.body ?? "").error.code).toBe("invalid_variant");
    expect(result.headers?.["cache-control"]).toEqual([{ key: "Cache-Control", value: "no-store" }]);
  });
});

describe("viewer-request with repeated headers", () => {
  it("refuses two different Authorization headers with 400 when no token decides first", async () => {
    // Prepare
    const event = loadEvent("image-repeated-headers");
    const request = event.Records[0]?.cf.request as CloudFrontRequest;
    request.headers.cookie = [{ key: "Cookie", value: "theme=dark" }];

    // Act
    const result = await run(event);

    // Assess
    if (!isResponse(result)) throw new Error("expected a response");
    expect(result.status).toBe("400");
    expect(JSON.parse(result.body ?? "").error.code).toBe("ambiguous_credentials");
    expect(journals.calls).toHaveLength(0);
  });

  it("finds the token cookie in the second Cookie header and keeps repeated other headers", async () => {
    // Prepare
    const event = withToken(loadEvent("image-repeated-headers"), await token());

    // Act
    const result = (await run(event)) as CloudFrontRequest;

    // Assess: the cookie decided, so the two Authorization values were never consulted, and are gone
    expect(result.uri).toBe(OBJECT_URI);
    expect(result.headers.cookie).toBeUndefined();
    expect(result.headers.authorization).toBeUndefined();
    expect(journals.calls).toHaveLength(0);
    expect(result.headers["accept-language"]).toHaveLength(2);
  });
});

describe("viewer-request OPTIONS", () => {
  it("answers the preflight itself in CloudFront's response shape", async () => {
    const result = await run(loadEvent("options-preflight"));
    if (!isResponse(result)) throw new Error("expected a response");
    expect(result.status).toBe("204");
    expect(result.headers?.["access-control-allow-origin"]).toEqual([
      { key: "Access-Control-Allow-Origin", value: ALLOWED_ORIGIN },
    ]);
    expect(result.headers?.["cache-control"]).toEqual([{ key: "Cache-Control", value: "no-store" }]);
  });
});

describe("viewer-request POST access", () => {
  it("answers the token and the cookie itself", async () => {
    // Act
    const result = await run(loadEvent("post-access"));

    // Assess
    if (!isResponse(result)) throw new Error("expected a response");
    expect(result.status).toBe("200");
    expect(result.bodyEncoding).toBe("text");
    const body = JSON.parse(result.body ?? "") as { token: string; expires_in: number };
    expect(body.expires_in).toBe(300);
    expect(result.headers?.["set-cookie"]?.[0]?.key).toBe("Set-Cookie");
    expect(result.headers?.["set-cookie"]?.[0]?.value).toContain(`image_token=${body.token};`);
    expect(result.headers?.["content-type"]?.[0]?.value).toBe("application/json; charset=utf-8");
    expect(Buffer.byteLength(JSON.stringify(result))).toBeLessThan(40 * 1024);
  });
});

describe("viewer-request /api/*", () => {
  it("replaces a forged grant with its own and strips credentials", async () => {
    // Act
    const result = (await run(loadEvent("api-list-images"))) as CloudFrontRequest;

    // Assess
    const grants = result.headers["x-image-gateway-grant"] ?? [];
    expect(grants).toHaveLength(1);
    expect(grants[0]?.value).not.toBe("forged.grant.value");
    const claims = { ...ENTRY, method: "GET", path: "/api/journals/journal-1/entries/entry-1/images" };
    await expect(
      verifyGrant(await KeyRing.create([key]), grants[0]?.value, claims, edge.clock.seconds),
    ).resolves.toEqual(claims);
    expect(result.headers.authorization).toBeUndefined();
    expect(result.headers.cookie).toBeUndefined();
    expect(result.uri).toBe("/api/journals/journal-1/entries/entry-1/images");
  });

  it("removes a viewer-sent grant on health, which gets none", async () => {
    // Prepare
    const event = loadEvent("api-health");
    const request = event.Records[0]?.cf.request as CloudFrontRequest;
    request.headers["x-image-gateway-grant"] = [{ key: "X-Image-Gateway-Grant", value: "forged" }];

    // Act
    const result = (await run(event)) as CloudFrontRequest;

    // Assess
    expect(result.uri).toBe("/api/health");
    expect(result.headers["x-image-gateway-grant"]).toBeUndefined();
  });

  it("answers 401 when the journals API refuses, without calling the origin", async () => {
    const event = loadEvent("api-list-images");
    (event.Records[0] as { cf: { request: CloudFrontRequest } }).cf.request.headers.authorization = [
      { key: "Authorization", value: "Bearer unknown" },
    ];
    const result = await run(event);
    if (!isResponse(result)) throw new Error("expected a response");
    expect(result.status).toBe("401");
    expect(JSON.parse(result.body ?? "")).toEqual({
      error: { code: "unauthorized", message: "The journals API did not accept the credential." },
    });
  });

  it("forwards the credential to the journals API, not to the origin", async () => {
    await run(loadEvent("api-list-images"));
    expect(journals.calls[0]?.headers.authorization).toBe(ALICE);
  });
});

describe("viewer-request when the gateway cannot start", () => {
  it("answers 503 and tries again on the next request", async () => {
    // Prepare
    let attempts = 0;
    const handler = createViewerRequestHandler(async () => {
      attempts += 1;
      if (attempts === 1) throw new Error("Secrets Manager unavailable");
      return edge.deps;
    });
    const event = () => withToken(loadEvent("image-authorization"), "unused");

    // Act
    const first = await handler(event(), CONTEXT, () => undefined);
    const second = await handler(event(), CONTEXT, () => undefined);

    // Assess
    if (!isResponse(first)) throw new Error("expected a response");
    expect(first.status).toBe("503");
    expect(first.headers?.["cache-control"]?.[0]?.value).toBe("no-store");
    expect((second as CloudFrontRequest).uri).toBe(OBJECT_URI);
  });
});
