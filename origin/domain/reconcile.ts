import { imageOfKey } from "../../contract/keys";
import { describeError } from "../../contract/log";
import type { ImageRef } from "../../contract/types";
import { variantOfKey } from "../../contract/variants";
import { settleEach } from "./concurrency";
import { LEGACY_IMAGE_TYPES, TYPE_SAMPLE_BYTES } from "./constants";
import { UnsupportedTypeError } from "./errors";
import { detectImageType } from "./imageWrites";
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
  /**
   * Remove the orphan objects found, remove the original design's records whose bytes never arrived, and
   * give its objects the type their bytes have. The gateway's own records without bytes are only
   * reported: nothing can restore them.
   */
  readonly fix: boolean;
  /**
   * Remove orphans even when the metadata listed no record, or far fewer than there are objects: what a
   * wrong token or store looks like.
   */
  readonly allowMassRemoval?: boolean;
  /**
   * Remove orphans older than the oldest record the gateway wrote itself: objects of the original design,
   * which a token that cannot see its records takes for orphans.
   */
  readonly removeOldOrphans?: boolean;
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
  /**
   * Objects under the images prefix that no record names (older than the grace period): originals, and
   * variants whose image has no record.
   */
  readonly orphanObjects: readonly string[];
  /** The orphan objects removed (`fix` only). */
  readonly removedObjects: readonly string[];
  /** Orphan objects that could not be removed, with why. */
  readonly failedRemovals: readonly { readonly key: string; readonly error: string }[];
  /** Records whose bytes are missing. */
  readonly missingObjects: readonly MissingObject[];
  /** Objects too young to judge. */
  readonly recentObjects: number;
  /** Why `fix` removed no orphan at all, when it refused; `null` otherwise. */
  readonly refused: string | null;
  /** Orphans kept because they are older than the gateway's own records (`removeOldOrphans` removes them). */
  readonly protectedOrphans: readonly string[];
  /** Records of the original design whose bytes never arrived, removed (`fix` only). */
  readonly removedRecords: readonly ImageRecord[];
  /** Objects of the original design stored without their type, and the type their bytes have. */
  readonly contentTypes: readonly ContentTypeFinding[];
  /** Upload tickets long expired, removed (`fix` only, where the store keeps them as resources). */
  readonly expiredUploadsRemoved: number;
}

/** An object served with another type than its bytes have. */
export interface ContentTypeFinding {
  readonly key: string;
  /** What the store holds; `undefined` when it holds none. */
  readonly stored: string | undefined;
  /** What the bytes are; `null` when they are no image the gateway serves (left as they are). */
  readonly detected: string | null;
  /** Whether `fix` set the detected type. */
  readonly fixed: boolean;
}

/** The default grace period: the longest a Lambda function (an upload in flight) may run. */
export const DEFAULT_RECONCILE_GRACE_MS = 15 * 60 * 1000;
const CHECK_CONCURRENCY = 8;
/** Orphans beyond this share of the objects judged, and this many at least, make a listing suspect. */
const MASS_REMOVAL_SHARE = 0.5;
const MASS_REMOVAL_MIN = 10;
/** Object times (whole seconds in S3) and record times (the origin's clock) may disagree by this much. */
const CLOCK_MARGIN_MS = 60_000;

/**
 * Compares the object store with the metadata store: objects without records (an upload or delete that
 * died halfway) and records without objects (bytes lost). Every finding is checked again before it is
 * reported, because uploads and deletes go on meanwhile; with `fix`, orphan objects are removed, unless
 * the listing looks blind (no record, or most objects unrecorded: a wrong store or token) or they are
 * older than the gateway's own records, and the original design's byte-less records and untyped objects
 * are settled.
 */
export async function reconcile(deps: ReconcileDeps, options: ReconcileOptions): Promise<ReconcileReport> {
  const graceMs = options.graceMs ?? DEFAULT_RECONCILE_GRACE_MS;
  // Objects are listed before records: an upload writes its object first, so any record listed next
  // whose object was not listed really lacks it (or is being deleted, which the recheck sees).
  // Each object by the image it belongs to: an original's key names it, and a variant's key starts with
  // its original's. A variant has no record of its own; it is an orphan when its image has none.
  const objects = new Map<string, { readonly image: ImageRef; readonly imageKey: string }>();
  let recentObjects = 0;
  const youngest = deps.now() - graceMs;
  const ages = new Map<string, number>();
  for await (const object of deps.images.list(`${deps.imagesPrefix}/`)) {
    const image = imageOfKey(deps.imagesPrefix, object.key);
    const owner = image ? { image, imageKey: object.key } : variantOfKey(deps.imagesPrefix, object.key);
    if (!owner) continue;
    if (object.lastModified.getTime() > youngest) recentObjects += 1;
    else {
      objects.set(object.key, { image: owner.image, imageKey: owner.imageKey });
      ages.set(object.key, object.lastModified.getTime());
    }
  }
  const recorded = new Set<string>();
  const missingCandidates: MissingObject[] = [];
  const records: ImageRecord[] = [];
  for await (const record of deps.metadata.listAll()) {
    records.push(record);
    const key = objectKeyOf(deps.imagesPrefix, record);
    recorded.add(key);
    if (!objects.has(key)) missingCandidates.push({ key, record });
  }

  const orphanCandidates = [...objects].filter(([, owner]) => !recorded.has(owner.imageKey));
  // The gateway's own records carry a SHA-256; the original design's never did.
  const oldestOwn = records.reduce<number | undefined>((oldest, record) => {
    const time = record.sha256 === null ? Number.NaN : Date.parse(record.created_at);
    return Number.isFinite(time) && (oldest === undefined || time < oldest) ? time : oldest;
  }, undefined);
  const orphanChecks = await settleEach(orphanCandidates, CHECK_CONCURRENCY, async ([key, owner]) =>
    (await deps.metadata.get(owner.image)) ? undefined : key,
  );
  const orphanObjects = foundOrThrow(orphanChecks);

  const missingChecks = await settleEach(missingCandidates, CHECK_CONCURRENCY, async (candidate) => {
    if (await deps.images.head(candidate.key)) return undefined;
    return (await deps.metadata.get(refOf(candidate.record))) ? candidate : undefined;
  });
  const missingObjects = foundOrThrow(missingChecks);

  const refused = options.allowMassRemoval
    ? null
    : massRemovalRefusal(orphanObjects.length, objects.size, records.length);
  // Older than anything the gateway wrote: the original design's, which only a blind listing misses.
  const isProtected = (key: string) =>
    !options.removeOldOrphans &&
    (oldestOwn === undefined || (ages.get(key) ?? Number.POSITIVE_INFINITY) < oldestOwn - CLOCK_MARGIN_MS);
  const protectedOrphans = orphanObjects.filter((key) => records.length > 0 && isProtected(key));
  const removable = orphanObjects.filter((key) => !protectedOrphans.includes(key));

  const removedObjects: string[] = [];
  const failedRemovals: { key: string; error: string }[] = [];
  const removedRecords: ImageRecord[] = [];
  let expiredUploadsRemoved = 0;
  if (options.fix && refused === null) {
    const removals = await settleEach(removable, CHECK_CONCURRENCY, (key) => deps.images.delete(key));
    removals.forEach((result, index) => {
      const key = removable[index] as string;
      if (result.status === "fulfilled") removedObjects.push(key);
      else failedRemovals.push({ key, error: describeError(result.reason) });
    });
  }
  if (options.fix) {
    // The original design recorded an image before writing its bytes and never took the record back.
    const legacy = missingObjects.filter(({ record }) => record.sha256 === null);
    const settled = await settleEach(legacy, CHECK_CONCURRENCY, ({ record }) =>
      deps.metadata.delete(refOf(record)),
    );
    for (const result of settled)
      if (result.status === "fulfilled" && result.value) removedRecords.push(result.value);
    expiredUploadsRemoved = (await deps.metadata.pruneUploads?.()) ?? 0;
  }
  const legacyObjects = records.filter(
    (record) => record.sha256 === null && objects.has(objectKeyOf(deps.imagesPrefix, record)),
  );
  const contentTypes = foundOrThrow(
    await settleEach(legacyObjects, CHECK_CONCURRENCY, (record) =>
      checkContentType(objectKeyOf(deps.imagesPrefix, record), deps, options.fix),
    ),
  );
  const removedKeys = new Set(removedRecords.map((record) => objectKeyOf(deps.imagesPrefix, record)));
  return {
    orphanObjects,
    removedObjects,
    failedRemovals,
    missingObjects: missingObjects.filter(({ key }) => !removedKeys.has(key)),
    recentObjects,
    refused: options.fix && removable.length > 0 ? refused : null,
    protectedOrphans,
    removedRecords,
    contentTypes,
    expiredUploadsRemoved,
  };
}

/**
 * Why removing `orphans` of `objects` looks like a blind listing rather than garbage: no record at all,
 * or most objects unrecorded. `null` when it does not.
 */
function massRemovalRefusal(orphans: number, objects: number, records: number): string | null {
  const advice = "check METADATA_STORE and BUGOUT_ACCESS_TOKEN, or pass --allow-mass-removal";
  if (orphans === 0) return null;
  if (records === 0)
    return `the metadata store listed no record while ${objects} objects are present: ${advice}.`;
  if (orphans >= MASS_REMOVAL_MIN && orphans > objects * MASS_REMOVAL_SHARE) {
    return `${orphans} of ${objects} objects have no record, more than ${MASS_REMOVAL_SHARE * 100} %: ${advice}.`;
  }
  return null;
}

/**
 * Whether an object of the original design (stored without a type: S3's `binary/octet-stream`) is served
 * as the type its bytes have; with `fix`, sets that type in place. `undefined` when it already is.
 */
async function checkContentType(
  key: string,
  deps: ReconcileDeps,
  fix: boolean,
): Promise<ContentTypeFinding | undefined> {
  const head = await deps.images.head(key);
  if (!head) return undefined;
  const start = await deps.images.readStart(key, TYPE_SAMPLE_BYTES, { ifMatch: head.eTag });
  if (!start) return undefined;
  let detected: string | null;
  try {
    detected = (await detectImageType(start, LEGACY_IMAGE_TYPES)).contentType;
  } catch (error) {
    if (!(error instanceof UnsupportedTypeError)) throw error;
    detected = null;
  }
  if (detected === head.contentType) return undefined;
  const fixed =
    fix &&
    detected !== null &&
    (await deps.images.copy(key, key, { contentType: detected, ifMatch: head.eTag }));
  return { key, stored: head.contentType, detected, fixed };
}

/** Whether anything is left for a person to look at after the run. */
export function needsAttention(report: ReconcileReport): boolean {
  return (
    report.refused !== null ||
    report.protectedOrphans.length > 0 ||
    report.contentTypes.some((finding) => !finding.fixed) ||
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
