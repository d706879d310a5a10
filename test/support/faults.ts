import type { FaultTiming } from "./bugoutApi";

/**
 * Wraps an adapter so that chosen calls fail: `before` the call reaches the adapter, or `after` it did its
 * work (a reply lost on the way back). Calls without a pending fault go straight through.
 */
export class FaultSwitch<T extends object> {
  public readonly target: T;
  private readonly pending = new Map<PropertyKey, FaultTiming[]>();

  /** @param makeError what a failed call rejects with, as the real adapter would */
  public constructor(inner: T, makeError: () => unknown) {
    this.target = new Proxy(inner, {
      get: (object, property, receiver) => {
        const value = Reflect.get(object, property, receiver);
        if (typeof value !== "function") return value;
        const timing = this.pending.get(property)?.shift();
        if (timing === undefined) return value.bind(object);
        return async (...args: unknown[]) => {
          if (timing === "after") await value.apply(object, args);
          throw makeError();
        };
      },
    });
  }

  /** Makes the next `times` calls of `method` fail. */
  public failNext(method: keyof T & string, times = 1, timing: FaultTiming = "before"): void {
    const queue = this.pending.get(method) ?? [];
    for (let index = 0; index < times; index += 1) queue.push(timing);
    this.pending.set(method, queue);
  }

  public reset(): void {
    this.pending.clear();
  }
}
