import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalGateway, startLocalGateway } from "../../infra/local/gateway/LocalGateway";
import { createLocalOrigin } from "../../infra/local/gateway/localOrigin";
import type { ImageRecord } from "../../origin/domain/ports";
import { contractStatus, FlappingJournalsApi, type JournalsMode } from "../support/flappingJournals";
import { pngBytes } from "../support/images";
import { uploadForm } from "../support/origin";
import { faultSeed, SeededRandom } from "../support/random";
import { inParallel, tally } from "../support/workload";

/**
 * The journals API flaps between allows, refusals, errors, redirects, resets, hangs, slow allows and
 * allows whose body breaks off, drawn at random for every call. Over HTTP, through the whole local
 * gateway, every answer is the contract's status for what the journals API said, and no request is ever
 * allowed on anything but a 2xx: fresh credentials show each call's own effect, and credentials used
 * again show that only definite answers are remembered, never an outage.
 */

// A slow allow takes a sixth of the timeout: room for a busy CI machine between the two.
const TIMEOUT_MS = 600;
const FRESH_REQUESTS = 320;
const REPEATED_REQUESTS = 120;
const ENTRY = "/journals/journal-jf/entries/entry-jf";
const CODES: Record<number, string> = {
  401: "unauthorized",
  403: "forbidden",
  502: "journals_unavailable",
  504: "journals_timeout",
};

const random = new SeededRandom(faultSeed(31337));
const journals = new FlappingJournalsApi(random, TIMEOUT_MS / 6);
let dataDir: string;
let gateway: LocalGateway;
let image: { record: ImageRecord; bytes: Uint8Array };

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "gateway-journals-"));
  gateway = await startLocalGateway({
    env: {
      DATA_DIR: dataDir,
      JOURNALS_API_URL: await journals.start(),
      JOURNALS_TIMEOUT_MS: String(TIMEOUT_MS),
    },
    createOrigin: createLocalOrigin,
    port: 0,
    log: () => undefined,
  });
  journals.fixed = 200;
  const bytes = pngBytes(6, 6, 777);
  const response = await fetch(`${gateway.url}/api${ENTRY}/images`, {
    method: "POST",
    headers: { authorization: "Bearer setup" },
    body: uploadForm(bytes),
  });
  image = { record: (await response.json()) as ImageRecord, bytes };
  journals.fixed = undefined;
});

afterAll(async () => {
  await gateway?.close();
  await journals.stop();
  await rm(dataDir, { recursive: true, force: true });
});

type Kind = "image" | "access" | "list";

async function request(kind: Kind, authorization: string): Promise<Response> {
  const headers = { authorization };
  switch (kind) {
    case "image":
      return fetch(`${gateway.url}${image.record.url}`, { headers });
    case "access":
      return fetch(`${gateway.url}/api${ENTRY}/access`, { method: "POST", headers });
    case "list":
      return fetch(`${gateway.url}/api${ENTRY}/images`, { headers });
  }
}

/** Checks one answer against the contract for `expected`, and that an allow is the real thing. */
async function assertAnswer(
  kind: Kind,
  response: Response,
  expected: number,
  context: string,
): Promise<void> {
  expect(response.status, context).toBe(expected);
  if (expected !== 200) {
    expect(response.headers.get("cache-control"), context).toBe("no-store");
    expect(await response.json(), context).toMatchObject({ error: { code: CODES[expected] } });
    return;
  }
  if (kind === "image") expect(new Uint8Array(await response.arrayBuffer())).toEqual(image.bytes);
  if (kind === "access") expect(await response.json()).toHaveProperty("token");
  if (kind === "list") expect(await response.json()).toEqual({ images: [image.record] });
}

describe("the gateway while the journals API flaps", () => {
  it("answers every fresh credential with the contract's status for what the journals API said", async () => {
    // Prepare
    const work = Array.from({ length: FRESH_REQUESTS }, (_, index) => ({
      kind: random.pick<Kind>(["image", "access", "list"]),
      authorization: `Bearer fresh-${index}`,
    }));
    const seen: string[] = [];

    // Act + Assess: each credential asks once, so its answer is its own call's
    await inParallel(work, 16, async ({ kind, authorization }) => {
      const response = await request(kind, authorization);
      const calls = journals.answers.filter((answer) => answer.authorization === authorization);
      expect(calls).toHaveLength(1);
      const mode = calls[0]?.mode as JournalsMode;
      seen.push(`${mode} → ${response.status}`);
      await assertAnswer(kind, response, contractStatus(mode), `${kind} after ${mode}`);
    });
    console.info(`[faults] journals API flapping: ${FRESH_REQUESTS} fresh requests`, tally(seen));
    expect(new Set(seen).size).toBeGreaterThanOrEqual(10);
  }, 60_000);

  it("allows a credential used again only on a remembered 2xx, never on a remembered outage", async () => {
    // Prepare: a few credentials, each asked about many times in turn
    const credentials = Array.from({ length: 12 }, (_, index) => `Bearer again-${index}`);
    const remembered = new Map<string, number>();
    const seen: string[] = [];

    // Act + Assess
    for (let index = 0; index < REPEATED_REQUESTS; index += 1) {
      const authorization = random.pick(credentials);
      const kind = random.pick<Kind>(["image", "list"]);
      const callsBefore = journals.answers.length;
      const response = await request(kind, authorization);
      const call = journals.answers
        .slice(callsBefore)
        .find((answer) => answer.authorization === authorization);
      if (call) {
        const expected = contractStatus(call.mode);
        // Only definite answers are remembered: an allow, 401, 403/404. Outages are asked again.
        if (expected === 200 || expected === 401 || expected === 403) remembered.set(authorization, expected);
        seen.push(`asked: ${call.mode} → ${response.status}`);
        await assertAnswer(kind, response, expected, `${kind} after ${call.mode}`);
      } else {
        seen.push(`remembered → ${response.status}`);
        expect(remembered.has(authorization), "an answer without a call needs a remembered one").toBe(true);
        await assertAnswer(kind, response, remembered.get(authorization) as number, `${kind} remembered`);
      }
    }
    console.info(
      `[faults] journals API flapping: ${REPEATED_REQUESTS} repeated-credential requests`,
      tally(seen),
    );
    expect(seen.some((line) => line.startsWith("remembered"))).toBe(true);
  }, 60_000);
});
