import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Starts `server` on `host:port` (0: any free port) and answers the port it got; rejects on a bind error. */
export async function listen(server: Server, port: number, host = "127.0.0.1"): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Stops accepting and resolves once the server is closed, cutting every connection at once: for the
 * gateway's loopback helpers, whose callers are gone by then. The viewer-facing server drains instead
 * (`gateway/ViewerServer.ts`).
 */
export async function close(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
