import fc from "fast-check";

/**
 * The seed every property starts from unless `FC_SEED` names another: `npm test` and CI generate the same
 * cases on every run, so a red run is reproducible. A larger or different search is
 * `FC_SEED=$RANDOM FC_RUNS=20000 npx vitest run test/hardening`.
 */
export const FIXED_SEED = 20_261_125;

/** How many cases a property generates, and from which seed. */
export interface PropertyBudget {
  readonly seed: number;
  readonly numRuns: number;
}

/** `FC_SEED` and `FC_RUNS` when set, else the fixed seed and the property's own default. */
export function propertyBudget(defaultRuns: number): PropertyBudget {
  const seed = Number(process.env.FC_SEED ?? FIXED_SEED);
  const numRuns = Number(process.env.FC_RUNS ?? defaultRuns);
  if (!Number.isInteger(seed)) throw new Error(`FC_SEED must be an integer, not "${process.env.FC_SEED}".`);
  if (!Number.isInteger(numRuns) || numRuns < 1) {
    throw new Error(`FC_RUNS must be a positive integer, not "${process.env.FC_RUNS}".`);
  }
  return { seed, numRuns };
}

/**
 * A vitest timeout for a property that takes about `msPerCase` a case: generous for the default budget,
 * and growing with `FC_RUNS` so a larger search is not cut short.
 */
export function propertyTimeoutMs(defaultRuns: number, msPerCase: number): number {
  return Math.max(30_000, propertyBudget(defaultRuns).numRuns * msPerCase * 3);
}

/**
 * Checks `property` like `fc.assert` (same failure report, with the seed and path to replay it) and then
 * prints how many cases it generated, which is what a closing note quotes.
 *
 * @returns the number of generated cases
 */
export async function assertProperty<Ts>(
  name: string,
  property: fc.IAsyncProperty<Ts> | fc.IProperty<Ts>,
  defaultRuns: number,
): Promise<number> {
  const budget = propertyBudget(defaultRuns);
  const details = await fc.check(property as fc.IAsyncProperty<Ts>, {
    seed: budget.seed,
    numRuns: budget.numRuns,
  });
  const failure = fc.defaultReportMessage(details);
  if (failure !== undefined) throw new Error(`Property "${name}" failed.\n${failure}`);
  console.info(`[property] ${name}: ${details.numRuns} generated cases (seed ${details.seed})`);
  return details.numRuns;
}
