import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import type { Socket } from "node:net";
import { HttpError } from "../../../contract/errors";
import { errorResponse } from "../../../contract/responses";
import { writeError } from "./errorAnswer";

/** How long the viewer-facing server waits, in milliseconds. */
export interface ViewerTimeouts {
  /** For a request's headers to arrive whole (slow headers). */
  readonly headersMs: number;
  /** For a whole request, body included, to arrive (slow bodies). */
  readonly requestMs: number;
  /** For the next request on an idle keep-alive connection. */
  readonly keepAliveMs: number;
}

/**
 * As a production HTTP server sets them: headers within 20 s, a whole request within 120 s (a 20 MiB
 * form at about 1.5 Mbit/s), an idle keep-alive connection kept 5 s. Node's own defaults (60 s, 300 s,
 * checked only every 30 s) would hold a slow client for minutes.
 */
export const DEFAULT_VIEWER_TIMEOUTS: ViewerTimeouts = {
  headersMs: 20_000,
  requestMs: 120_000,
  keepAliveMs: 5_000,
};

/**
 * The most of a body the server reads and throws away after answering before it was read (a refusal at
 * the edge, the ALB's 413, an early error), so the answer reaches the client whole and the connection
 * serves the next request. Above the largest image plus its form; past it the connection is closed
 * gracefully.
 */
export const DRAIN_LIMIT_BYTES = 32 * 1024 * 1024;
/** How long a connection closed under an unread body keeps reading, so the close is never a reset. */
const LINGER_MS = 2_000;

/** The viewer-facing server's timeouts and where its handler's failures go. */
export interface ViewerServerOptions {
  readonly timeouts?: ViewerTimeouts;
  /** Where a handler's failure is reported; the answer is then the contract's 500. */
  readonly onError: (error: unknown) => void;
}

/** The viewer-facing HTTP server of the local gateway, and its draining shutdown. */
export interface ViewerServer {
  readonly server: Server;
  /**
   * Stops accepting; lets requests under way finish (uploads mid-body included) for up to `graceMs`,
   * closing each connection once its answer is sent; then closes whatever remains.
   */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * Creates the server every viewer request meets. Beyond calling `handle`, it makes sure every answer
 * reaches the client whole: a body left unread after the answer is drained (bounded) so the connection
 * stays usable, or the connection is closed gracefully, never reset under the answer; slow headers and
 * bodies are answered `408` (the contract's JSON) and the connection closed.
 */
export function createViewerServer(
  handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
  options: ViewerServerOptions,
): ViewerServer {
  const timeouts = options.timeouts ?? DEFAULT_VIEWER_TIMEOUTS;
  const open = new Map<Socket, ServerResponse>();
  let stopping = false;

  const server = createServer(
    {
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      // Node checks the two timeouts above only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs),
      // A missing Host is answered by the gateway, in the contract's JSON, rather than by Node's bare 400.
      requireHostHeader: false,
    },
    (request, response) => {
      const { socket } = request;
      open.set(socket, response);
      if (stopping) response.setHeader("connection", "close");
      response.once("finish", () => {
        if (open.get(socket) === response) open.delete(socket);
        if (!request.complete) drain(request);
      });
      handle(request, response).catch((error: unknown) => {
        // Answered already (a timeout cut the request): the handler only learned that the client is gone.
        if (response.writableEnded) return;
        options.onError(error);
        if (!response.headersSent) writeError(response, error);
        else response.destroy();
      });
    },
  );

  // Node's own answer to a broken or slow request is a bare status line; the contract's is JSON.
  const closing = new WeakSet<Socket>();
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    if (closing.has(socket)) return;
    closing.add(socket);
    const response = open.get(socket);
    const answer = clientErrorOf(error);
    if (response && !response.headersSent) {
      writeError(response, answer, {}, { connection: "close" });
    } else if (!response && socket.writable && error.code !== "ECONNRESET") {
      const { status, headers, body } = errorResponse(answer, { connection: "close" });
      const head = Object.entries({ ...headers, "content-length": String(Buffer.byteLength(body)) })
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join("");
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head}\r\n${body}`);
    }
    lingeringClose(socket);
  });

  return {
    server,
    shutdown: async (graceMs) => {
      if (!server.listening) return;
      stopping = true;
      for (const response of open.values()) {
        if (!response.headersSent) response.setHeader("connection", "close");
      }
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive connections go now; busy ones as soon as their answer is out.
      server.closeIdleConnections();
      const idle = setInterval(() => server.closeIdleConnections(), 50);
      const cut = setTimeout(() => server.closeAllConnections(), graceMs);
      try {
        await closed;
      } finally {
        clearInterval(idle);
        clearTimeout(cut);
      }
    },
  };
}

/**
 * Reads and discards what is left of a body once the answer is out, so the next request on the
 * connection is read; past `DRAIN_LIMIT_BYTES` the connection is closed gracefully instead.
 */
function drain(request: IncomingMessage): void {
  let drained = 0;
  request.unpipe();
  request.on("data", (chunk: Buffer) => {
    drained += chunk.byteLength;
    if (drained > DRAIN_LIMIT_BYTES) lingeringClose(request.socket);
  });
  request.on("error", () => undefined);
  request.resume();
}

/**
 * Closes a connection whose client may still be sending: our side ends (the answer, then FIN), and what
 * still arrives is read and dropped for a moment. Closing with unread bytes instead would make the kernel
 * answer with a reset, which can destroy the answer before the client reads it.
 */
function lingeringClose(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  socket.on("data", () => undefined);
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
}

function clientErrorOf(error: NodeJS.ErrnoException): HttpError {
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
    return new HttpError(408, "request_timeout", "The request did not arrive in time.");
  }
  if (error.code === "HPE_HEADER_OVERFLOW") {
    return new HttpError(431, "headers_too_large", "The request headers are too large.");
  }
  return new HttpError(400, "bad_request", "The request is not valid HTTP.");
}
