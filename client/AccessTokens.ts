/** `POST …/access`'s answer, as far as the cache needs it. */
export interface AccessAnswer {
  readonly token: string;
  /** Seconds the token lives, counted from when the gateway answered. */
  readonly expires_in: number;
}

interface Slot {
  readonly token: Promise<string>;
  /** Milliseconds since the epoch after which a new token is fetched; until it is known, never. */
  refreshAt: number;
}

/** A token is replaced when a fifth of its life, at most this long, is left. */
const MAX_REFRESH_MARGIN_MS = 30_000;
const REFRESH_MARGIN_SHARE = 0.2;

/**
 * Access tokens per entry, each fetched once and reused until shortly before it expires, then replaced
 * on the next use, so a caller never holds an expired one. Concurrent callers share one fetch; a failed
 * fetch is forgotten at once. Lifetimes are counted on this machine's clock from the moment the token was
 * asked for (`expires_in`, not the gateway's `expires_at`), so a skewed clock cannot keep a stale token.
 * Tokens are never logged nor put in an error.
 */
export class AccessTokens {
  private readonly slots = new Map<string, Slot>();

  public constructor(
    private readonly fetchToken: (journalId: string, entryId: string) => Promise<AccessAnswer>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token for the entry that has a good part of its life left. */
  public get(journalId: string, entryId: string): Promise<string> {
    const key = `${journalId}/${entryId}`;
    const current = this.slots.get(key);
    if (current && this.now() < current.refreshAt) return current.token;

    const askedAt = this.now();
    const slot: Slot = {
      refreshAt: Number.POSITIVE_INFINITY,
      token: this.fetchToken(journalId, entryId).then(
        (answer) => {
          const lifetimeMs = answer.expires_in * 1000;
          slot.refreshAt =
            askedAt + lifetimeMs - Math.min(MAX_REFRESH_MARGIN_MS, lifetimeMs * REFRESH_MARGIN_SHARE);
          return answer.token;
        },
        (error: unknown) => {
          if (this.slots.get(key) === slot) this.slots.delete(key);
          throw error;
        },
      ),
    };
    this.forgetStale();
    this.slots.set(key, slot);
    return slot.token;
  }

  /** Drops tokens due for replacement, so a long session visiting many entries holds only live ones. */
  private forgetStale(): void {
    const now = this.now();
    for (const [key, slot] of this.slots) if (now >= slot.refreshAt) this.slots.delete(key);
  }
}
