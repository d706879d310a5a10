import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { JournalsClient, mapJournalsStatus } from "../../edge/JournalsClient";
import { close, listen } from "../../infra/local/gateway/listen";
import { ACCESS, ALICE, BOB, ENTRY } from "../support/edge";
import { FaultyJournalsApi } from "../support/journalsApi";

// Generous for answers on a loaded machine; the hang test gives its own client a short one.
const TIMEOUT_MS = 2000;
const SHORT_TIMEOUT_MS = 150;
const journals = new FaultyJournalsApi(ACCESS);
let journalsUrl: string;
let client: JournalsClient;

beforeAll(async () => {
  journalsUrl = await journals.start();
});
afterAll(() => journals.stop());
beforeEach(() => {
  journals.reset();
  client = new JournalsClient(journalsUrl, TIMEOUT_MS);
});

describe("JournalsClient.check", () => {
  it.each([
    [200, undefined, undefined],
    [204, undefined, undefined],
    [299, undefined, undefined],
    [401, 401, "unauthorized"],
    [403, 403, "forbidden"],
    [404, 403, "forbidden"],
    [302, 502, "journals_unavailable"],
    [400, 502, "journals_unavailable"],
    [405, 502, "journals_unavailable"],
    [429, 502, "journals_unavailable"],
    [500, 502, "journals_unavailable"],
    [503, 502, "journals_unavailable"],
  ])("maps a journals API %i to %s %s", async (answered, status, code) => {
    // Prepare
    journals.behaviour = answered;

    // Act
    const refusal = await client.check(ALICE, ENTRY);

    // Assess
    if (status === undefined) expect(refusal).toBeUndefined();
    else expect(refusal).toMatchObject({ status, code });
    expect(journals.calls).toHaveLength(1);
  });

  it("asks for the entry with the caller's Authorization exactly as sent", async () => {
    // Prepare
    // Leading and trailing spaces are not part of a header value in HTTP; everything inside is.
    const odd = "bearer  Mixed==Case.token";

    // Act
    await client.check(odd, ENTRY);

    // Assess
    expect(journals.calls).toHaveLength(1);
    expect(journals.calls[0]).toMatchObject({
      method: "GET",
      path: "/journals/journal-1/entries/entry-1",
      headers: { authorization: odd, accept: "application/json" },
    });
  });

  it("keeps the base URL's path and drops its trailing slashes", async () => {
    // Prepare
    journals.behaviour = 200;
    const prefixed = new JournalsClient(`${journalsUrl}/v1//`, TIMEOUT_MS);

    // Act
    await prefixed.check(ALICE, ENTRY);

    // Assess
    expect(journals.calls.map((call) => call.path)).toEqual(["/v1/journals/journal-1/entries/entry-1"]);
  });

  it("follows the API's own rules per credential", async () => {
    expect(await client.check(ALICE, ENTRY)).toBeUndefined();
    expect(await client.check(BOB, ENTRY)).toMatchObject({ status: 403 });
    expect(await client.check("Bearer nobody", ENTRY)).toMatchObject({ status: 401 });
  });

  it("answers 504 journals_timeout once the API is silent past the timeout, and no later", async () => {
    // Prepare
    journals.behaviour = "hang";
    const impatient = new JournalsClient(journalsUrl, SHORT_TIMEOUT_MS);
    const started = performance.now();

    // Act
    const refusal = await impatient.check(ALICE, ENTRY);

    // Assess
    const elapsed = performance.now() - started;
    expect(refusal).toMatchObject({ status: 504, code: "journals_timeout" });
    expect(elapsed).toBeGreaterThanOrEqual(SHORT_TIMEOUT_MS - 5);
    expect(elapsed).toBeLessThan(TIMEOUT_MS);
  });

  it("answers 502 journals_unavailable when the API drops the connection", async () => {
    journals.behaviour = "drop";
    expect(await client.check(ALICE, ENTRY)).toMatchObject({ status: 502, code: "journals_unavailable" });
  });

  it("answers 502 journals_unavailable when nothing listens", async () => {
    // Prepare
    const gone = new FaultyJournalsApi(ACCESS);
    const goneUrl = await gone.start();
    await gone.stop();

    // Act
    const refusal = await new JournalsClient(goneUrl, TIMEOUT_MS).check(ALICE, ENTRY);

    // Assess
    expect(refusal).toMatchObject({ status: 502, code: "journals_unavailable" });
  });

  describe("behind a redirect", () => {
    let redirector: Server;
    let redirectorUrl: string;
    beforeAll(async () => {
      // Sends every request on to the real journals API, which would allow alice.
      redirector = createServer((request, response) => {
        response.writeHead(307, { location: `${journalsUrl}${request.url}` }).end();
      });
      redirectorUrl = `http://127.0.0.1:${await listen(redirector, 0)}`;
    });
    afterAll(() => close(redirector));

    it("does not follow it, so the credential goes nowhere else: 502", async () => {
      // Act
      const refusal = await new JournalsClient(redirectorUrl, TIMEOUT_MS).check(ALICE, ENTRY);

      // Assess
      expect(refusal).toMatchObject({ status: 502, code: "journals_unavailable" });
      expect(journals.calls).toHaveLength(0);
    });
  });
});

describe("mapJournalsStatus", () => {
  it.each([
    [199, 502],
    [200, undefined],
    [299, undefined],
    [300, 502],
    [401, 401],
    [402, 502],
    [403, 403],
    [404, 403],
    [410, 502],
    [500, 502],
  ])("maps %i to %s", (status, answer) => {
    expect(mapJournalsStatus(status)?.status).toBe(answer);
  });
});
