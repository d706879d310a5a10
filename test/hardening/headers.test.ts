import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type {
  CloudFrontRequest,
  CloudFrontRequestEvent,
  CloudFrontRequestHandler,
  CloudFrontResultResponse,
} from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatSigningKeys } from "../../contract/keyLoaders";
import { IMAGE_CONTENT_SECURITY_POLICY } from "../../contract/responseHeaders";
import { resolveEdgeConfig } from "../../edge/config";
import { bundleEdge } from "../../infra/aws/bundle";
import { type LocalGateway, startLocalGateway } from "../../infra/local/gateway/LocalGateway";
import { createLocalOrigin } from "../../infra/local/gateway/localOrigin";
import type { DemoUser } from "../../infra/local/gateway/localState";
import type { ImageRecord } from "../../origin/domain/ports";
import { synthGateway } from "../infra/aws/synthGateway";
import { ACCESS, CONTEXT, IMAGE_ID, loadEvent, makeKey } from "../support/edge";
import { pngBytes, svg } from "../support/images";
import { FaultyJournalsApi } from "../support/journalsApi";
import { uploadForm } from "../support/origin";

/**
 * The contract's headers, asserted where they are made: on the local gateway over HTTP, and for AWS in
 * the synthesized templates and in the edge bundle CloudFront runs.
 *
 * - Image responses: `X-Content-Type-Options: nosniff` and the CSP that runs nothing.
 * - The access cookie: `HttpOnly`, `Secure`, `SameSite=None` and the entry's own `Path`.
 * - Error responses, from the edge, the origin and the bucket alike: `Cache-Control: no-store`.
 */

const TTL = 300;
const MISSING_IMAGE = "0a0a0a0a-0a0a-4a0a-8a0a-0a0a0a0a0a0a";

describe("on the local gateway", () => {
  let dataDir: string;
  let gateway: LocalGateway;
  let alice: DemoUser;
  let entry: string;
  let record: ImageRecord;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "gateway-headers-"));
    gateway = await startLocalGateway({
      env: { DATA_DIR: dataDir, TOKEN_TTL_SECONDS: String(TTL), MAX_DIRECT_UPLOAD_BYTES: String(64 * 1024) },
      createOrigin: createLocalOrigin,
      port: 0,
      log: () => undefined,
    });
    alice = gateway.demoUsers?.[0] as DemoUser;
    entry = `/journals/${alice.journals[0]?.id}/entries/${alice.journals[0]?.entries[0]?.id}`;
    const upload = await fetch(`${gateway.url}/api${entry}/images`, {
      method: "POST",
      headers: { authorization: alice.authorization },
      body: uploadForm(pngBytes(9, 9, 3)),
    });
    record = (await upload.json()) as ImageRecord;
  });

  afterAll(async () => {
    await gateway?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function token(): Promise<{ token: string; cookie: string }> {
    const response = await fetch(`${gateway.url}/api${entry}/access`, {
      method: "POST",
      headers: { authorization: alice.authorization },
    });
    return {
      token: ((await response.json()) as { token: string }).token,
      cookie: response.headers.get("set-cookie") ?? "",
    };
  }

  it("sends nosniff, the CSP and a private lifetime with every image response", async () => {
    // Prepare
    const { token: value } = await token();
    const url = `${gateway.url}${record.url}?token=${value}`;
    const etag = (await fetch(url, { method: "HEAD" })).headers.get("etag") ?? "";

    // Act
    const answers = [
      await fetch(url),
      await fetch(url, { method: "HEAD" }),
      await fetch(url, { headers: { range: "bytes=0-3" } }),
      await fetch(url, { headers: { "if-none-match": etag } }),
    ];

    // Assess
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 206, 304]);
    for (const answer of answers) {
      expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
      expect(answer.headers.get("content-security-policy")).toBe(IMAGE_CONTENT_SECURITY_POLICY);
      expect(answer.headers.get("cache-control")).toBe(`private, max-age=${TTL}`);
    }
  });

  it("sets the access cookie HttpOnly, Secure, SameSite=None, for the entry's path alone", async () => {
    // Act
    const { token: value, cookie } = await token();

    // Assess
    const [pair, ...attributes] = cookie.split(";").map((part) => part.trim());
    expect(pair).toBe(`image_token=${value}`);
    expect(attributes.sort()).toEqual(
      ["HttpOnly", `Max-Age=${TTL}`, `Path=${entry}/`, "SameSite=None", "Secure"].sort(),
    );
  });

  it("answers every error, from the edge, the origin and the bucket, with the contract's JSON and no-store", async () => {
    // Prepare
    const { token: value } = await token();
    const alices = { authorization: alice.authorization };
    const bob = gateway.demoUsers?.[1] as DemoUser;
    const errors: [string, Promise<Response>, number][] = [
      // the edge
      ["invalid id", fetch(`${gateway.url}/journals/..%2F/entries/e/images/${IMAGE_ID}`), 400],
      ["upper-case image id", fetch(`${gateway.url}${entry}/images/${IMAGE_ID.toUpperCase()}`), 400],
      ["no credential", fetch(`${gateway.url}${record.url}`), 401],
      ["bad token", fetch(`${gateway.url}${record.url}?token=x.y.z`), 401],
      [
        "another user",
        fetch(`${gateway.url}${record.url}`, { headers: { authorization: bob.authorization } }),
        403,
      ],
      ["unknown path", fetch(`${gateway.url}/nothing/here`), 404],
      ["wrong method", fetch(`${gateway.url}/api${entry}/images`, { method: "PUT", headers: alices }), 405],
      [
        "preflight from elsewhere",
        fetch(`${gateway.url}/api${entry}/images`, {
          method: "OPTIONS",
          headers: { origin: "https://evil.test" },
        }),
        403,
      ],
      // the origin
      [
        "no such record",
        fetch(`${gateway.url}/api${entry}/images/${MISSING_IMAGE}`, { headers: alices }),
        404,
      ],
      [
        "not multipart",
        fetch(`${gateway.url}/api${entry}/images`, { method: "POST", headers: alices, body: "x" }),
        400,
      ],
      [
        "not an image",
        fetch(`${gateway.url}/api${entry}/images`, {
          method: "POST",
          headers: alices,
          body: uploadForm(svg()),
        }),
        415,
      ],
      [
        "too large",
        fetch(`${gateway.url}/api${entry}/images`, {
          method: "POST",
          headers: alices,
          body: uploadForm(new Uint8Array(128 * 1024)),
        }),
        413,
      ],
      // the bucket
      ["no such image", fetch(`${gateway.url}${entry}/images/${MISSING_IMAGE}?token=${value}`), 404],
      [
        "unsatisfiable range",
        fetch(`${gateway.url}${record.url}?token=${value}`, { headers: { range: "bytes=99999-" } }),
        416,
      ],
    ];

    // Act + Assess
    for (const [what, answer, status] of errors) {
      const response = await answer;
      expect(response.status, what).toBe(status);
      expect(response.headers.get("cache-control"), what).toBe("no-store");
      expect(response.headers.get("content-type"), what).toMatch(/^application\/json/);
      expect(await response.json(), what).toEqual({
        error: { code: expect.stringMatching(/^[a-z_]+$/), message: expect.any(String) },
      });
    }
  });
});

describe("for AWS", () => {
  const journals = new FaultyJournalsApi(ACCESS);
  let dir: string;
  let handler: CloudFrontRequestHandler;
  let synth: Awaited<ReturnType<typeof synthGateway>>;

  beforeAll(async () => {
    const journalsApiUrl = await journals.start();
    dir = await mkdtemp(join(tmpdir(), "headers-edge-"));
    process.env.HEADERS_TEST_SIGNING_KEYS = formatSigningKeys([makeKey("headers")]);
    const config = resolveEdgeConfig({
      journalsApiUrl,
      signingKeys: { type: "env", variable: "HEADERS_TEST_SIGNING_KEYS" },
    });
    const bundle = await bundleEdge(dir, config);
    ({ handler } = (await import(pathToFileURL(bundle.file).href)) as { handler: CloudFrontRequestHandler });
    synth = await synthGateway({
      journalsApiUrl,
      tokenTtlSeconds: String(TTL),
      corsAllowedOrigins: "https://notes.test",
    });
  }, 60_000);

  afterAll(async () => {
    delete process.env.HEADERS_TEST_SIGNING_KEYS;
    await journals.stop();
    await synth?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("the edge bundle answers every error it generates with no-store", async () => {
    // Prepare: real viewer-request events, each turned into a refusal
    const event = (change: Partial<CloudFrontRequest>): CloudFrontRequestEvent => {
      const fixture = loadEvent("image-authorization");
      const record = fixture.Records[0] as CloudFrontRequestEvent["Records"][0];
      record.cf.request = { ...record.cf.request, ...change };
      return fixture;
    };
    const refusals = [
      event({ uri: "/journals/../entries/e/images/x" }),
      event({ headers: {} }),
      event({ headers: {}, querystring: "token=x.y.z" }),
      event({ headers: { authorization: [{ key: "Authorization", value: "Bearer nobody" }] } }),
      event({ method: "DELETE" }),
      event({ uri: "/elsewhere" }),
      event({ method: "OPTIONS", headers: { origin: [{ key: "Origin", value: "https://evil.test" }] } }),
    ];

    // Act
    const answers = (await Promise.all(
      refusals.map((refusal) => handler(refusal, CONTEXT, () => undefined)),
    )) as CloudFrontResultResponse[];

    // Assess
    expect(answers.map((answer) => answer.status)).toEqual(["400", "401", "401", "401", "405", "404", "403"]);
    for (const answer of answers) {
      expect(answer.headers?.["cache-control"]).toEqual([{ key: "Cache-Control", value: "no-store" }]);
    }
  });

  it("the images behavior adds nosniff and the CSP; the API behavior leaves the origin's no-store alone", () => {
    // Prepare
    const template = synth.gatewayTemplate.toJSON();
    const distribution = Object.values(
      template.Resources as Record<string, { Type: string; Properties: never }>,
    ).find((resource) => resource.Type === "AWS::CloudFront::Distribution")?.Properties as unknown as {
      DistributionConfig: {
        DefaultCacheBehavior: { ResponseHeadersPolicyId: { Ref: string } };
        CacheBehaviors: {
          PathPattern: string;
          ResponseHeadersPolicyId?: { Ref: string };
          CachePolicyId: string;
        }[];
      };
    };
    const policy = (id: { Ref: string } | undefined) =>
      id && template.Resources[id.Ref].Properties.ResponseHeadersPolicyConfig;
    const images = policy(distribution.DistributionConfig.DefaultCacheBehavior.ResponseHeadersPolicyId);
    const api = distribution.DistributionConfig.CacheBehaviors.find(
      (behavior) => behavior.PathPattern === "/api/*",
    );

    // Assess
    expect(images.SecurityHeadersConfig).toEqual({
      ContentTypeOptions: { Override: true },
      ContentSecurityPolicy: { ContentSecurityPolicy: IMAGE_CONTENT_SECURITY_POLICY, Override: true },
    });
    // Never overriding: an image (no Cache-Control of its own) gets the token's lifetime, an error keeps
    // its no-store.
    expect(images.CustomHeadersConfig.Items).toEqual([
      { Header: "Cache-Control", Value: `private, max-age=${TTL}`, Override: false },
      // A variant's format follows Accept, and the same URL answers with or without CORS by Origin.
      { Header: "Vary", Value: "Accept, Origin", Override: true },
    ]);
    // The origin's answers, errors included, keep their own Cache-Control: nothing on the way replaces it.
    expect(policy(api?.ResponseHeadersPolicyId)?.CustomHeadersConfig).toEqual({
      Items: [{ Header: "Vary", Value: "Origin", Override: false }],
    });
    expect(policy(api?.ResponseHeadersPolicyId)?.SecurityHeadersConfig).toBeUndefined();
    expect(api?.CachePolicyId).toBe("4135ea2d-6df8-44a3-9df3-4b5a84be39ad");
  });
});
