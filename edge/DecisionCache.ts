import { createHash } from "node:crypto";
import type { HttpError } from "./errors";
import type { EntryRef } from "./routes";

/** What the journals API said about one credential and one entry: allowed, or the refusal to repeat. */
export type AccessDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly error: HttpError };

interface Remembered {
  readonly decision: AccessDecision;
  readonly expiresAt: number;
}

/**
 * A bounded, per-container memory of journals API answers, so a page of thumbnails costs one call. Keys
 * are a SHA-256 of entry and credential, never the credential itself. Only definite answers (2xx, 401,
 * 403/404) are kept, never an outage; refusals are kept briefly so a newly granted user is not locked out.
 */
export class DecisionCache {
  private readonly entries = new Map<string, Remembered>();

  /**
   * @param allowTtlMs how long an allow is remembered; callers keep it no longer than a token lives
   * @param denyTtlMs how long a refusal is remembered
   * @param maxEntries the bound; the least recently used decision goes first
   */
  public constructor(
    private readonly allowTtlMs: number,
    private readonly denyTtlMs: number,
    private readonly maxEntries: number,
  ) {}

  /** The cache key for a credential on an entry. Ids cannot hold `/` or a newline, so it is unambiguous. */
  public static keyFor(credential: string, entry: EntryRef): string {
    return createHash("sha256")
      .update(`${entry.journalId}/${entry.entryId}\n${credential}`)
      .digest("base64url");
  }

  public get(key: string, nowMs: number): AccessDecision | undefined {
    const remembered = this.entries.get(key);
    if (!remembered) return undefined;
    this.entries.delete(key);
    if (remembered.expiresAt <= nowMs) return undefined;
    this.entries.set(key, remembered);
    return remembered.decision;
  }

  public set(key: string, decision: AccessDecision, nowMs: number): void {
    const ttl = decision.allowed ? this.allowTtlMs : this.denyTtlMs;
    if (ttl <= 0 || this.maxEntries <= 0) return;
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { decision, expiresAt: nowMs + ttl });
  }

  public get size(): number {
    return this.entries.size;
  }
}
