import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type LocalGateway,
  type LocalGatewayOptions,
  startLocalGateway,
} from "../../infra/local/gateway/LocalGateway";
import { createLocalOrigin } from "../../infra/local/gateway/localOrigin";

/** The demo user's entry the benchmarks work in. */
export const DEMO_ENTRY = { journalId: "alice-travel", entryId: "lisbon-2026" } as const;

/** The local gateway on a fresh DATA_DIR, and the demo user's entry the benchmarks work in. */
export interface DemoGateway {
  readonly gateway: LocalGateway;
  /** `…/api/journals/alice-travel/entries/lisbon-2026`, absolute. */
  readonly entryUrl: string;
  /** The demo user's `Authorization` header. */
  readonly headers: { readonly authorization: string };
  /** Closes the gateway and removes its data. */
  stop(): Promise<void>;
}

/**
 * Starts the whole local gateway quietly on a free port, as the benchmarks use it; `options` adds to it
 * (the read benchmark turns the played cache off for its cold figure).
 */
export async function startDemoGateway(
  name: string,
  options: Pick<LocalGatewayOptions, "cdnCacheBytes"> = {},
): Promise<DemoGateway> {
  const dataDir = await mkdtemp(join(tmpdir(), `bench-${name}-`));
  const gateway = await startLocalGateway({
    env: { DATA_DIR: dataDir },
    createOrigin: createLocalOrigin,
    port: 0,
    log: () => undefined,
    ...options,
  });
  const stop = async () => {
    await gateway.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  const [alice] = gateway.demoUsers ?? [];
  if (!alice) {
    await stop();
    throw new Error("The local gateway started without its demo users.");
  }
  return {
    gateway,
    entryUrl: `${gateway.url}/api/journals/${DEMO_ENTRY.journalId}/entries/${DEMO_ENTRY.entryId}`,
    headers: { authorization: alice.authorization },
    stop,
  };
}
