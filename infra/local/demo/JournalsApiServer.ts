import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { close, listen } from "../gateway/listen";

/** How the server answers the next requests: its own rules, a fixed status, a hang, or a dropped connection. */
export type JournalsBehaviour = "rules" | number | "hang" | "drop";

export interface JournalsCall {
  readonly path: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
}

/**
 * A journals API on loopback that keeps the notes app's contract: `GET /journals/{j}/entries/{e}` with the
 * caller's `Authorization`; 401 for an unknown credential, 404 for an unknown entry, 403 for an entry the
 * caller may not open, 200 with the entry otherwise. `npm start` runs it with demo users when no
 * `JOURNALS_API_URL` is set; tests run it with their own users and switch faults on.
 */
export class JournalsApiServer {
  public behaviour: JournalsBehaviour = "rules";
  public readonly calls: JournalsCall[] = [];
  private readonly server: Server;
  private readonly hanging = new Set<() => void>();

  /** @param access credential → the `journal/entry` pairs it opens */
  public constructor(private readonly access: Record<string, readonly string[]>) {
    this.server = createServer((request, response) => {
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
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      };
      if (typeof behaviour === "number") return send(behaviour, { detail: "injected" });
      const match = /^\/journals\/([^/]+)\/entries\/([^/]+)$/.exec(request.url ?? "");
      if (request.method !== "GET" || !match) return send(404, { detail: "Not found" });
      const allowed = this.access[request.headers.authorization ?? ""];
      if (!allowed) return send(401, { detail: "Invalid credential" });
      const entry = `${match[1]}/${match[2]}`;
      const known = Object.values(this.access).some((entries) => entries.includes(entry));
      if (!known) return send(404, { detail: "Entry not found" });
      if (!allowed.includes(entry)) return send(403, { detail: "Forbidden" });
      send(200, { id: match[2], journal_id: match[1], title: "An entry" });
    });
  }

  /** Listens on loopback (an ephemeral port unless one is given) and answers the base URL. */
  public async start(port = 0): Promise<string> {
    return `http://127.0.0.1:${await listen(this.server, port)}`;
  }

  public async stop(): Promise<void> {
    for (const release of this.hanging) release();
    await close(this.server);
  }

  public reset(): void {
    this.behaviour = "rules";
    this.calls.length = 0;
  }
}
