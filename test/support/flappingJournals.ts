import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { close, listen } from "../../infra/local/gateway/listen";
import type { SeededRandom } from "./random";

/**
 * How the journals API answers one request: a status of its own choosing, a redirect elsewhere, a
 * connection reset, a hang past any timeout, an allow that is slow but in time, or an allow whose body
 * breaks off after the status line.
 */
export type JournalsMode =
  | 200
  | 204
  | 401
  | 403
  | 404
  | 429
  | 500
  | 503
  | "redirect"
  | "reset"
  | "hang"
  | "slow-200"
  | "200-then-reset";

export const JOURNALS_MODES: readonly JournalsMode[] = [
  200,
  204,
  401,
  403,
  404,
  429,
  500,
  503,
  "redirect",
  "reset",
  "hang",
  "slow-200",
  "200-then-reset",
];

/** One answer the server gave (or did not give). */
export interface JournalsAnswer {
  readonly authorization: string;
  readonly path: string;
  readonly mode: JournalsMode;
}

/** The contract's mapping: what the edge must answer after the journals API answered `mode`. */
export function contractStatus(mode: JournalsMode): 200 | 401 | 403 | 502 | 504 {
  switch (mode) {
    case 200:
    case 204:
    case "slow-200":
    case "200-then-reset":
      return 200;
    case 401:
      return 401;
    case 403:
    case 404:
      return 403;
    case "hang":
      return 504;
    default:
      return 502;
  }
}

/**
 * A journals API on loopback that flaps: each request gets a mode drawn from a seeded random source, so
 * the same run flaps the same way; every answer is recorded with the credential it was for.
 */
export class FlappingJournalsApi {
  public readonly answers: JournalsAnswer[] = [];
  /** A fixed mode for every request instead of flapping (to set something up). */
  public fixed: JournalsMode | undefined;
  private readonly server: Server;
  private readonly hanging = new Set<ServerResponse>();

  /** @param slowMs how long `slow-200` waits: inside the edge's timeout */
  public constructor(
    private readonly random: SeededRandom,
    private readonly slowMs: number,
  ) {
    this.server = createServer((request, response) => this.answer(request, response));
  }

  public async start(): Promise<string> {
    return `http://127.0.0.1:${await listen(this.server, 0)}`;
  }

  public async stop(): Promise<void> {
    for (const response of this.hanging) response.destroy();
    await close(this.server);
  }

  private answer(request: IncomingMessage, response: ServerResponse): void {
    const mode = this.fixed ?? this.random.pick(JOURNALS_MODES);
    this.answers.push({ authorization: request.headers.authorization ?? "", path: request.url ?? "", mode });
    const json = (status: number) =>
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ ok: status }));
    switch (mode) {
      case "reset":
        request.socket.destroy();
        return;
      case "hang":
        this.hanging.add(response);
        response.on("close", () => this.hanging.delete(response));
        return;
      case "redirect":
        response.writeHead(302, { location: "http://attacker.invalid/steal" }).end();
        return;
      case "slow-200":
        setTimeout(() => json(200), this.slowMs);
        return;
      case "200-then-reset":
        response.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
        response.write('{"id": "entry", "title": "An en');
        setTimeout(() => request.socket.destroy(), 5);
        return;
      default:
        json(mode);
    }
  }
}
