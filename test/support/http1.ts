import { Agent, type IncomingHttpHeaders, request } from "node:http";
import { connect, type Socket } from "node:net";

/** One HTTP/1.1 answer, read whole. */
export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** Whether the request went on a connection an earlier request had used. */
  readonly reusedSocket: boolean;
}

export interface Sent {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  /** Written whole; a function writes it in its own time (slowly, in pieces) and ends the request. */
  readonly body?: Buffer | ((write: (chunk: Buffer) => boolean, end: () => void) => void);
}

/**
 * A client with a single keep-alive connection, as a browser tab reuses one: every request waits for the
 * one before it, and `sockets` tells how many connections it took in all.
 */
export class OneConnection {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private readonly seen = new Set<Socket>();

  public constructor(private readonly base: string) {}

  /** How many connections the requests so far used. */
  public get sockets(): number {
    return this.seen.size;
  }

  public send(sent: Sent): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      // Node frames a GET's body only when told its length; any other body without one goes chunked.
      const headers = Buffer.isBuffer(sent.body)
        ? { "content-length": String(sent.body.byteLength), ...sent.headers }
        : sent.headers;
      const outgoing = request(
        new URL(sent.path, this.base),
        { method: sent.method ?? "GET", headers, agent: this.agent },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: Buffer.concat(chunks),
              reusedSocket: outgoing.reusedSocket,
            }),
          );
        },
      );
      outgoing.on("socket", (socket) => this.seen.add(socket));
      outgoing.on("error", reject);
      if (typeof sent.body === "function") {
        sent.body(
          (chunk) => outgoing.write(chunk),
          () => outgoing.end(),
        );
      } else outgoing.end(sent.body);
    });
  }

  public close(): void {
    this.agent.destroy();
  }
}

/** A form's bytes as fetch would send them, with its `Content-Type` (boundary included). */
export async function formBytes(form: FormData): Promise<{ body: Buffer; contentType: string }> {
  const encoded = new Response(form);
  return {
    body: Buffer.from(await encoded.arrayBuffer()),
    contentType: encoded.headers.get("content-type") ?? "",
  };
}

/** A raw TCP connection: what was written, and everything the server sent until it closed. */
export interface RawConnection {
  readonly socket: Socket;
  /** Resolves with all the bytes received once the server has closed its side. */
  readonly received: Promise<Buffer>;
}

/** Opens a TCP connection to `url`'s host and port, for requests no HTTP client would send. */
export async function rawConnection(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname === "localhost" ? "127.0.0.1" : hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const chunks: Buffer[] = [];
  const received = new Promise<Buffer>((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => resolve(Buffer.concat(chunks)));
    socket.on("error", reject);
  });
  return { socket, received };
}

/** The status and JSON body of the first answer in raw bytes. */
export function firstAnswer(bytes: Buffer): { status: number; head: string; json: unknown } {
  const text = bytes.toString("latin1");
  const split = text.indexOf("\r\n\r\n");
  const head = text.slice(0, split);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
  const body = text.slice(split + 4, split + 4 + length);
  return { status, head, json: body ? JSON.parse(body) : undefined };
}
