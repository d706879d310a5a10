import type { FaultTiming } from "./bugoutApi";
import type { SeededRandom } from "./random";

/** One failure a `RandomFaults` injected: which call, and whether the call had done its work. */
export interface InjectedFault {
  readonly method: string;
  readonly timing: FaultTiming;
}

export interface RandomFaultsOptions<T> {
  /** The calls that may fail; every other call goes straight through. */
  readonly methods: readonly (keyof T & string)[];
  /** The share of those calls that fail, 0..1. */
  readonly rate: number;
  readonly random: SeededRandom;
  /** What a failed call rejects with, as the real adapter would. */
  readonly makeError: () => unknown;
  /** `before`: the call never reaches the adapter; `after`: it did its work and the answer is lost. */
  readonly timings?: readonly FaultTiming[];
}

/**
 * Wraps an adapter so that a seeded-random share of chosen calls fail, before or after doing their work:
 * the outage a real store has, at a rate, rather than at a place a test chose. Every fault is recorded.
 */
export class RandomFaults<T extends object> {
  public readonly target: T;
  public readonly injected: InjectedFault[] = [];
  /** Switch faults off to read the final state through the same adapter. */
  public enabled = true;

  public constructor(inner: T, options: RandomFaultsOptions<T>) {
    const methods = new Set<PropertyKey>(options.methods);
    const timings = options.timings ?? ["before", "after"];
    this.target = new Proxy(inner, {
      get: (object, property, receiver) => {
        const value = Reflect.get(object, property, receiver);
        if (typeof value !== "function") return value;
        if (!this.enabled || !methods.has(property) || !options.random.chance(options.rate)) {
          return value.bind(object);
        }
        const fault: InjectedFault = { method: String(property), timing: options.random.pick(timings) };
        return async (...args: unknown[]) => {
          this.injected.push(fault);
          if (fault.timing === "after") await value.apply(object, args);
          throw options.makeError();
        };
      },
    });
  }
}
