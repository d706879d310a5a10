import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { close, listen } from "../gateway/listen";

/**
 * A journals API on loopback that keeps the notes app's contract: `GET /journals/{j}/entries/{e}` with the
 * caller's `Authorization`; 401 for an unknown credential, 404 for an unknown entry, 403 for an entry the
 * caller may not open, 200 with the entry otherwise. `npm start` runs it with its demo users when no
 * `JOURNALS_API_URL` is set; tests run it with their own users (and `test/support/` adds fault switches).
 */
export class JournalsApiServer {
  private readonly server: Server;

  /** @param access credential → the `journal/entry` pairs it opens */
  public constructor(private readonly access: Record<string, readonly string[]>) {
    this.server = createServer((request, response) => this.handle(request, response));
  }

  /** Listens on loopback (an ephemeral port unless one is given) and answers the base URL. */
  public async start(port = 0): Promise<string> {
    return `http://127.0.0.1:${await listen(this.server, port)}`;
  }

  public async stop(): Promise<void> {
    await close(this.server);
  }

  /** Answers one request by the contract's rules. */
  protected handle(request: IncomingMessage, response: ServerResponse): void {
    const { status, body } = this.answer(request.method, request.url ?? "", request.headers.authorization);
    send(response, status, body);
  }

  private answer(
    method: string | undefined,
    url: string,
    authorization = "",
  ): { status: number; body: unknown } {
    const match = /^\/journals\/([^/]+)\/entries\/([^/]+)$/.exec(url);
    if (method !== "GET" || !match) return { status: 404, body: { detail: "Not found" } };
    const allowed = this.access[authorization];
    if (!allowed) return { status: 401, body: { detail: "Invalid credential" } };
    const entry = `${match[1]}/${match[2]}`;
    const known = Object.values(this.access).some((entries) => entries.includes(entry));
    if (!known) return { status: 404, body: { detail: "Entry not found" } };
    if (!allowed.includes(entry)) return { status: 403, body: { detail: "Forbidden" } };
    return { status: 200, body: { id: match[2], journal_id: match[1], title: "An entry" } };
  }
}

/** A JSON answer. */
export function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
