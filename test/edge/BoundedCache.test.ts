import { describe, expect, it } from "vitest";
import { BoundedCache } from "../../edge/BoundedCache";

const LATER = 10_000;

/** A cache of `size` holding `keys`, set in order at time 0, each until `LATER`. */
function filled(size: number, keys: readonly string[]): BoundedCache<string> {
  const cache = new BoundedCache<string>(size);
  for (const key of keys) cache.set(key, `value of ${key}`, LATER, 0);
  return cache;
}

describe("BoundedCache", () => {
  it("answers what it holds until its expiry, and nothing from that millisecond on", () => {
    // Prepare
    const cache = filled(3, ["a"]);

    // Act
    const before = cache.get("a", LATER - 1);
    const at = cache.get("a", LATER);

    // Assess
    expect(before).toBe("value of a");
    expect(at).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("answers nothing for a key it never held", () => {
    expect(filled(3, ["a"]).get("b", 0)).toBeUndefined();
  });

  it("evicts the least recently set when full", () => {
    // Prepare
    const cache = filled(3, ["a", "b", "c"]);

    // Act
    cache.set("d", "value of d", LATER, 1);

    // Assess
    expect(cache.keys()).toEqual(["b", "c", "d"]);
    expect(cache.get("a", 2)).toBeUndefined();
  });

  it.each([
    ["a read", (cache: BoundedCache<string>) => cache.get("a", 1), ["c", "a", "d"]],
    [
      "a write of the same key",
      (cache: BoundedCache<string>) => cache.set("a", "new", LATER, 1),
      ["c", "a", "d"],
    ],
  ])("counts %s as a use: the entry it touches is evicted last", (_what, use, kept) => {
    // Prepare
    const cache = filled(3, ["a", "b", "c"]);

    // Act
    use(cache);
    cache.set("d", "value of d", LATER, 1);

    // Assess
    expect(cache.keys()).toEqual(kept);
  });

  it("replaces the value of a key it holds without evicting another", () => {
    // Prepare
    const cache = filled(2, ["a", "b"]);

    // Act
    cache.set("a", "newer", LATER * 2, 1);

    // Assess
    expect(cache.keys()).toEqual(["b", "a"]);
    expect(cache.get("a", LATER + 1)).toBe("newer");
  });

  it.each([
    ["already expired", -1],
    ["expiring that very millisecond", 0],
  ])("keeps no value %s, and evicts nothing for it", (_what, offset) => {
    // Prepare
    const cache = filled(2, ["a", "b"]);

    // Act
    cache.set("c", "stale", 5 + offset, 5);

    // Assess
    expect(cache.keys()).toEqual(["a", "b"]);
    expect(cache.get("c", 5)).toBeUndefined();
  });

  it.each([0, -1])("keeps nothing with a size of %i", (size) => {
    // Act
    const cache = filled(size, ["a", "b"]);

    // Assess
    expect(cache.size).toBe(0);
    expect(cache.get("a", 0)).toBeUndefined();
  });

  it("never grows past its size", () => {
    const cache = filled(
      5,
      Array.from({ length: 100 }, (_, index) => `key-${index}`),
    );
    expect(cache.size).toBe(5);
    expect(cache.keys()).toEqual(["key-95", "key-96", "key-97", "key-98", "key-99"]);
  });
});
