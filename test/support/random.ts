/**
 * A seeded pseudo-random source (mulberry32): fault runs are reproducible from their seed, so a failure
 * seen once can be replayed. Not for anything secret.
 */
export class SeededRandom {
  private state: number;

  public constructor(public readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A number in [0, 1). */
  public next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let value = this.state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** `true` with probability `rate`. */
  public chance(rate: number): boolean {
    return this.next() < rate;
  }

  /** One of `items`, uniformly. */
  public pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** An integer in [min, max]. */
  public integer(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
}

/** The seed of a fault run: `FAULT_SEED` when set, so another run can search elsewhere. */
export function faultSeed(fixed: number): number {
  const seed = Number(process.env.FAULT_SEED ?? fixed);
  if (!Number.isInteger(seed))
    throw new Error(`FAULT_SEED must be an integer, not "${process.env.FAULT_SEED}".`);
  return seed;
}
