import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { JournalsApiServer, send } from "../../infra/local/demo/JournalsApiServer";

/** How the server answers the next requests: its own rules, a fixed status, a hang, or a dropped connection. */
export type JournalsBehaviour = "rules" | number | "hang" | "drop";

export interface JournalsCall {
  readonly path: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
}

/**
 * The demo journals API with fault switches for tests: it records every call, and `behaviour` makes it
 * answer a fixed status, hang until stopped, or drop the connection instead of following its rules.
 */
export class FaultyJournalsApi extends JournalsApiServer {
  public behaviour: JournalsBehaviour = "rules";
  public readonly calls: JournalsCall[] = [];
  private readonly hanging = new Set<() => void>();

  public override async stop(): Promise<void> {
    for (const release of this.hanging) release();
    await super.stop();
  }

  public reset(): void {
    this.behaviour = "rules";
    this.calls.length = 0;
  }

  protected override handle(request: IncomingMessage, response: ServerResponse): void {
    this.calls.push({ path: request.url ?? "", method: request.method ?? "", headers: request.headers });
    const behaviour = this.behaviour;
    if (behaviour === "hang") {
      this.hanging.add(() => response.destroy());
      return;
    }
    if (behaviour === "drop") {
      request.socket.destroy();
      return;
    }
    if (typeof behaviour === "number") send(response, behaviour, { detail: "injected" });
    else super.handle(request, response);
  }
}
