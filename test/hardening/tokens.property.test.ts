import { createHmac, randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ORIGIN_AUDIENCE, TOKEN_ISSUER, VIEWER_AUDIENCE } from "../../contract/constants";
import { signAccessToken, signGrant, verifyAccessToken, verifyGrant } from "../../contract/tokens";
import type { EntryRef } from "../../contract/types";
import { authorize, type Decision } from "../../edge/authorize";
import { ACCESS, ENTRY, IMAGE_ID, makeEdge, makeKey, OTHER_ENTRY, type TestEdge } from "../support/edge";
import { FaultyJournalsApi } from "../support/journalsApi";
import { assertProperty, propertyTimeoutMs } from "../support/properties";

/**
 * Tokens, mutated: any change to a valid access token (its header, payload or signature bytes, its `alg`,
 * its `kid`, its claims, re-signed with keys an attacker could hold) opens nothing it was not minted for.
 * The only mutated tokens that still open anything are other spellings of the very same signed token
 * (base64url's unused trailing bits, a trailing `=`), and those open exactly its own entry.
 */

const SIGNING = makeKey("k1");
const VERIFYING = makeKey("k0");
const RUNS = { mutations: 3_000, claims: 2_000, grants: 1_500 } as const;
/** The path the grants below are minted for and checked against. */
const API_PATH = `/api/journals/${ENTRY.journalId}/entries/${ENTRY.entryId}/images`;
const THIRD_ENTRY: EntryRef = { journalId: "journal-2", entryId: "entry-9" };
const TARGETS = [ENTRY, OTHER_ENTRY, THIRD_ENTRY] as const;

const journals = new FaultyJournalsApi(ACCESS);
let edge: TestEdge;
let original: string;
let now: number;

beforeAll(async () => {
  edge = await makeEdge(await journals.start(), [SIGNING, VERIFYING]);
  now = edge.clock.seconds;
  original = (await signAccessToken(edge.deps.keys, ENTRY, 300, now)).token;
});

afterAll(() => journals.stop());

// JWS by hand, so a mutation can say anything a real attacker could put on the wire.
const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
/** A part's JSON object; a part an earlier mutation broke decodes as nothing, and is rebuilt from there. */
function decode(segment: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A change to a token that fast-check reports by what it does, not by its source. */
type Mutation = ((token: string) => string) & { readonly [fc.toStringMethod]: () => string };
function mutationOf(label: string, apply: (token: string) => string): Mutation {
  return Object.assign(apply, { [fc.toStringMethod]: () => label });
}
const HASH_OF: Record<string, string> = { HS256: "sha256", HS384: "sha384", HS512: "sha512" };
function hmac(alg: string, secret: Uint8Array, input: string): string {
  return createHmac(HASH_OF[alg] ?? "sha256", secret)
    .update(input)
    .digest("base64url");
}

/** Keys an attacker may sign with: none of ours, ours under another `kid`, or nothing at all. */
const ATTACKER_SECRET = new Uint8Array(randomBytes(32));
type Resign = "keep" | "empty" | "attacker-key" | "real-key-other-alg" | "k0-secret-for-k1" | "kid-as-secret";
const resign = fc.constantFrom<Resign>(
  "keep",
  "empty",
  "attacker-key",
  "real-key-other-alg",
  "k0-secret-for-k1",
  "kid-as-secret",
);

/** `header.payload` signed as `how` says; never HS256 with the key the header's `kid` names. */
function signed(
  header: Record<string, unknown>,
  payload: string,
  how: Resign,
  originalSignature: string,
): string {
  const input = `${encode(header)}.${payload}`;
  switch (how) {
    case "keep":
      return `${input}.${originalSignature}`;
    case "empty":
      return `${input}.`;
    case "attacker-key":
      return `${input}.${hmac("HS256", ATTACKER_SECRET, input)}`;
    case "real-key-other-alg":
      // An algorithm confusion with the right secret: only HS256 may verify.
      return `${input}.${hmac("HS512", SIGNING.secret, input)}`;
    case "k0-secret-for-k1":
      // A configured secret under the other configured kid: a kid names exactly one key.
      return `${input}.${hmac("HS256", header.kid === "k0" ? SIGNING.secret : VERIFYING.secret, input)}`;
    case "kid-as-secret":
      return `${input}.${hmac("HS256", Buffer.from(String(header.kid ?? "")), input)}`;
  }
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const oddCharacter = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ALPHABET) },
  { weight: 1, arbitrary: fc.constantFrom("=", "+", "/", ".", " ", "%", "\u0000", "é", ";", ",") },
);

/** A change to the bytes of one part: a character replaced, inserted or removed. */
const byteMutation = fc
  .tuple(fc.nat(2), fc.constantFrom("replace", "insert", "delete"), fc.nat(10_000), oddCharacter)
  .map(([part, op, at, character]) =>
    mutationOf(`${op} ${JSON.stringify(character)} at ${at} of part ${part}`, (token) => {
      const parts = token.split(".");
      const segment = parts[part] ?? "";
      const index = at % (segment.length + (op === "insert" ? 1 : 0) || 1);
      const next =
        op === "replace"
          ? segment.slice(0, index) + character + segment.slice(index + 1)
          : op === "insert"
            ? segment.slice(0, index) + character + segment.slice(index)
            : segment.slice(0, index) + segment.slice(index + 1);
      parts[part] = next;
      return parts.join(".");
    }),
  );

/** Parts dropped, doubled, swapped or padded. */
const structureMutation = fc
  .constantFrom(
    (parts: string[]) => parts.slice(0, 2).join("."),
    (parts: string[]) => [parts[0], parts[1], ""].join("."),
    (parts: string[]) => [parts[0], "", parts[2]].join("."),
    (parts: string[]) => ["", parts[1], parts[2]].join("."),
    (parts: string[]) => [...parts, parts[2]].join("."),
    (parts: string[]) => [parts[1], parts[0], parts[2]].join("."),
    (parts: string[]) => [parts[0], parts[1], parts[1]].join("."),
    (parts: string[]) => `.${parts.join(".")}`,
    (parts: string[]) => `${parts.join(".")}.`,
    (parts: string[]) => parts.join(".").toUpperCase(),
    (parts: string[]) => `${parts.join(".")}${parts.join(".")}`,
    (parts: string[]) => `Bearer ${parts.join(".")}`,
    (parts: string[]) => `${parts.join(".")}=`,
    (parts: string[]) => `${parts.join(".")} `,
    (parts: string[]) => parts.map((part) => `${part}==`).join("."),
  )
  .map((change) => mutationOf(`restructure: ${change}`, (token) => change(token.split("."))));

const headerValue = fc.constantFrom<unknown>(
  undefined,
  null,
  "",
  "none",
  "None",
  "NONE",
  "HS256",
  "hs256",
  "HS384",
  "HS512",
  "RS256",
  "ES256",
  "EdDSA",
  ["HS256"],
  1,
);
const kidValue = fc.constantFrom<unknown>(
  undefined,
  "k1",
  "k0",
  "kX",
  "",
  "k1 ",
  "../k1",
  "__proto__",
  null,
  1,
  ["k1"],
);
/** The protected header rewritten: `alg`, `kid`, `typ`, `crit`, `b64`, an embedded key. */
const headerMutation = fc
  .record(
    {
      alg: headerValue,
      kid: kidValue,
      typ: fc.constantFrom<unknown>(undefined, "JWT", "at+jwt", 0),
      crit: fc.constantFrom<unknown>(undefined, ["exp"], ["b64"], []),
      b64: fc.constantFrom<unknown>(undefined, false, true),
      jwk: fc.constantFrom<unknown>(undefined, {
        kty: "oct",
        k: Buffer.from(ATTACKER_SECRET).toString("base64url"),
      }),
    },
    { requiredKeys: [] },
  )
  .chain((changes) => resign.map((how) => ({ changes, how })))
  .map(({ changes, how }) =>
    mutationOf(`header ${JSON.stringify(changes)}, signature ${how}`, (token) => {
      const [header = "", payload = "", signature = ""] = token.split(".");
      return signed({ ...decode(header), ...changes }, payload, how, signature);
    }),
  );

const claimValue = {
  id: fc.constantFrom<unknown>(
    ENTRY.journalId,
    ENTRY.entryId,
    OTHER_ENTRY.entryId,
    THIRD_ENTRY.journalId,
    THIRD_ENTRY.entryId,
    "",
    "../journal-1",
    "journal-1/entry-2",
    "a".repeat(129),
    null,
    7,
    ["journal-1"],
    { id: "journal-1" },
  ),
  time: fc.oneof(
    fc.integer({ min: -7_200, max: 7_200 }).map((offset) => ({ offset })),
    fc.constantFrom<unknown>("soon", null, true, 1e20, -1, 0.5),
  ),
  aud: fc.constantFrom<unknown>(
    VIEWER_AUDIENCE,
    ORIGIN_AUDIENCE,
    [VIEWER_AUDIENCE],
    [ORIGIN_AUDIENCE, VIEWER_AUDIENCE],
    "IMAGE-GATEWAY:VIEWER",
    "",
    1,
  ),
  iss: fc.constantFrom<unknown>(TOKEN_ISSUER, "image-gateway ", "evil", [TOKEN_ISSUER], "", 1),
};
const claimArbitraries = {
  jid: claimValue.id,
  eid: claimValue.id,
  exp: claimValue.time,
  iat: claimValue.time,
  nbf: claimValue.time,
  aud: claimValue.aud,
  iss: claimValue.iss,
};
/**
 * Claims changed: none, one, or any number at once; times are offsets from now unless they are not numbers
 * at all. Single changes are frequent so that each claim's own rule is searched, not only their sum.
 */
const claimChanges: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({}) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(...(Object.keys(claimArbitraries) as (keyof typeof claimArbitraries)[]))
      .chain((name) => claimArbitraries[name].map((value) => ({ [name]: value }))),
  },
  { weight: 2, arbitrary: fc.record(claimArbitraries, { requiredKeys: [] }) },
);
const removedClaims = fc.oneof(
  { weight: 3, arbitrary: fc.constant<string[]>([]) },
  { weight: 1, arbitrary: fc.subarray(["jid", "eid", "exp", "iat", "aud", "iss"], { minLength: 1 }) },
);

/** Applies `changes` to a payload; an offset becomes `now + offset`. */
function changedClaims(
  payload: Record<string, unknown>,
  changes: Record<string, unknown>,
  removed: readonly string[],
): Record<string, unknown> {
  const next: Record<string, unknown> = { ...payload };
  for (const [name, value] of Object.entries(changes)) {
    next[name] =
      typeof value === "object" && value !== null && "offset" in value
        ? now + (value as { offset: number }).offset
        : value;
  }
  for (const name of removed) delete next[name];
  return next;
}

/** Claims rewritten and then re-signed by someone without our keys. */
const claimsMutation = fc
  .tuple(claimChanges, removedClaims, resign, fc.boolean())
  .map(([changes, removed, how, algNone]) =>
    mutationOf(
      `claims ${JSON.stringify(changes)} without ${removed}, signature ${how}${algNone ? ", alg none" : ""}`,
      (token) => {
        const [header = "", payload = "", signature = ""] = token.split(".");
        const claims = encode(changedClaims(decode(payload), changes, removed));
        return signed({ ...decode(header), ...(algNone ? { alg: "none" } : {}) }, claims, how, signature);
      },
    ),
  );

const mutation = fc.oneof(
  { weight: 4, arbitrary: byteMutation },
  { weight: 2, arbitrary: structureMutation },
  { weight: 3, arbitrary: headerMutation },
  { weight: 3, arbitrary: claimsMutation },
);
/** Several mutations in a row, so combinations are searched too. */
const mutations = fc.array(mutation, { minLength: 1, maxLength: 3 });
const target = fc.constantFrom(...TARGETS);
const carrier = fc.constantFrom("query", "cookie");

function imageRead(token: string, entry: EntryRef, via: string) {
  const uri = `/journals/${entry.journalId}/entries/${entry.entryId}/images/${IMAGE_ID}`;
  return via === "query"
    ? { method: "GET", uri, querystring: `token=${encodeURIComponent(token)}`, headers: {} }
    : { method: "GET", uri, querystring: "", headers: { cookie: [`theme=dark; image_token=${token}`] } };
}

function isRead(decision: Decision): boolean {
  return decision.action === "read-image";
}

const sameEntry = (a: EntryRef, b: EntryRef) => a.journalId === b.journalId && a.entryId === b.entryId;

describe("a mutated access token", () => {
  it(
    "opens nothing it was not minted for, answers 4xx, and never asks the journals API",
    async () => {
      let stillOpening = 0;
      const property = fc.asyncProperty(mutations, target, carrier, async (changes, entry, via) => {
        // Prepare
        const token = changes.reduce((current, change) => change(current), original);
        fc.pre(token !== original);
        const callsBefore = journals.calls.length;

        // Act
        const decision = await authorize(imageRead(token, entry, via), edge.deps);

        // Assess
        expect(journals.calls.length).toBe(callsBefore);
        if (isRead(decision)) {
          // Only another spelling of the same signed token: same entry, same claims as minted.
          stillOpening += 1;
          expect(sameEntry(entry, ENTRY)).toBe(true);
          // A cookie ends at its first ";" and is trimmed: that is the token the edge was given.
          const presented = via === "cookie" ? (token.split(";")[0] ?? "").trim() : token;
          const claims = await verifyAccessToken(edge.deps.keys, presented, now);
          expect(claims).toEqual(await verifyAccessToken(edge.deps.keys, original, now));
          return;
        }
        expect(decision.action).toBe("respond");
        const status = decision.action === "respond" ? decision.response.status : 0;
        expect([400, 401, 403]).toContain(status);
      });
      const cases = await assertProperty("mutated access tokens", property, RUNS.mutations);
      console.info(
        `[property] mutated access tokens: ${stillOpening} of ${cases} were the same token respelled`,
      );
    },
    propertyTimeoutMs(RUNS.mutations, 2),
  );
});

/**
 * What jose and the contract accept, written out independently: HS256 with a configured kid (always so
 * here), our issuer, the viewer audience, ids of the contract's pattern, `iat` no later than the clock
 * allows, not expired, not before `nbf`, and a lifetime of at most 3600 s. Tolerance: 5 s each way.
 */
function acceptable(claims: Record<string, unknown>): boolean {
  const id = (value: unknown) => typeof value === "string" && /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(value);
  const { jid, eid, exp, iat, nbf, aud, iss } = claims;
  const audienceOk = aud === VIEWER_AUDIENCE || (Array.isArray(aud) && aud.includes(VIEWER_AUDIENCE));
  return (
    iss === TOKEN_ISSUER &&
    audienceOk &&
    id(jid) &&
    id(eid) &&
    typeof iat === "number" &&
    typeof exp === "number" &&
    exp > now - 5 &&
    iat <= now + 5 &&
    exp - iat <= 3600 &&
    (nbf === undefined || (typeof nbf === "number" && nbf <= now + 5))
  );
}

describe("claims signed with our own keys", () => {
  it(
    "open exactly the entry they name when every claim is as the contract says, and nothing otherwise",
    async () => {
      let opened = 0;
      const property = fc.asyncProperty(
        claimChanges,
        removedClaims,
        fc.constantFrom(SIGNING, VERIFYING),
        target,
        async (changes, removed, key, entry) => {
          // Prepare: the claims a correct signer would never put together, signed correctly anyway
          const [header = "", payload = ""] = original.split(".");
          const claims = changedClaims(decode(payload), changes, removed);
          const input = `${encode({ ...decode(header), kid: key.kid })}.${encode(claims)}`;
          const token = `${input}.${hmac("HS256", key.secret, input)}`;

          // Act
          const decision = await authorize(imageRead(token, entry, "query"), edge.deps);

          // Assess
          const opens = acceptable(claims) && claims.jid === entry.journalId && claims.eid === entry.entryId;
          expect(isRead(decision), JSON.stringify(claims)).toBe(opens);
          if (opens) opened += 1;
          else expect([400, 401, 403]).toContain(decision.action === "respond" && decision.response.status);
        },
      );
      const cases = await assertProperty("re-signed claims", property, RUNS.claims);
      console.info(`[property] re-signed claims: ${opened} of ${cases} opened their own entry`);
      expect(opened).toBeGreaterThan(0);
    },
    propertyTimeoutMs(RUNS.claims, 2),
  );

  it("refuses a grant presented as an access token, and an access token presented as a grant", async () => {
    // Prepare
    const grant = (await signGrant(edge.deps.keys, { ...ENTRY, method: "GET", path: API_PATH }, now)).token;

    // Act
    const asToken = await authorize(imageRead(grant, ENTRY, "query"), edge.deps);
    const asGrant = verifyGrant(edge.deps.keys, original, { ...ENTRY, method: "GET", path: API_PATH }, now);

    // Assess
    expect(asToken).toMatchObject({ action: "respond", response: { status: 401 } });
    await expect(asGrant).rejects.toMatchObject({ status: 401, code: "invalid_grant" });
  });
});

describe("a mutated grant at the origin", () => {
  it(
    "is refused unless it is the same signed grant, for exactly its entry and method",
    async () => {
      const methods = ["GET", "POST", "DELETE"] as const;
      const property = fc.asyncProperty(
        mutations,
        target,
        fc.constantFrom(...methods),
        async (changes, entry, verb) => {
          // Prepare
          const grant = (await signGrant(edge.deps.keys, { ...ENTRY, method: "POST", path: API_PATH }, now))
            .token;
          const mutated = changes.reduce((current, change) => change(current), grant);
          fc.pre(mutated !== grant);

          // Act
          const verified = await verifyGrant(
            edge.deps.keys,
            mutated,
            { ...entry, method: verb, path: API_PATH },
            now,
          ).then(
            () => true,
            (error: { status?: number; code?: string }) => {
              expect(error).toMatchObject({ status: 401, code: "invalid_grant" });
              return false;
            },
          );

          // Assess
          if (verified) expect({ ...entry, method: verb }).toEqual({ ...ENTRY, method: "POST" });
        },
      );
      await assertProperty("mutated grants", property, RUNS.grants);
    },
    propertyTimeoutMs(RUNS.grants, 2),
  );
});
