import { describe, expect, it } from "vitest";
import { MAX_RETRY_MS, refreshing } from "../../contract/refreshing";

/** A clock, a log and a source whose answers the test decides. */
function harness(answers: readonly (number | Error)[]) {
  const state = { now: 0, calls: 0 };
  const logs: Record<string, unknown>[] = [];
  const get = refreshing(
    async () => {
      const answer = answers[Math.min(state.calls, answers.length - 1)] as number | Error;
      state.calls += 1;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    1000,
    { what: "signing keys", now: () => state.now, log: (entry) => logs.push({ ...entry }) },
  );
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { state, logs, get, settle };
}

describe("refreshing", () => {
  it("builds once, then again in the background when stale, serving the old value meanwhile", async () => {
    // Prepare
    const { state, get, settle } = harness([1, 2]);

    // Act
    const first = await Promise.all([get(), get()]);
    state.now = 1000;
    const whileRefreshing = await get();
    await settle();
    const refreshed = await get();

    // Assess
    expect(first).toEqual([1, 1]);
    expect(whileRefreshing).toBe(1);
    expect(refreshed).toBe(2);
    expect(state.calls).toBe(2);
  });

  it("logs a failed first load once, fails at once during the wait, and tries again after it", async () => {
    // Prepare
    const { state, logs, get } = harness([new Error("AccessDeniedException: not yours"), 7]);

    // Act
    await expect(get()).rejects.toThrow("not yours");
    await expect(get()).rejects.toThrow("not yours");
    await expect(get()).rejects.toThrow("not yours");
    const callsDuringWait = state.calls;
    state.now = 1000;
    const after = await get();

    // Assess: one attempt, one line, no load on the secret store while waiting
    expect(callsDuringWait).toBe(1);
    expect(after).toBe(7);
    expect(logs).toEqual([
      {
        level: "error",
        event: "refresh_failed",
        what: "signing keys",
        error: "Error: AccessDeniedException: not yours",
        serving: "nothing",
        retry_in_ms: 1000,
      },
      { level: "info", event: "refresh_recovered", what: "signing keys" },
    ]);
  });

  it("doubles the wait after each failure, up to a minute", async () => {
    // Prepare
    const { state, logs, get } = harness([new Error("throttled")]);

    // Act: call well after every wait, so each call is one attempt
    for (let attempt = 0; attempt < 10; attempt += 1) {
      await get().catch(() => undefined);
      state.now += MAX_RETRY_MS;
    }

    // Assess
    expect(state.calls).toBe(10);
    expect(logs.map((line) => line.retry_in_ms)).toEqual([
      1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000, 60000,
    ]);
  });

  it("keeps serving the last value while refreshes fail, logging each failed attempt once", async () => {
    // Prepare
    const { state, logs, get, settle } = harness([
      1,
      new Error("bad rotated secret"),
      new Error("still bad"),
      4,
    ]);
    await get();

    // Act: every request after the value went stale
    state.now = 2000;
    const served: number[] = [];
    for (let request = 0; request < 5; request += 1) {
      served.push(await get());
      await settle();
    }
    const attemptsInWait = state.calls;
    state.now = 3000;
    served.push(await get());
    await settle();
    state.now = 5000;
    served.push(await get());
    await settle();

    // Assess: five requests in the first wait cost one attempt; the third attempt succeeds
    expect(served).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(attemptsInWait).toBe(2);
    expect(await get()).toBe(4);
    expect(logs).toEqual([
      expect.objectContaining({ event: "refresh_failed", serving: "previous", retry_in_ms: 1000 }),
      expect.objectContaining({ event: "refresh_failed", serving: "previous", retry_in_ms: 2000 }),
      { level: "info", event: "refresh_recovered", what: "signing keys" },
    ]);
  });
});
