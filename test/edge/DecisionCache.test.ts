import { describe, expect, it } from "vitest";
import { ForbiddenError } from "../../contract/errors";
import { DecisionCache } from "../../edge/DecisionCache";
import { ENTRY, OTHER_ENTRY } from "../support/edge";

const allow = { allowed: true } as const;

describe("DecisionCache", () => {
  it("forgets an allow after its TTL", () => {
    const cache = new DecisionCache(1000, 100, 10);
    cache.set("k", allow, 0);
    expect(cache.get("k", 999)).toEqual(allow);
    expect(cache.get("k", 1000)).toBeUndefined();
  });

  it("keeps a refusal for the shorter deny TTL", () => {
    const cache = new DecisionCache(1000, 100, 10);
    const deny = { allowed: false, error: new ForbiddenError("forbidden", "no") } as const;
    cache.set("k", deny, 0);
    expect(cache.get("k", 99)).toBe(deny);
    expect(cache.get("k", 100)).toBeUndefined();
  });

  it("stays within its bound, evicting the least recently used", () => {
    // Prepare
    const cache = new DecisionCache(10_000, 10_000, 3);
    for (const key of ["a", "b", "c"]) cache.set(key, allow, 0);

    // Act
    cache.get("a", 1);
    cache.set("d", allow, 1);

    // Assess
    expect(cache.size).toBe(3);
    expect(cache.get("b", 2)).toBeUndefined();
    expect(cache.get("a", 2)).toEqual(allow);
    expect(cache.get("d", 2)).toEqual(allow);
  });

  it("remembers nothing with a zero TTL", () => {
    const cache = new DecisionCache(0, 0, 10);
    cache.set("k", allow, 0);
    expect(cache.size).toBe(0);
  });

  it("keys by entry and credential, as a hash", () => {
    const key = DecisionCache.keyFor("Bearer secret-credential", ENTRY);
    expect(key).not.toContain("secret");
    expect(key).not.toBe(DecisionCache.keyFor("Bearer secret-credential", OTHER_ENTRY));
    expect(key).not.toBe(DecisionCache.keyFor("Bearer other", ENTRY));
    expect(key).toBe(DecisionCache.keyFor("Bearer secret-credential", ENTRY));
  });
});
