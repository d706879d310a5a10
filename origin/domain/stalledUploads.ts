import { STAGING_PREFIX } from "../../contract/constants";
import { uploadOfStagingKey } from "../../contract/keys";
import { describeError } from "../../contract/log";
import { type FinalizeDeps, finalizeUpload } from "./finalize";
import { discardObject } from "./imageWrites";
import type { UploadError, UploadStatus } from "./ports";

/** What a ticket whose finalize failed for good reads as: rejected, saying so, never `pending` forever. */
export const FINALIZE_FAILED: UploadError = {
  code: "finalize_failed",
  message: "The uploaded file could not be processed; upload it again.",
};

/** Which stalled uploads to look at, and whether to act on them. */
export interface StalledUploadsOptions {
  /** Finalize each again, and settle those that fail again as rejected `finalize_failed`. */
  readonly fix: boolean;
  /** Staged objects younger than this may still be in Lambda's own retries, and are left alone. */
  readonly graceMs: number;
}

export interface StalledUploadsReport {
  /**
   * Staged objects older than the grace period. Finalize removes the staged object once it has settled
   * the ticket, so each of these is a finalize that never completed: what the failure queue holds.
   */
  readonly stalled: readonly string[];
  /** `fix`: finalized by this run, with the status the ticket now has. */
  readonly finalized: readonly { readonly key: string; readonly status: UploadStatus | null }[];
  /** `fix`: failed again, so the ticket was settled rejected `finalize_failed` and the object removed. */
  readonly settled: readonly { readonly key: string; readonly error: string }[];
  /** `fix`: could not even be settled (the metadata store failed too); the next run tries again. */
  readonly unsettled: readonly { readonly key: string; readonly error: string }[];
}

/**
 * Re-drives presigned uploads whose finalize never completed (Lambda's retries exhausted: the event is in
 * the failure queue). Finalize is idempotent, so running it again on the staged object is the re-drive;
 * one that fails again failed for good, and its ticket is settled `rejected` with `finalize_failed`, so
 * the client stops waiting and uploads again.
 */
export async function settleStalledUploads(
  deps: FinalizeDeps,
  options: StalledUploadsOptions,
): Promise<StalledUploadsReport> {
  const oldest = deps.now() - options.graceMs;
  const stalled: string[] = [];
  for await (const object of deps.images.list(STAGING_PREFIX)) {
    if (object.lastModified.getTime() <= oldest) stalled.push(object.key);
  }
  const report = { stalled, finalized: [], settled: [], unsettled: [] } as {
    stalled: string[];
    finalized: { key: string; status: UploadStatus | null }[];
    settled: { key: string; error: string }[];
    unsettled: { key: string; error: string }[];
  };
  if (!options.fix) return report;
  // One after another: the failures this exists for are often the stores' own.
  for (const key of stalled) {
    try {
      const ticket = await finalizeUpload(key, deps);
      report.finalized.push({ key, status: ticket?.status ?? null });
    } catch (error) {
      const reason = describeError(error);
      try {
        await settleFailed(key, deps);
        report.settled.push({ key, error: reason });
        deps.log({ level: "warn", event: "upload_finalize_failed", object_key: key, error: reason });
      } catch (settleError) {
        report.unsettled.push({ key, error: describeError(settleError) });
      }
    }
  }
  return report;
}

/** Whether anything is left for a person (or the next run) after `settleStalledUploads`. */
export function stalledNeedAttention(report: StalledUploadsReport): boolean {
  return report.stalled.length > report.finalized.length + report.settled.length;
}

async function settleFailed(key: string, deps: FinalizeDeps): Promise<void> {
  const upload = uploadOfStagingKey(key);
  if (upload) await deps.metadata.settleUpload(upload, { status: "rejected", error: FINALIZE_FAILED });
  await discardObject(key, deps);
}
