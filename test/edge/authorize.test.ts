import { SignJWT } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KeyRing } from "../../contract/KeyRing";
import { signAccessToken, verifyAccessToken, verifyGrant } from "../../contract/tokens";
import type { EntryRef } from "../../contract/types";
import { authorize, type Decision, type ViewerRequest } from "../../edge/authorize";
import {
  ACCESS,
  ALICE,
  ALLOWED_ORIGIN,
  BOB,
  ENTRY,
  IMAGE_ID,
  makeEdge,
  makeKey,
  OTHER_ENTRY,
  type TestEdge,
} from "../support/edge";
import { FaultyJournalsApi } from "../support/journalsApi";

const IMAGE_URI = `/journals/${ENTRY.journalId}/entries/${ENTRY.entryId}/images/${IMAGE_ID}`;
const OBJECT_KEY = `dev/${ENTRY.journalId}/entries/${ENTRY.entryId}/images/${IMAGE_ID}`;
const ACCESS_URI = `/api/journals/${ENTRY.journalId}/entries/${ENTRY.entryId}/access`;
const IMAGES_URI = `/api/journals/${ENTRY.journalId}/entries/${ENTRY.entryId}/images`;

const journals = new FaultyJournalsApi(ACCESS);
let journalsUrl: string;
const currentKey = makeKey("2026-11");
const previousKey = makeKey("2026-10");
let edge: TestEdge;

beforeAll(async () => {
  journalsUrl = await journals.start();
});
afterAll(() => journals.stop());
beforeEach(async () => {
  journals.reset();
  edge = await makeEdge(journalsUrl, [currentKey, previousKey]);
});

function request(overrides: Partial<ViewerRequest> & { headers?: Record<string, string[]> }): ViewerRequest {
  return { method: "GET", uri: IMAGE_URI, querystring: "", headers: {}, ...overrides };
}

function status(decision: Decision): number {
  return decision.action === "respond" ? decision.response.status : 0;
}

function errorCode(decision: Decision): string | undefined {
  if (decision.action !== "respond") return undefined;
  return (JSON.parse(decision.response.body) as { error?: { code: string } }).error?.code;
}

async function tokenFor(entry: EntryRef = ENTRY, keys = [currentKey]): Promise<string> {
  const ring = await KeyRing.create(keys);
  return (await signAccessToken(ring, entry, 300, edge.clock.seconds)).token;
}

describe("authorize: ids", () => {
  it.each([
    `/journals/../entries/e/images/${IMAGE_ID}`,
    `/journals/a%2Fb/entries/e/images/${IMAGE_ID}`,
    `/journals/j%00/entries/e/images/${IMAGE_ID}`,
    `/journals/${"a".repeat(129)}/entries/e/images/${IMAGE_ID}`,
    `/journals//entries/e/images/${IMAGE_ID}`,
    "/journals/j/entries/e/images/not-a-uuid",
    "/api/journals/j/entries/%2E%2E/access",
  ])("answers 400 invalid_id for %s before any journals call", async (uri) => {
    // Act
    const decision = await authorize(request({ uri, headers: { authorization: [ALICE] } }), edge.deps);

    // Assess
    expect(status(decision)).toBe(400);
    expect(errorCode(decision)).toBe("invalid_id");
    expect(journals.calls).toHaveLength(0);
  });
});

describe("authorize: journals API answers", () => {
  it.each([
    [200, "read-image", 0],
    [204, "read-image", 0],
    [401, "respond", 401],
    [403, "respond", 403],
    [404, "respond", 403],
    [500, "respond", 502],
    [503, "respond", 502],
    [418, "respond", 502],
    [302, "respond", 502],
    [400, "respond", 502],
  ] as const)("maps a journals %i to %s %i", async (journalsStatus, action, expectedStatus) => {
    // Prepare
    journals.behaviour = journalsStatus;

    // Act
    const decision = await authorize(request({ headers: { authorization: [ALICE] } }), edge.deps);

    // Assess
    expect(decision.action).toBe(action);
    expect(status(decision)).toBe(expectedStatus);
    expect(journals.calls).toHaveLength(1);
  });

  it("answers 504 when the journals API hangs past the timeout", async () => {
    journals.behaviour = "hang";
    const decision = await authorize(request({ headers: { authorization: [ALICE] } }), edge.deps);
    expect(status(decision)).toBe(504);
    expect(errorCode(decision)).toBe("journals_timeout");
  });

  it("answers 502 when the journals API drops the connection", async () => {
    journals.behaviour = "drop";
    const decision = await authorize(request({ headers: { authorization: [ALICE] } }), edge.deps);
    expect(status(decision)).toBe(502);
    expect(errorCode(decision)).toBe("journals_unavailable");
  });

  it("answers 502 when nothing listens at the journals URL", async () => {
    // Prepare
    const closed = new FaultyJournalsApi(ACCESS);
    const url = await closed.start();
    await closed.stop();
    const unreachable = await makeEdge(url, [currentKey]);

    // Act
    const decision = await authorize(request({ headers: { authorization: [ALICE] } }), unreachable.deps);

    // Assess
    expect(status(decision)).toBe(502);
  });

  it("follows the journals double's own rules: bob may not open entry-1, alice may", async () => {
    expect(status(await authorize(request({ headers: { authorization: [BOB] } }), edge.deps))).toBe(403);
    expect((await authorize(request({ headers: { authorization: [ALICE] } }), edge.deps)).action).toBe(
      "read-image",
    );
    expect(
      status(await authorize(request({ headers: { authorization: ["Bearer nobody"] } }), edge.deps)),
    ).toBe(401);
  });

  it("forwards the Authorization header verbatim to the entry's URL", async () => {
    await authorize(request({ headers: { authorization: [ALICE] } }), edge.deps);
    expect(journals.calls[0]).toMatchObject({
      method: "GET",
      path: `/journals/${ENTRY.journalId}/entries/${ENTRY.entryId}`,
      headers: { authorization: ALICE },
    });
  });

  it("rewrites an allowed image read to the object key", async () => {
    const decision = await authorize(request({ headers: { authorization: [ALICE] } }), edge.deps);
    expect(decision).toEqual({ action: "read-image", objectKey: OBJECT_KEY });
  });

  it("answers 401 missing_credentials when nothing is presented", async () => {
    const decision = await authorize(request({}), edge.deps);
    expect(status(decision)).toBe(401);
    expect(errorCode(decision)).toBe("missing_credentials");
    expect(journals.calls).toHaveLength(0);
  });

  it("never logs the credential", async () => {
    journals.behaviour = 500;
    await authorize(request({ headers: { authorization: [ALICE] } }), edge.deps);
    expect(edge.logs.length).toBeGreaterThan(0);
    expect(JSON.stringify(edge.logs)).not.toContain("test-credential-alice");
  });
});

describe("authorize: decision cache", () => {
  it("asks the journals API once for repeated requests, and again after the cache expires", async () => {
    // Prepare
    const auth = request({ headers: { authorization: [ALICE] } });

    // Act
    await authorize(auth, edge.deps);
    await authorize(auth, edge.deps);
    await authorize(auth, edge.deps);
    const callsWhileRemembered = journals.calls.length;
    edge.clock.advance(edge.deps.config.decisionCacheTtlSeconds + 1);
    const afterExpiry = await authorize(auth, edge.deps);

    // Assess
    expect(callsWhileRemembered).toBe(1);
    expect(afterExpiry.action).toBe("read-image");
    expect(journals.calls).toHaveLength(2);
  });

  it("never remembers a decision longer than a token lives", async () => {
    const shortLived = await makeEdge(journalsUrl, [currentKey], {
      tokenTtlSeconds: 10,
      decisionCacheTtlSeconds: 60,
    });
    expect(shortLived.deps.config.decisionCacheTtlSeconds).toBe(10);
  });

  it("keys decisions by entry: another entry is asked about separately", async () => {
    await authorize(request({ headers: { authorization: [ALICE] } }), edge.deps);
    const other = `/journals/${OTHER_ENTRY.journalId}/entries/${OTHER_ENTRY.entryId}/images/${IMAGE_ID}`;
    await authorize(request({ uri: other, headers: { authorization: [ALICE] } }), edge.deps);
    expect(journals.calls).toHaveLength(2);
  });

  it("remembers a refusal briefly and repeats it", async () => {
    const bob = request({ headers: { authorization: [BOB] } });
    expect(status(await authorize(bob, edge.deps))).toBe(403);
    expect(status(await authorize(bob, edge.deps))).toBe(403);
    expect(journals.calls).toHaveLength(1);
    edge.clock.advance(6);
    await authorize(bob, edge.deps);
    expect(journals.calls).toHaveLength(2);
  });

  it("never remembers an outage", async () => {
    // Prepare
    journals.behaviour = 500;
    const auth = request({ headers: { authorization: [ALICE] } });

    // Act
    const first = await authorize(auth, edge.deps);
    journals.behaviour = "rules";
    const second = await authorize(auth, edge.deps);

    // Assess
    expect(status(first)).toBe(502);
    expect(second.action).toBe("read-image");
    expect(journals.calls).toHaveLength(2);
  });

  it("keys the cache by a hash, never the credential", async () => {
    await authorize(request({ headers: { authorization: [ALICE] } }), edge.deps);
    const keys = edge.deps.decisions.keys();
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain("alice");
    expect(keys[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("authorize: access tokens", () => {
  it("opens an image read with a valid query token and no network call", async () => {
    const decision = await authorize(request({ querystring: `token=${await tokenFor()}` }), edge.deps);
    expect(decision).toEqual({ action: "read-image", objectKey: OBJECT_KEY });
    expect(journals.calls).toHaveLength(0);
  });

  it("opens an image read with the image_token cookie", async () => {
    const cookie = `theme=dark; image_token=${await tokenFor()}`;
    const decision = await authorize(request({ headers: { cookie: [cookie] } }), edge.deps);
    expect(decision.action).toBe("read-image");
    expect(journals.calls).toHaveLength(0);
  });

  it("answers 401 token_expired after expiry", async () => {
    const token = await tokenFor();
    edge.clock.advance(300 + 6);
    const decision = await authorize(request({ querystring: `token=${token}` }), edge.deps);
    expect(status(decision)).toBe(401);
    expect(errorCode(decision)).toBe("token_expired");
  });

  it("verifies a token once per container, and still refuses it once it has expired", async () => {
    // Prepare
    const token = await tokenFor();
    const read = () => authorize(request({ querystring: `token=${token}` }), edge.deps);

    // Act
    const first = await read();
    const again = await read();
    const rememberedAfterReads = edge.deps.verifiedTokens.size;
    edge.clock.advance(300);
    const withinTolerance = await read();
    const rememberedAtExpiry = edge.deps.verifiedTokens.size;
    edge.clock.advance(6);
    const expired = await read();

    // Assess
    expect(first.action).toBe("read-image");
    expect(again.action).toBe("read-image");
    expect(rememberedAfterReads).toBe(1);
    // Within jose's 5 s clock tolerance the token still verifies, but it is no longer remembered.
    expect(withinTolerance.action).toBe("read-image");
    expect(rememberedAtExpiry).toBe(0);
    expect(status(expired)).toBe(401);
    expect(errorCode(expired)).toBe("token_expired");
  });

  it("answers 403 for a token minted for another entry", async () => {
    const decision = await authorize(
      request({ querystring: `token=${await tokenFor(OTHER_ENTRY)}` }),
      edge.deps,
    );
    expect(status(decision)).toBe(403);
  });

  const forged: [string, () => Promise<string>][] = [
    ["signed with another key under a known kid", async () => tokenFor(ENTRY, [{ ...makeKey("2026-11") }])],
    ["signed with an unknown kid", async () => tokenFor(ENTRY, [makeKey("stranger")])],
    [
      "alg none",
      async () => {
        const header = Buffer.from(JSON.stringify({ alg: "none", kid: "2026-11", typ: "JWT" })).toString(
          "base64url",
        );
        const payload = (await tokenFor()).split(".")[1];
        return `${header}.${payload}.`;
      },
    ],
    ["HS512 with the right secret", async () => sign({ alg: "HS512" })],
    ["no kid", async () => sign({ kid: undefined })],
    ["the wrong issuer", async () => sign({ iss: "someone-else" })],
    ["the origin audience (a grant)", async () => sign({ aud: "image-gateway:origin" })],
    ["a lifetime above 3600 s", async () => sign({ exp: 7200 })],
    ["no jid claim", async () => sign({ jid: undefined })],
    ["an invalid eid claim", async () => sign({ eid: "../entry-1" })],
    ["issued in the future", async () => sign({ iatOffset: 600 })],
    [
      "a tampered payload",
      async () => {
        const [header, payload, signature] = (await tokenFor(OTHER_ENTRY)).split(".") as [
          string,
          string,
          string,
        ];
        const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
        const tampered = Buffer.from(JSON.stringify({ ...claims, eid: ENTRY.entryId })).toString("base64url");
        return `${header}.${tampered}.${signature}`;
      },
    ],
    [
      "a tampered signature",
      async () => {
        const token = await tokenFor();
        return `${token.slice(0, -2)}${token.endsWith("AA") ? "BB" : "AA"}`;
      },
    ],
    ["garbage", async () => "not-a-jwt"],
    ["three empty parts", async () => ".."],
  ];

  it.each(forged)("answers 401 for a token %s", async (_what, makeToken) => {
    // Act
    const decision = await authorize(
      request({ querystring: `token=${encodeURIComponent(await makeToken())}` }),
      edge.deps,
    );

    // Assess
    expect(status(decision)).toBe(401);
    expect(errorCode(decision)).toBe("invalid_token");
    expect(journals.calls).toHaveLength(0);
  });

  /** Signs with the real current secret, changing one thing. */
  async function sign(change: {
    alg?: string;
    kid?: string | undefined;
    iss?: string;
    aud?: string;
    exp?: number;
    jid?: string | undefined;
    eid?: string;
    iatOffset?: number;
  }): Promise<string> {
    const iat = Math.floor(edge.clock.seconds) + (change.iatOffset ?? 0);
    const claims: Record<string, unknown> = { jid: ENTRY.journalId, eid: change.eid ?? ENTRY.entryId };
    if ("jid" in change) claims.jid = change.jid;
    const header: Record<string, unknown> = { alg: change.alg ?? "HS256", typ: "JWT" };
    if (!("kid" in change)) header.kid = currentKey.kid;
    return new SignJWT(claims)
      .setProtectedHeader(header as { alg: string })
      .setIssuer(change.iss ?? "image-gateway")
      .setAudience(change.aud ?? "image-gateway:viewer")
      .setIssuedAt(iat)
      .setExpirationTime(iat + (change.exp ?? 300))
      .sign(currentKey.secret);
  }
});

describe("authorize: key rotation", () => {
  it("verifies tokens signed by every configured key and signs with the first", async () => {
    // Prepare
    const oldToken = await tokenFor(ENTRY, [previousKey]);

    // Act
    const read = await authorize(request({ querystring: `token=${oldToken}` }), edge.deps);
    const issued = await authorize(
      request({ method: "POST", uri: ACCESS_URI, headers: { authorization: [ALICE] } }),
      edge.deps,
    );

    // Assess
    expect(read.action).toBe("read-image");
    const { token } = JSON.parse(issued.action === "respond" ? issued.response.body : "{}") as {
      token: string;
    };
    const header = JSON.parse(Buffer.from(token.split(".")[0] as string, "base64url").toString()) as {
      kid: string;
    };
    expect(header.kid).toBe(currentKey.kid);
  });

  it("refuses tokens of a key that has been retired", async () => {
    const retired = await makeEdge(journalsUrl, [currentKey]);
    const decision = await authorize(
      request({ querystring: `token=${await tokenFor(ENTRY, [previousKey])}` }),
      retired.deps,
    );
    expect(status(decision)).toBe(401);
  });
});

describe("authorize: credential precedence", () => {
  it("lets the query token decide over the cookie and Authorization", async () => {
    // Prepare: a bad query token beside a good cookie and a good Authorization
    const headers = { cookie: [`image_token=${await tokenFor()}`], authorization: [ALICE] };

    // Act
    const decision = await authorize(request({ querystring: "token=garbage", headers }), edge.deps);

    // Assess
    expect(status(decision)).toBe(401);
    expect(journals.calls).toHaveLength(0);
  });

  it("lets the cookie decide over Authorization", async () => {
    const headers = { cookie: [`image_token=${await tokenFor()}`], authorization: [BOB] };
    const decision = await authorize(request({ headers }), edge.deps);
    expect(decision.action).toBe("read-image");
    expect(journals.calls).toHaveLength(0);
  });

  it("refuses two different Authorization values", async () => {
    const decision = await authorize(request({ headers: { authorization: [ALICE, BOB] } }), edge.deps);
    expect(status(decision)).toBe(400);
    expect(errorCode(decision)).toBe("ambiguous_credentials");
    expect(journals.calls).toHaveLength(0);
  });

  it("refuses two token parameters", async () => {
    const token = await tokenFor();
    const decision = await authorize(request({ querystring: `token=${token}&token=${token}` }), edge.deps);
    expect(status(decision)).toBe(400);
  });
});

describe("authorize: POST access", () => {
  it("answers the token JSON and the scoped cookie", async () => {
    // Act
    const decision = await authorize(
      request({ method: "POST", uri: ACCESS_URI, headers: { authorization: [ALICE] } }),
      edge.deps,
    );

    // Assess
    if (decision.action !== "respond") throw new Error("expected a response");
    const { status: code, headers, body } = decision.response;
    const parsed = JSON.parse(body) as { token: string; expires_at: string; expires_in: number };
    expect(code).toBe(200);
    expect(Object.keys(parsed).sort()).toEqual(["expires_at", "expires_in", "token"]);
    expect(parsed.expires_in).toBe(300);
    expect(parsed.expires_at).toBe(new Date(edge.clock.ms + 300_000).toISOString());
    expect(headers["set-cookie"]).toBe(
      `image_token=${parsed.token}; Path=/journals/journal-1/entries/entry-1/; Max-Age=300; HttpOnly; Secure; SameSite=None`,
    );
    expect(headers["cache-control"]).toBe("no-store");
    const claims = await verifyAccessToken(
      await KeyRing.create([currentKey]),
      parsed.token,
      edge.clock.seconds,
    );
    expect(claims).toEqual({ ...ENTRY, expiresAt: edge.clock.seconds + 300 });
  });

  it.each([
    [401, 401],
    [403, 403],
    [404, 403],
    [500, 502],
  ])("refuses when the journals API answers %i", async (journalsStatus, expected) => {
    journals.behaviour = journalsStatus;
    const decision = await authorize(
      request({ method: "POST", uri: ACCESS_URI, headers: { authorization: [ALICE] } }),
      edge.deps,
    );
    expect(status(decision)).toBe(expected);
  });

  it("does not accept an access token in place of Authorization", async () => {
    const decision = await authorize(
      request({ method: "POST", uri: ACCESS_URI, querystring: `token=${await tokenFor()}` }),
      edge.deps,
    );
    expect(status(decision)).toBe(401);
    expect(errorCode(decision)).toBe("missing_credentials");
  });
});

describe("authorize: /api/*", () => {
  it("forwards with a grant for exactly this entry and method", async () => {
    // Act
    const decision = await authorize(
      request({ method: "DELETE", uri: IMAGES_URI, headers: { authorization: [ALICE] } }),
      edge.deps,
    );

    // Assess
    if (decision.action !== "forward-to-origin" || !decision.grant) throw new Error("expected a grant");
    const keys = await KeyRing.create([currentKey]);
    const expected = { ...ENTRY, method: "DELETE", path: IMAGES_URI };
    await expect(verifyGrant(keys, decision.grant, expected, edge.clock.seconds)).resolves.toEqual(expected);
    await expect(
      verifyGrant(keys, decision.grant, { ...expected, method: "GET" }, edge.clock.seconds),
    ).rejects.toMatchObject({ status: 401 });
    await expect(
      verifyGrant(keys, decision.grant, { ...expected, ...OTHER_ENTRY }, edge.clock.seconds),
    ).rejects.toMatchObject({ status: 401 });
    await expect(
      verifyGrant(
        keys,
        decision.grant,
        { ...expected, path: `${IMAGES_URI}/${IMAGE_ID}` },
        edge.clock.seconds,
      ),
    ).rejects.toMatchObject({ status: 401, code: "invalid_grant" });
    await expect(
      verifyGrant(keys, decision.grant, expected, edge.clock.seconds + 61 + 5),
    ).rejects.toMatchObject({ code: "invalid_grant" });
  });

  it("does not open /api/* with an access token", async () => {
    const decision = await authorize(
      request({ uri: IMAGES_URI, querystring: `token=${await tokenFor()}` }),
      edge.deps,
    );
    expect(status(decision)).toBe(401);
  });

  it.each(["/api/health", "/api/openapi.json"])(
    "forwards %s with no credential and no grant",
    async (uri) => {
      const decision = await authorize(request({ uri }), edge.deps);
      expect(decision).toEqual({ action: "forward-to-origin", grant: undefined });
      expect(journals.calls).toHaveLength(0);
    },
  );

  it("refuses a grant signed with the viewer audience (a token passed off as a grant)", async () => {
    const keys = await KeyRing.create([currentKey]);
    await expect(
      verifyGrant(keys, await tokenFor(), { ...ENTRY, method: "GET", path: IMAGES_URI }, edge.clock.seconds),
    ).rejects.toMatchObject({
      code: "invalid_grant",
    });
  });
});

describe("authorize: direct uploads the load balancer cannot pass", () => {
  const upload = (contentLength: string, headers: Record<string, string[]> = { authorization: [ALICE] }) =>
    request({ method: "POST", uri: IMAGES_URI, headers: { ...headers, "content-length": [contentLength] } });

  it("forwards a body of exactly the ALB's 1,000,000 bytes", async () => {
    const decision = await authorize(upload("1000000"), edge.deps);
    expect(decision.action).toBe("forward-to-origin");
  });

  it("answers 413 too_large above it, pointing at the presigned route", async () => {
    // Act
    const decision = await authorize(upload("1000001"), edge.deps);

    // Assess
    expect(status(decision)).toBe(413);
    expect(errorCode(decision)).toBe("too_large");
    if (decision.action !== "respond") throw new Error("expected a response");
    expect(decision.response.headers["cache-control"]).toBe("no-store");
    expect(decision.response.body).toContain(`POST ${IMAGES_URI.replace(/images$/, "uploads")}`);
  });

  it("checks the credential first: a caller without one is 401, whatever the size", async () => {
    const decision = await authorize(upload("5000000", {}), edge.deps);
    expect(status(decision)).toBe(401);
  });

  it("leaves other routes' bodies to the origin", async () => {
    const decision = await authorize(
      request({
        method: "POST",
        uri: IMAGES_URI.replace(/images$/, "uploads"),
        headers: { authorization: [ALICE], "content-length": ["2000000"] },
      }),
      edge.deps,
    );
    expect(decision.action).toBe("forward-to-origin");
  });
});

describe("authorize: the decision log line", () => {
  it("says what was decided, for which route and ids, by which kind of credential, and nothing secret", async () => {
    // Act
    await authorize(
      request({ method: "DELETE", uri: IMAGES_URI, headers: { authorization: [ALICE] } }),
      edge.deps,
    );
    await authorize(
      request({ uri: IMAGE_URI, querystring: `token=${await tokenFor(OTHER_ENTRY)}` }),
      edge.deps,
    );

    // Assess
    const lines = edge.logs.filter((line) => line.event === "edge_decision");
    expect(lines).toEqual([
      {
        level: "info",
        event: "edge_decision",
        action: "forward-to-origin",
        status: null,
        code: null,
        method: "DELETE",
        route: "api:images",
        journal_id: ENTRY.journalId,
        entry_id: ENTRY.entryId,
        credential: "authorization",
        journals: "asked",
        ms: expect.any(Number),
      },
      expect.objectContaining({
        action: "respond",
        status: 403,
        code: "forbidden",
        route: "image",
        credential: "query_token",
        journals: "not_asked",
      }),
    ]);
    expect(JSON.stringify(edge.logs)).not.toContain("test-credential-alice");
    expect(JSON.stringify(edge.logs)).not.toMatch(/eyJ/);
  });
});

describe("authorize: CORS", () => {
  it("sends Vary: Origin to other and absent origins too", async () => {
    for (const origin of [undefined, "https://elsewhere.example"]) {
      const decision = await authorize(
        request({ uri: "/nowhere", headers: origin ? { origin: [origin] } : {} }),
        edge.deps,
      );
      if (decision.action !== "respond") throw new Error("expected a response");
      expect(decision.response.headers.vary).toBe("Origin");
      expect(decision.response.headers["access-control-allow-origin"]).toBeUndefined();
    }
  });

  it("answers a preflight from a configured origin", async () => {
    const decision = await authorize(
      request({ method: "OPTIONS", uri: IMAGES_URI, headers: { origin: [ALLOWED_ORIGIN] } }),
      edge.deps,
    );
    if (decision.action !== "respond") throw new Error("expected a response");
    expect(decision.response.status).toBe(204);
    expect(decision.response.headers).toMatchObject({
      "access-control-allow-origin": ALLOWED_ORIGIN,
      "access-control-allow-credentials": "true",
      "access-control-allow-methods": "GET, HEAD, POST, DELETE, OPTIONS",
      "access-control-allow-headers": "Authorization, Content-Type, Range, If-None-Match",
      vary: "Origin",
    });
  });

  it("refuses a preflight from another origin without CORS headers", async () => {
    const decision = await authorize(
      request({ method: "OPTIONS", uri: IMAGES_URI, headers: { origin: ["https://evil.example"] } }),
      edge.deps,
    );
    if (decision.action !== "respond") throw new Error("expected a response");
    expect(decision.response.status).toBe(403);
    expect(
      Object.keys(decision.response.headers).filter((name) => name.startsWith("access-control")),
    ).toEqual([]);
  });

  it("adds CORS headers to generated answers for a configured origin only", async () => {
    const allowed = await authorize(request({ headers: { origin: [ALLOWED_ORIGIN] } }), edge.deps);
    const other = await authorize(request({ headers: { origin: ["https://evil.example"] } }), edge.deps);
    if (allowed.action !== "respond" || other.action !== "respond") throw new Error("expected responses");
    expect(allowed.response.headers["access-control-allow-origin"]).toBe(ALLOWED_ORIGIN);
    expect(other.response.headers["access-control-allow-origin"]).toBeUndefined();
  });
});

describe("authorize: error responses", () => {
  it("render the contract's JSON with Cache-Control: no-store", async () => {
    const decision = await authorize(request({ uri: "/nowhere" }), edge.deps);
    if (decision.action !== "respond") throw new Error("expected a response");
    expect(decision.response.status).toBe(404);
    expect(decision.response.headers["cache-control"]).toBe("no-store");
    expect(decision.response.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(JSON.parse(decision.response.body)).toEqual({
      error: { code: "not_found", message: "No such resource." },
    });
  });
});
