import type { CloudFrontRequest } from "aws-lambda";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRANT_HEADER } from "../../contract/constants";
import { signAccessToken, verifyGrant } from "../../contract/tokens";
import { authorize, type Decision } from "../../edge/authorize";
import { applyDecision } from "../../edge/handler";
import { ACCESS, ALICE, BOB, ENTRY, makeEdge, makeKey, OTHER_ENTRY, type TestEdge } from "../support/edge";
import { FaultyJournalsApi } from "../support/journalsApi";
import { assertProperty, propertyTimeoutMs } from "../support/properties";

/**
 * Paths and ids, generated: whatever the path, the edge refuses it with a 4xx before any network call, or
 * decides on a route the contract names; an image read always becomes a key inside
 * `{IMAGES_PREFIX}/{j}/entries/{e}/images/`, and nothing is ever a 5xx. The journals API is a real one on
 * loopback, and its own count of calls is what "before any network call" is checked against.
 */

const PREFIX = "dev";
const RUNS = 3_000;
const journals = new FaultyJournalsApi(ACCESS);
let edge: TestEdge;
let tokens: { entry: string; otherEntry: string };

beforeAll(async () => {
  edge = await makeEdge(await journals.start(), [makeKey("paths")], { imagesPrefix: PREFIX });
  const now = edge.clock.seconds;
  tokens = {
    entry: (await signAccessToken(edge.deps.keys, ENTRY, 3600, now)).token,
    otherEntry: (await signAccessToken(edge.deps.keys, OTHER_ENTRY, 3600, now)).token,
  };
});

afterAll(() => journals.stop());

// The oracle: the contract's URL table written out as patterns, independently of contract/routes.ts.
const ID = "[A-Za-z0-9][A-Za-z0-9_-]{0,127}";
const IMAGE_ID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const ENTRY_PATH = `/journals/(${ID})/entries/(${ID})`;
const CONTRACT_ROUTES: readonly { kind: string; pattern: RegExp; methods: readonly string[] }[] = [
  { kind: "image", pattern: new RegExp(`^${ENTRY_PATH}/images/(${IMAGE_ID})$`), methods: ["GET", "HEAD"] },
  { kind: "access", pattern: new RegExp(`^/api${ENTRY_PATH}/access$`), methods: ["POST"] },
  { kind: "api", pattern: new RegExp(`^/api${ENTRY_PATH}/images$`), methods: ["GET", "POST", "DELETE"] },
  { kind: "api", pattern: new RegExp(`^/api${ENTRY_PATH}/images/${IMAGE_ID}$`), methods: ["GET", "DELETE"] },
  { kind: "api", pattern: new RegExp(`^/api${ENTRY_PATH}/uploads$`), methods: ["POST"] },
  { kind: "api", pattern: new RegExp(`^/api${ENTRY_PATH}/uploads/${IMAGE_ID}$`), methods: ["GET"] },
  { kind: "health", pattern: /^\/api\/health$/, methods: ["GET", "HEAD"] },
  { kind: "openapi", pattern: /^\/api\/openapi\.json$/, methods: ["GET", "HEAD"] },
];
const KEY_INSIDE_PREFIX = new RegExp(`^${PREFIX}/${ID}/entries/${ID}/images/${IMAGE_ID}$`);

interface ContractRoute {
  readonly kind: string;
  readonly entry?: string;
  readonly imageId?: string;
}

/** The route the contract gives `method` on `uri`, or `undefined` when it refuses the request. */
function contractRoute(method: string, uri: string): ContractRoute | undefined {
  for (const { kind, pattern, methods } of CONTRACT_ROUTES) {
    const match = pattern.exec(uri);
    if (match && methods.includes(method)) {
      return { kind, entry: match[1] && `${match[1]}/${match[2]}`, imageId: match[3] };
    }
  }
  return undefined;
}

// Segments a path is built from: the literals, ids valid and near-valid, and every trick in the book.
const uuid = fc.uuid().map((value) => value.toLowerCase());
const validId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,20}$/);
const idNearLimit = fc
  .constantFrom(127, 128, 129, 200)
  .chain((length) => fc.stringMatching(new RegExp(`^[A-Za-z0-9][A-Za-z0-9_-]{${length - 1}}$`)));
const tricky = fc.constantFrom(
  "",
  ".",
  "..",
  "%2e%2e",
  "%2E%2E",
  ".%2e",
  "..%2f",
  "%2F",
  "%2f..%2f",
  "%00",
  "\u0000",
  "a\u0000",
  "%5C",
  "\\",
  "..\\..",
  " ",
  "%20",
  "a b",
  "\n",
  "a\r\nx-injected: 1",
  "ｊournal-1", // full-width j
  "journal‐1", // U+2010 hyphen
  "entry-1\u200b",
  "é",
  "%C3%A9",
  "😀",
  "\u202eevil",
  "*",
  "?",
  "#",
  ";",
  "journal-1;x",
  "-leading-dash",
  "_leading-underscore",
  "3F2C7A1E-9B4D-4C8E-A1F0-6D5B2E8C9A71", // a valid UUID, upper case
  "3f2c7a1e9b4d4c8ea1f06d5b2e8c9a71", // a UUID without dashes
  "{3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71}",
);
const literal = fc.constantFrom(
  "journals",
  "entries",
  "images",
  "api",
  "access",
  "uploads",
  "health",
  "openapi.json",
);
const knownId = fc.constantFrom(ENTRY.journalId, ENTRY.entryId, OTHER_ENTRY.entryId, "journal-2", "entry-9");
const segment = fc.oneof(
  { weight: 4, arbitrary: literal },
  { weight: 3, arbitrary: knownId },
  { weight: 2, arbitrary: validId },
  { weight: 2, arbitrary: uuid },
  { weight: 1, arbitrary: idNearLimit },
  { weight: 3, arbitrary: tricky },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 4 }).map(encodeURIComponent) },
);
const anyMethod = fc.constantFrom("GET", "HEAD", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "get", "");
/** The contract's shapes, `J`, `E` and `I` standing for ids, with the methods each takes. */
const SHAPES: readonly { readonly segments: readonly string[]; readonly methods: readonly string[] }[] = [
  { segments: ["journals", "J", "entries", "E", "images", "I"], methods: ["GET", "HEAD"] },
  { segments: ["api", "journals", "J", "entries", "E", "access"], methods: ["POST"] },
  { segments: ["api", "journals", "J", "entries", "E", "images"], methods: ["GET", "POST", "DELETE"] },
  { segments: ["api", "journals", "J", "entries", "E", "images", "I"], methods: ["GET", "DELETE"] },
  { segments: ["api", "journals", "J", "entries", "E", "uploads"], methods: ["POST"] },
  { segments: ["api", "journals", "J", "entries", "E", "uploads", "I"], methods: ["GET"] },
  { segments: ["api", "health"], methods: ["GET", "HEAD"] },
  { segments: ["api", "openapi.json"], methods: ["GET", "HEAD"] },
];
/**
 * A request shaped like one of the contract's, often exactly (so the credential decides), often with a
 * segment or three swapped for anything, a trailing oddity, or a method the route does not take.
 */
const shapedRequest = fc
  .constantFrom(...SHAPES)
  .chain((shape) =>
    fc.tuple(
      fc.constant(shape.segments),
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...shape.methods) },
        { weight: 1, arbitrary: anyMethod },
      ),
      fc.oneof(
        { weight: 3, arbitrary: fc.constant([]) },
        { weight: 3, arbitrary: fc.array(fc.tuple(fc.nat(7), segment), { minLength: 1, maxLength: 3 }) },
      ),
      fc.constantFrom(ENTRY, OTHER_ENTRY, { journalId: "journal-2", entryId: "entry-9" }),
      uuid,
      fc.oneof(
        { weight: 6, arbitrary: fc.constant("") },
        { weight: 1, arbitrary: fc.constantFrom("/", "//", "/..") },
      ),
    ),
  )
  .map(([shape, verb, swaps, entry, imageId, tail]) => {
    const segments: string[] = shape.map((part) =>
      part === "J" ? entry.journalId : part === "E" ? entry.entryId : part === "I" ? imageId : part,
    );
    for (const [index, value] of swaps) segments[index % segments.length] = value;
    return { verb, uri: `/${segments.join("/")}${tail}` };
  });
const anyPath = fc.oneof(
  { weight: 2, arbitrary: fc.array(segment, { maxLength: 9 }).map((parts) => `/${parts.join("/")}`) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 80 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 80 }).map((text) => `/${text}`) },
);
const anyRequest = fc.oneof(
  { weight: 3, arbitrary: shapedRequest },
  { weight: 1, arbitrary: fc.tuple(anyMethod, anyPath).map(([verb, uri]) => ({ verb, uri })) },
);

/** What the viewer presents: nothing, an `Authorization` credential, or an access token. */
type Credential = {
  readonly label: CredentialLabel;
  readonly query: string;
  readonly headers: Record<string, string[]>;
};
type CredentialLabel =
  | "none"
  | "alice"
  | "bob"
  | "stranger"
  | "query-token"
  | "cookie-token-other"
  | "garbage";
const credential: fc.Arbitrary<Credential> = fc
  .constantFrom<CredentialLabel>(
    "none",
    "alice",
    "bob",
    "stranger",
    "query-token",
    "cookie-token-other",
    "garbage",
  )
  .map((label) => ({ label, ...presenting(label) }));

function presenting(label: CredentialLabel): Omit<Credential, "label"> {
  switch (label) {
    case "none":
      return { query: "", headers: {} };
    case "alice":
      return { query: "", headers: { authorization: [ALICE] } };
    case "bob":
      return { query: "", headers: { authorization: [BOB] } };
    case "stranger":
      return { query: "", headers: { authorization: ["Bearer nobody"] } };
    case "query-token":
      return { query: `token=${tokens.entry}`, headers: {} };
    case "cookie-token-other":
      return { query: "", headers: { cookie: [`image_token=${tokens.otherEntry}`] } };
    case "garbage":
      return { query: "token=not.a.token", headers: {} };
  }
}

/** The entries a credential opens, for image reads and for everything else. */
function opens(label: CredentialLabel): { images: readonly string[]; api: readonly string[] } {
  switch (label) {
    case "alice":
      return { images: ACCESS[ALICE], api: ACCESS[ALICE] };
    case "bob":
      return { images: ACCESS[BOB], api: ACCESS[BOB] };
    case "query-token":
      return { images: [`${ENTRY.journalId}/${ENTRY.entryId}`], api: [] };
    case "cookie-token-other":
      return { images: [`${OTHER_ENTRY.journalId}/${OTHER_ENTRY.entryId}`], api: [] };
    default:
      return { images: [], api: [] };
  }
}

function statusOf(decision: Decision): number | undefined {
  return decision.action === "respond" ? decision.response.status : undefined;
}

const outcomes = new Map<string, number>();
function tally(outcome: string): void {
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
}

describe("any path, through the edge", () => {
  it(
    "is refused with a 4xx before any network call, or becomes a route of the contract; never a 5xx",
    async () => {
      const property = fc.asyncProperty(
        anyRequest,
        credential,
        fc.boolean(),
        async ({ verb, uri }, presented, forgedGrant) => {
          // Prepare
          const headers = { ...presented.headers, ...(forgedGrant ? { [GRANT_HEADER]: ["forged"] } : {}) };
          const callsBefore = journals.calls.length;

          // Act
          const decision = await authorize(
            { method: verb, uri, querystring: presented.query, headers },
            edge.deps,
          );
          const calls = journals.calls.length - callsBefore;

          // Assess
          const route = contractRoute(verb, uri);
          const status = statusOf(decision);
          expect(status === undefined || status < 500, `${status} for ${verb} ${JSON.stringify(uri)}`).toBe(
            true,
          );
          if (decision.action === "respond") {
            expect(decision.response.headers["cache-control"]).toBe("no-store");
            if (status !== undefined && status >= 400) {
              expect(JSON.parse(decision.response.body)).toEqual({
                error: { code: expect.stringMatching(/^[a-z_]+$/), message: expect.any(String) },
              });
            }
          }
          if (verb === "OPTIONS") {
            expect([204, 403]).toContain(status);
            expect(calls).toBe(0);
            return tally("preflight");
          }
          if (!route) {
            // Not the contract's: refused, and nothing asked of anyone.
            expect(status).toBeGreaterThanOrEqual(400);
            expect(status).toBeLessThan(500);
            expect(calls).toBe(0);
            return tally("refused before any network call");
          }
          const granted = opens(presented.label);
          switch (route.kind) {
            case "health":
            case "openapi":
              expect(decision).toEqual({ action: "forward-to-origin", grant: undefined });
              expect(calls).toBe(0);
              return tally("health forwarded");
            case "image": {
              const allowed = granted.images.includes(route.entry as string);
              if (!allowed) {
                expect([401, 403]).toContain(status);
                return tally("image refused for the credential");
              }
              const [journalId, entryId] = (route.entry as string).split("/");
              const objectKey = `${PREFIX}/${journalId}/entries/${entryId}/images/${route.imageId}`;
              expect(decision).toEqual({ action: "read-image", objectKey });
              expect(objectKey).toMatch(KEY_INSIDE_PREFIX);
              // Tokens open images with no network call at all.
              if (presented.label.endsWith("token") || presented.label === "cookie-token-other") {
                expect(calls).toBe(0);
              }
              assertRewritten(decision, verb, uri, presented, headers);
              return tally("image read");
            }
            case "access":
              if (granted.api.includes(route.entry as string)) expect(status).toBe(200);
              else expect([401, 403]).toContain(status);
              return tally(status === 200 ? "access token issued" : "access refused");
            case "api": {
              if (!granted.api.includes(route.entry as string)) {
                expect([401, 403]).toContain(status);
                if (!presented.headers.authorization) expect(calls).toBe(0);
                return tally("api refused for the credential");
              }
              expect(decision.action).toBe("forward-to-origin");
              const grant = decision.action === "forward-to-origin" ? decision.grant : undefined;
              const [journalId = "", entryId = ""] = (route.entry as string).split("/");
              await expect(
                verifyGrant(
                  edge.deps.keys,
                  grant,
                  { journalId, entryId, method: verb, path: uri },
                  edge.clock.seconds,
                ),
              ).resolves.toBeDefined();
              assertRewritten(decision, verb, uri, presented, headers);
              return tally("api forwarded with its grant");
            }
          }
        },
      );
      await assertProperty("paths and ids", property, RUNS);

      // The generators reach every outcome, so no invariant above holds only because it never ran.
      console.info("[property] paths and ids outcomes:", Object.fromEntries(outcomes));
      for (const outcome of [
        "refused before any network call",
        "image read",
        "image refused for the credential",
        "api forwarded with its grant",
        "api refused for the credential",
        "access token issued",
        "health forwarded",
      ]) {
        expect(outcomes.get(outcome), outcome).toBeGreaterThan(0);
      }
    },
    propertyTimeoutMs(RUNS, 2),
  );
});

/** What CloudFront is handed on: the object key alone for images; for the API, the edge's grant alone. */
function assertRewritten(
  decision: Decision,
  verb: string,
  uri: string,
  presented: Credential,
  headers: Record<string, string[]>,
): void {
  const request: CloudFrontRequest = {
    clientIp: "203.0.113.9",
    method: verb,
    uri,
    querystring: presented.query,
    headers: Object.fromEntries(
      Object.entries(headers).map(([name, values]) => [name, values.map((value) => ({ key: name, value }))]),
    ),
  };
  const result = applyDecision(request, decision) as CloudFrontRequest;
  expect(result.headers.authorization).toBeUndefined();
  expect(result.headers.cookie).toBeUndefined();
  if (decision.action === "read-image") {
    expect(result.uri).toBe(`/${decision.objectKey}`);
    expect(result.querystring).toBe("");
    expect(result.headers[GRANT_HEADER]).toBeUndefined();
  }
  if (decision.action === "forward-to-origin") {
    expect(result.headers[GRANT_HEADER]?.map(({ value }) => value)).toEqual([decision.grant]);
  }
}
