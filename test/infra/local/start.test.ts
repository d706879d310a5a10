import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ROOT } from "../../../infra/aws/bundle";
import { close, listen } from "../../../infra/local/gateway/listen";

/** `npm start` as a user runs it (without npm's own wrapper process, so signals reach the gateway). */
function start(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ["--import", "tsx", "infra/local/start.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { child, output: () => output };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });

describe("npm start", () => {
  let dataDir: string | undefined;
  let blocker: Server | undefined;
  afterEach(async () => {
    if (blocker) await close(blocker);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("says in one line that the port is taken, with no stack trace", async () => {
    // Prepare
    dataDir = await mkdtemp(join(tmpdir(), "start-"));
    blocker = createServer();
    const port = await listen(blocker, 0);

    // Act
    const { child, output } = start({ DATA_DIR: dataDir, PORT: String(port) });
    const code = await exited(child);

    // Assess
    expect(code).toBe(1);
    const lines = output()
      .split("\n")
      .filter((line) => line.startsWith("image-gateway:"));
    expect(lines).toEqual([
      `image-gateway: port ${port} is already in use; set PORT to a free port (PORT=8081 npm start).`,
    ]);
    expect(output()).not.toMatch(/\n\s+at /);
  }, 30_000);

  it("prints its URLs and demo users, answers, and stops cleanly on SIGTERM", async () => {
    // Prepare
    dataDir = await mkdtemp(join(tmpdir(), "start-"));
    const probe = createServer();
    const port = await listen(probe, 0);
    await close(probe);

    // Act
    const { child, output } = start({ DATA_DIR: dataDir, PORT: String(port) });
    await expect.poll(output, { timeout: 20_000 }).toContain("Press Ctrl+C to stop.");
    const health = await fetch(`http://127.0.0.1:${port}/api/health`);
    child.kill("SIGTERM");
    const code = await exited(child);

    // Assess
    expect(health.status).toBe(200);
    expect(output()).toContain(`Image gateway running at http://localhost:${port}`);
    expect(output()).toMatch(/alice {2}Bearer demo-alice-/);
    expect(output()).toContain("SIGTERM: finishing requests under way, then stopping.");
    expect(code).toBe(0);
  }, 30_000);
});
