import {
  BadGatewayError,
  ForbiddenError,
  GatewayTimeoutError,
  type HttpError,
  UnauthorizedError,
} from "../contract/errors";
import type { EntryRef, Fetch } from "../contract/types";

/**
 * Asks the notes app's journals API whether a credential may open an entry:
 * `GET {base}/journals/{j}/entries/{e}` with the caller's `Authorization`, forwarded verbatim.
 * Answers map as the contract says; any doubt is a refusal.
 */
export class JournalsClient {
  private readonly baseUrl: string;

  public constructor(
    baseUrl: string,
    private readonly timeoutMs: number,
    private readonly fetchImpl: Fetch = fetch,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  /** `undefined` when allowed, else the error to answer with. Never throws. */
  public async check(authorization: string, entry: EntryRef): Promise<HttpError | undefined> {
    const url = `${this.baseUrl}/journals/${entry.journalId}/entries/${entry.entryId}`;
    let status: number;
    try {
      const response = await this.fetchImpl(url, {
        method: "GET",
        headers: { authorization, accept: "application/json" },
        // A redirect could carry the credential elsewhere; it is an answer we do not understand.
        redirect: "manual",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = response.status;
      // Free the connection; the body is not needed.
      await response.body?.cancel().catch(() => undefined);
    } catch (error) {
      if (error instanceof Error && error.name === "TimeoutError") {
        return new GatewayTimeoutError("journals_timeout", "The journals API did not answer in time.");
      }
      return new BadGatewayError("journals_unavailable", "The journals API could not be reached.");
    }
    return mapJournalsStatus(status);
  }
}

/** The contract's mapping of a journals API status: 2xx allow; 401; 403/404 → 403; anything else 502. */
export function mapJournalsStatus(status: number): HttpError | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 401)
    return new UnauthorizedError("unauthorized", "The journals API did not accept the credential.");
  if (status === 403 || status === 404) {
    return new ForbiddenError("forbidden", "The credential does not open this entry.");
  }
  return new BadGatewayError("journals_unavailable", `The journals API answered ${status}.`);
}
