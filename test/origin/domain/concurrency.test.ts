import { describe, expect, it } from "vitest";
import { settleEach } from "../../../origin/domain/concurrency";

/** Resolves after `ms`. */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("settleEach", () => {
  it("answers every result in the items' order, whatever order they finish in", async () => {
    // Act: later items finish first
    const results = await settleEach([30, 20, 10, 0], 4, async (ms) => {
      await sleep(ms);
      return ms * 2;
    });

    // Assess
    expect(results).toEqual([60, 40, 20, 0].map((value) => ({ status: "fulfilled", value })));
  });

  it.each([
    [1, 10, 1],
    [3, 10, 3],
    [8, 3, 3],
  ])("runs at most %i at once (%i items: %i)", async (limit, count, peak) => {
    // Prepare
    let running = 0;
    let highest = 0;

    // Act
    await settleEach(
      Array.from({ length: count }, (_, index) => index),
      limit,
      async () => {
        running += 1;
        highest = Math.max(highest, running);
        await sleep(2);
        running -= 1;
      },
    );

    // Assess
    expect(highest).toBe(peak);
  });

  it("settles every item when some fail, however they fail", async () => {
    // Prepare
    const done: number[] = [];
    const failure = new Error("store down");

    // Act
    const results = await settleEach([1, 2, 3, 4], 2, async (item) => {
      if (item === 1) throw failure;
      if (item === 3) JSON.parse("{"); // a synchronous throw inside the task
      done.push(item);
      return item;
    });

    // Assess
    expect(results[0]).toEqual({ status: "rejected", reason: failure });
    expect(results[1]).toEqual({ status: "fulfilled", value: 2 });
    expect(results[2]).toMatchObject({ status: "rejected", reason: expect.any(SyntaxError) });
    expect(results[3]).toEqual({ status: "fulfilled", value: 4 });
    expect(done.sort()).toEqual([2, 4]);
  });

  it("runs each item exactly once", async () => {
    const seen: number[] = [];
    await settleEach([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
      seen.push(item);
      await sleep(1);
    });
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("answers nothing and calls nothing for no items", async () => {
    let calls = 0;
    expect(await settleEach([], 4, async () => (calls += 1))).toEqual([]);
    expect(calls).toBe(0);
  });
});
