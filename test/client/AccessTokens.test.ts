import { describe, expect, it } from "vitest";
import { AccessTokens } from "../../client/AccessTokens.ts";

/** A token source that counts its calls and answers with numbered tokens, on a clock the test moves. */
function tokenSource(expiresIn: number) {
  const clock = { now: 0 };
  const calls: string[] = [];
  let fail = false;
  const tokens = new AccessTokens(
    async (journalId, entryId) => {
      calls.push(`${journalId}/${entryId}`);
      if (fail) throw new Error("journals API down");
      return { token: `token-${calls.length}`, expires_in: expiresIn };
    },
    () => clock.now,
  );
  return {
    tokens,
    calls,
    clock,
    failNext: (value: boolean) => {
      fail = value;
    },
  };
}

describe("AccessTokens", () => {
  it("keeps a token until a fifth of its life, at most 30 s, is left, then fetches a new one", async () => {
    const { tokens, calls, clock } = tokenSource(300);
    expect(await tokens.get("j", "e")).toBe("token-1");
    clock.now = 269_999;
    expect(await tokens.get("j", "e")).toBe("token-1");
    clock.now = 270_000;
    expect(await tokens.get("j", "e")).toBe("token-2");
    expect(calls).toEqual(["j/e", "j/e"]);
  });

  it("renews a short-lived token when a fifth of its life is left", async () => {
    const { tokens, clock } = tokenSource(10);
    await tokens.get("j", "e");
    clock.now = 7_999;
    expect(await tokens.get("j", "e")).toBe("token-1");
    clock.now = 8_000;
    expect(await tokens.get("j", "e")).toBe("token-2");
  });

  it("shares one fetch among concurrent callers, per entry", async () => {
    const { tokens, calls } = tokenSource(300);
    const answers = await Promise.all([tokens.get("j", "e"), tokens.get("j", "e"), tokens.get("j", "other")]);
    expect(answers).toEqual(["token-1", "token-1", "token-2"]);
    expect(calls).toEqual(["j/e", "j/other"]);
  });

  it("forgets a failed fetch at once, so the next call asks again", async () => {
    const { tokens, calls, failNext } = tokenSource(300);
    failNext(true);
    await expect(tokens.get("j", "e")).rejects.toThrow("journals API down");
    failNext(false);
    expect(await tokens.get("j", "e")).toBe("token-2");
    expect(calls).toHaveLength(2);
  });
});
