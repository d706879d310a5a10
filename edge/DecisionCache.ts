import { createHash } from "node:crypto";
import type { HttpError } from "../contract/errors";
import type { EntryRef } from "../contract/types";
import { BoundedCache } from "./BoundedCache";

/** What the journals API said about one credential and one entry: allowed, or the refusal to repeat. */
export type AccessDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly error: HttpError };

/**
 * A bounded, per-container memory of journals API answers, so a page of thumbnails costs one call. Keys
 * are a SHA-256 of entry and credential, never the credential itself. Callers keep only definite answers
 * (2xx, 401, 403/404), never an outage; refusals are kept briefly so a newly granted user is not locked out.
 */
export class DecisionCache {
  private readonly cache: BoundedCache<AccessDecision>;

  /**
   * @param allowTtlMs how long an allow is remembered; callers keep it no longer than a token lives
   * @param denyTtlMs how long a refusal is remembered
   * @param maxEntries the bound; the least recently used decision goes first
   */
  public constructor(
    private readonly allowTtlMs: number,
    private readonly denyTtlMs: number,
    maxEntries: number,
  ) {
    this.cache = new BoundedCache(maxEntries);
  }

  /** The cache key for a credential on an entry. Ids cannot hold `/` or a newline, so it is unambiguous. */
  public static keyFor(credential: string, entry: EntryRef): string {
    return createHash("sha256")
      .update(`${entry.journalId}/${entry.entryId}\n${credential}`)
      .digest("base64url");
  }

  public get(key: string, nowMs: number): AccessDecision | undefined {
    return this.cache.get(key, nowMs);
  }

  public set(key: string, decision: AccessDecision, nowMs: number): void {
    this.cache.set(key, decision, nowMs + (decision.allowed ? this.allowTtlMs : this.denyTtlMs), nowMs);
  }

  public get size(): number {
    return this.cache.size;
  }

  /** The hashed keys held (tests check that no credential is among them). */
  public keys(): string[] {
    return this.cache.keys();
  }
}
