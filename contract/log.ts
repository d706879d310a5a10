/** One structured log line; never carries a credential, token or grant. */
export type Log = (entry: Readonly<Record<string, unknown>>) => void;

/** One JSON line per entry on standard output, where Lambda sends it to CloudWatch. */
export const consoleLog: Log = (entry) => console.log(JSON.stringify(entry));

/** A failure as a log line may carry it: names and messages, never a stack, a payload or a header. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return "unknown";
  const cause = error.cause instanceof Error ? ` (${error.cause.name}: ${error.cause.message})` : "";
  return `${error.name}: ${error.message}${cause}`;
}
