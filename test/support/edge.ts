import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CloudFrontRequestEvent, Context } from "aws-lambda";
import type { SigningKey } from "../../contract/KeyRing";
import { staticKeyLoader } from "../../contract/keyLoaders";
import type { AuthorizeDeps } from "../../edge/authorize";
import { type EdgeConfigInput, resolveEdgeConfig } from "../../edge/config";
import { createEdgeDeps } from "../../edge/dependencies";

export const ALICE = "Bearer test-credential-alice";
export const BOB = "Bearer test-credential-bob";
export const ENTRY = { journalId: "journal-1", entryId: "entry-1" } as const;
export const OTHER_ENTRY = { journalId: "journal-1", entryId: "entry-2" } as const;
export const IMAGE_ID = "3f2c7a1e-9b4d-4c8e-a1f0-6d5b2e8c9a71";
export const ALLOWED_ORIGIN = "https://notes.example.com";

/** Who opens what in the journals double: alice both entries, bob only the second. */
export const ACCESS = {
  [ALICE]: ["journal-1/entry-1", "journal-1/entry-2"],
  [BOB]: ["journal-1/entry-2"],
};

/** A fresh random signing key; nothing secret is kept in the repository. */
export function makeKey(kid: string): SigningKey {
  return { kid, secret: new Uint8Array(randomBytes(32)) };
}

/** A controllable clock in milliseconds. */
export class TestClock {
  public constructor(public ms = Date.UTC(2026, 10, 25, 12, 0, 0)) {}
  public readonly now = (): number => this.ms;
  public get seconds(): number {
    return this.ms / 1000;
  }
  public advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export interface TestEdge {
  readonly deps: AuthorizeDeps;
  readonly clock: TestClock;
  readonly logs: Record<string, unknown>[];
}

/** Edge dependencies with real parts: a real journals API URL, real keys, a test clock and a log sink. */
export async function makeEdge(
  journalsApiUrl: string,
  keys: readonly SigningKey[],
  config: Partial<EdgeConfigInput> = {},
): Promise<TestEdge> {
  const clock = new TestClock();
  const logs: Record<string, unknown>[] = [];
  const resolved = resolveEdgeConfig({
    journalsApiUrl,
    signingKeys: { type: "env", variable: "UNUSED" },
    journalsTimeoutMs: 300,
    corsAllowedOrigins: [ALLOWED_ORIGIN],
    imagesPrefix: "dev",
    ...config,
  });
  const deps = await createEdgeDeps(resolved, {
    keyLoader: staticKeyLoader(keys),
    now: clock.now,
    log: (entry) => logs.push({ ...entry }),
  });
  return { deps, clock, logs };
}

/** A fixture from `test/events/cloudfront/`, deep-cloned so each test may change it. */
export function loadEvent(name: string): CloudFrontRequestEvent {
  const path = join(import.meta.dirname, "../events/cloudfront", `${name}.json`);
  return JSON.parse(readFileSync(path, "utf8")) as CloudFrontRequestEvent;
}

/** Replaces the fixture's `TOKEN_SET_BY_TEST` placeholder in the query string and cookies. */
export function withToken(event: CloudFrontRequestEvent, token: string): CloudFrontRequestEvent {
  return JSON.parse(JSON.stringify(event).replaceAll("TOKEN_SET_BY_TEST", token)) as CloudFrontRequestEvent;
}

/** Lambda context is unused by the handler; a typed stand-in keeps the call honest. */
export const CONTEXT = {} as Context;

export { isGeneratedResponse as isResponse } from "../../edge/handler";
