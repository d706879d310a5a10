import { imageOfKey } from "../../contract/keys";
import { describeError } from "../../contract/log";
import type { ImageRef } from "../../contract/types";
import { settleEach } from "./concurrency";
import type { ImageRecord, ImageStore, MetadataStore } from "./ports";
import { objectKeyOf, refOf } from "./records";

/** What reconciling needs: the two stores and a clock. */
export interface ReconcileDeps {
  readonly imagesPrefix: string;
  readonly images: ImageStore;
  readonly metadata: MetadataStore;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
}

export interface ReconcileOptions {
  /** Remove the orphan objects found. Records without bytes are only reported: nothing can restore them. */
  readonly fix: boolean;
  /**
   * Objects younger than this are left alone: an upload writes its object before its record, and a Lambda
   * runs for at most 15 minutes.
   */
  readonly graceMs?: number;
}

/** A record whose object is missing. */
export interface MissingObject {
  readonly key: string;
  readonly record: ImageRecord;
}

export interface ReconcileReport {
  /** Objects under the images prefix that no record names (older than the grace period). */
  readonly orphanObjects: readonly string[];
  /** The orphan objects removed (`fix` only). */
  readonly removedObjects: readonly string[];
  /** Orphan objects that could not be removed, with why. */
  readonly failedRemovals: readonly { readonly key: string; readonly error: string }[];
  /** Records whose bytes are missing. */
  readonly missingObjects: readonly MissingObject[];
  /** Objects too young to judge. */
  readonly recentObjects: number;
}

/** The default grace period: the longest a Lambda function (an upload in flight) may run. */
export const DEFAULT_RECONCILE_GRACE_MS = 15 * 60 * 1000;
const CHECK_CONCURRENCY = 8;

/**
 * Compares the object store with the metadata store: objects without records (an upload or delete that
 * died halfway) and records without objects (bytes lost). Every finding is checked again before it is
 * reported, because uploads and deletes go on meanwhile; with `fix`, orphan objects are removed.
 */
export async function reconcile(deps: ReconcileDeps, options: ReconcileOptions): Promise<ReconcileReport> {
  const graceMs = options.graceMs ?? DEFAULT_RECONCILE_GRACE_MS;
  // Objects are listed before records: an upload writes its object first, so any record listed next
  // whose object was not listed really lacks it (or is being deleted, which the recheck sees).
  const objects = new Map<string, ImageRef>();
  let recentObjects = 0;
  const youngest = deps.now() - graceMs;
  for await (const object of deps.images.list(`${deps.imagesPrefix}/`)) {
    const image = imageOfKey(deps.imagesPrefix, object.key);
    if (!image) continue;
    if (object.lastModified.getTime() > youngest) recentObjects += 1;
    else objects.set(object.key, image);
  }
  const recorded = new Set<string>();
  const missingCandidates: MissingObject[] = [];
  for await (const record of deps.metadata.listAll()) {
    const key = objectKeyOf(deps.imagesPrefix, record);
    recorded.add(key);
    if (!objects.has(key)) missingCandidates.push({ key, record });
  }

  const orphanCandidates = [...objects].filter(([key]) => !recorded.has(key));
  const orphanChecks = await settleEach(orphanCandidates, CHECK_CONCURRENCY, async ([key, image]) =>
    (await deps.metadata.get(image)) ? undefined : key,
  );
  const orphanObjects = foundOrThrow(orphanChecks);

  const missingChecks = await settleEach(missingCandidates, CHECK_CONCURRENCY, async (candidate) => {
    if (await deps.images.head(candidate.key)) return undefined;
    return (await deps.metadata.get(refOf(candidate.record))) ? candidate : undefined;
  });
  const missingObjects = foundOrThrow(missingChecks);

  const removedObjects: string[] = [];
  const failedRemovals: { key: string; error: string }[] = [];
  if (options.fix) {
    const removals = await settleEach(orphanObjects, CHECK_CONCURRENCY, (key) => deps.images.delete(key));
    removals.forEach((result, index) => {
      const key = orphanObjects[index] as string;
      if (result.status === "fulfilled") removedObjects.push(key);
      else failedRemovals.push({ key, error: describeError(result.reason) });
    });
  }
  return { orphanObjects, removedObjects, failedRemovals, missingObjects, recentObjects };
}

/** Whether anything is left for a person to look at after the run. */
export function needsAttention(report: ReconcileReport): boolean {
  return (
    report.missingObjects.length > 0 ||
    report.failedRemovals.length > 0 ||
    report.orphanObjects.length > report.removedObjects.length
  );
}

/** What the rechecks confirmed; a recheck that could not run fails the whole run rather than guess. */
function foundOrThrow<T>(results: readonly PromiseSettledResult<T | undefined>[]): T[] {
  return results.flatMap((result) => {
    if (result.status === "rejected") throw result.reason;
    return result.value === undefined ? [] : [result.value];
  });
}
