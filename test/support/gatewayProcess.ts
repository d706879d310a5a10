import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT } from "../../infra/aws/bundle";
import { close, listen } from "../../infra/local/gateway/listen";
import type { DemoUser } from "../../infra/local/gateway/localState";

const run = promisify(execFile);

/** `npm start` as its own process: the gateway's PID is the child's (no npm wrapper in between). */
export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the exit code (or signal) once it has exited. */
  exited(): Promise<number | NodeJS.Signals | null>;
}

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  const port = await listen(probe, 0);
  await close(probe);
  return port;
}

/**
 * Starts `infra/local/start.ts` in a child process with `env` on top of this one's, and resolves once it
 * says it is ready. Variables that would point it at other stores are removed, so it always runs on its
 * own `DATA_DIR`.
 */
export async function startGatewayProcess(
  env: Record<string, string>,
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<GatewayProcess> {
  const port = Number(env.PORT) || (await freePort());
  const {
    BUCKET_NAME: _bucket,
    S3_ENDPOINT: _endpoint,
    JOURNALS_API_URL: _journals,
    ...inherited
  } = process.env;
  const child = spawn(process.execPath, ["--import", "tsx", "infra/local/start.ts"], {
    cwd: ROOT,
    env: { ...inherited, ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exit = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal)),
  );
  const started = Date.now();
  while (!output.includes("Press Ctrl+C to stop.")) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`The gateway exited before it was ready:\n${output}`);
    }
    if (Date.now() - started > timeoutMs) {
      child.kill("SIGKILL");
      throw new Error(`The gateway was not ready within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    exited: () => exit,
  };
}

/** The demo users a gateway made in `dataDir` on its first start. */
export async function demoUsers(dataDir: string): Promise<DemoUser[]> {
  return JSON.parse(await readFile(join(dataDir, "demo-users.json"), "utf8")) as DemoUser[];
}

/** The resident set size of a process in bytes, from `/proc` (Linux). */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kilobytes = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (!kilobytes) throw new Error(`No VmRSS for process ${pid}.`);
  return Number(kilobytes) * 1024;
}

/** `npm run --silent reconcile -- ...args` on `dataDir`, as a user runs it: its exit code and JSON report. */
export async function runReconcile(
  dataDir: string,
  args: readonly string[],
): Promise<{ code: number; report: Record<string, unknown[] | number> }> {
  const { BUCKET_NAME: _bucket, S3_ENDPOINT: _endpoint, ...inherited } = process.env;
  const { code, stdout, stderr } = await run("npm", ["run", "--silent", "reconcile", "--", ...args], {
    cwd: ROOT,
    env: { ...inherited, DATA_DIR: dataDir },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
  try {
    return { code, report: JSON.parse(stdout) as Record<string, unknown[] | number> };
  } catch {
    throw new Error(`npm run reconcile printed no report (exit ${code}):\n${stdout}\n${stderr}`);
  }
}
