import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { close, listen } from "../../infra/local/gateway/listen";
import type { SeededRandom } from "./random";

/**
 * What goes wrong with one request: refused with a 500 or a reset before the server saw it, or done by
 * the server and then its answer lost (a reset) or replaced by a 500, as a crash after the commit would.
 */
export type ProxyFault = "500-before" | "reset-before" | "reset-after" | "500-after";

export const PROXY_FAULTS: readonly ProxyFault[] = ["500-before", "reset-before", "reset-after", "500-after"];

/** One fault the proxy injected. */
export interface InjectedProxyFault {
  readonly method: string;
  readonly path: string;
  readonly fault: ProxyFault;
}

const S3_INTERNAL_ERROR =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>' +
  "<Message>We encountered an internal error. Please try again.</Message></Error>";

/**
 * An HTTP proxy on loopback in front of a real server (s3rver) that fails a seeded-random share of the
 * requests: real HTTP faults, the client sees exactly what it would see from a failing S3.
 */
export class FaultyProxy {
  public readonly injected: InjectedProxyFault[] = [];
  /** Switch faults off to read the final state through the proxy. */
  public enabled = true;
  private readonly server: Server;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly upstream: URL;

  /**
   * @param upstream the real server's base URL
   * @param rate the share of requests that fail, 0..1
   * @param only which requests may fail (all by default)
   */
  public constructor(
    upstream: string,
    private readonly random: SeededRandom,
    private readonly rate: number,
    private readonly only: (request: IncomingMessage) => boolean = () => true,
  ) {
    this.upstream = new URL(upstream);
    this.server = createServer((request, response) => {
      this.handle(request, response).catch(() => response.destroy());
    });
  }

  /** Listens on an ephemeral loopback port and answers the proxy's base URL. */
  public async start(): Promise<string> {
    return `http://127.0.0.1:${await listen(this.server, 0)}`;
  }

  public async stop(): Promise<void> {
    this.agent.destroy();
    await close(this.server);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const fault =
      this.enabled && this.only(request) && this.random.chance(this.rate)
        ? this.random.pick(PROXY_FAULTS)
        : undefined;
    if (fault) this.injected.push({ method: request.method ?? "", path: request.url ?? "", fault });
    if (fault === "reset-before") {
      request.socket.destroy();
      return;
    }
    if (fault === "500-before") {
      request.resume();
      response.writeHead(500, { "content-type": "application/xml" }).end(S3_INTERNAL_ERROR);
      return;
    }
    const answer = await this.forward(request);
    if (fault === "reset-after") {
      answer.resume();
      await new Promise((resolve) => answer.on("end", resolve));
      request.socket.destroy();
      return;
    }
    if (fault === "500-after") {
      answer.resume();
      await new Promise((resolve) => answer.on("end", resolve));
      response.writeHead(500, { "content-type": "application/xml" }).end(S3_INTERNAL_ERROR);
      return;
    }
    response.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(response);
  }

  /** Sends the request on to the real server, body and all, and waits for its answer's head. */
  private forward(request: IncomingMessage): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: this.upstream.hostname,
          port: this.upstream.port,
          method: request.method,
          path: request.url,
          headers: { ...request.headers, host: this.upstream.host },
          agent: this.agent,
        },
        resolve,
      );
      upstream.on("error", reject);
      request.pipe(upstream);
    });
  }
}
