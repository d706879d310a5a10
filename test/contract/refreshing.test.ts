import { describe, expect, it } from "vitest";
import { refreshing } from "../../contract/refreshing";

describe("refreshing", () => {
  it("builds once, then again in the background when stale, serving the old value meanwhile", async () => {
    // Prepare
    let now = 0;
    let builds = 0;
    const get = refreshing(
      async () => ++builds,
      1000,
      () => now,
    );

    // Act
    const first = await Promise.all([get(), get()]);
    now = 1000;
    const whileRefreshing = await get();
    await new Promise((resolve) => setImmediate(resolve));
    const refreshed = await get();

    // Assess
    expect(first).toEqual([1, 1]);
    expect(whileRefreshing).toBe(1);
    expect(refreshed).toBe(2);
    expect(builds).toBe(2);
  });

  it("does not remember a failure: the next call tries again", async () => {
    let attempts = 0;
    const get = refreshing(async () => {
      attempts += 1;
      if (attempts === 1) throw new Error("unavailable");
      return "keys";
    }, 1000);
    await expect(get()).rejects.toThrow("unavailable");
    await expect(get()).resolves.toBe("keys");
  });

  it("keeps serving the last value when a refresh fails", async () => {
    let now = 0;
    let attempts = 0;
    const get = refreshing(
      async () => {
        attempts += 1;
        if (attempts === 2) throw new Error("unavailable");
        return attempts;
      },
      1000,
      () => now,
    );
    await get();
    now = 2000;
    expect(await get()).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await get()).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await get()).toBe(3);
  });
});
