import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ROOT } from "../../../infra/aws/bundle";
import { close, listen } from "../../../infra/local/gateway/listen";
import type { DemoUser } from "../../../infra/local/gateway/localState";
import { demoUsers, type GatewayProcess, startGatewayProcess } from "../../support/gatewayProcess";
import { formBytes, OneConnection } from "../../support/http1";
import { noisyPng } from "../../support/images";
import { uploadForm } from "../../support/origin";

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

describe("npm start on SIGTERM", () => {
  let dataDir: string | undefined;
  const running: GatewayProcess[] = [];
  afterEach(async () => {
    for (const gateway of running.splice(0)) {
      if (gateway.child.exitCode === null && gateway.child.signalCode === null) gateway.child.kill("SIGKILL");
      await gateway.exited();
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("stops accepting, lets a slow upload mid-body finish and land whole, then exits 0", async () => {
    // Prepare: a direct upload whose form is sent in two halves, SIGTERM in between
    dataDir = await mkdtemp(join(tmpdir(), "start-drain-"));
    const gateway = await startGatewayProcess({ DATA_DIR: dataDir });
    running.push(gateway);
    const [alice] = (await demoUsers(dataDir)) as [DemoUser];
    const entry = `${gateway.url}/api/journals/alice-travel/entries/lisbon-2026`;
    const { body, contentType } = await formBytes(uploadForm(noisyPng(600 * 1024)));
    const half = Math.floor(body.byteLength / 2);
    const idle = new OneConnection(gateway.url);
    expect((await idle.send({ path: "/api/health" })).status).toBe(200);

    // Act
    let sendRest: () => void = () => undefined;
    const uploaded = new Promise<{ status: number; record: { url: string; size: number; sha256: string } }>(
      (resolve, reject) => {
        const upload = request(
          `${entry}/images`,
          {
            method: "POST",
            headers: {
              authorization: alice.authorization,
              "content-type": contentType,
              "content-length": String(body.byteLength),
            },
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("end", () =>
              resolve({
                status: response.statusCode ?? 0,
                record: JSON.parse(Buffer.concat(chunks).toString()),
              }),
            );
          },
        );
        upload.on("error", reject);
        upload.write(body.subarray(0, half));
        sendRest = () => upload.end(body.subarray(half));
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stoppingAt = Date.now();
    gateway.child.kill("SIGTERM");
    await expect.poll(gateway.output).toContain("SIGTERM: finishing requests under way, then stopping.");
    const refused = await fetch(`${gateway.url}/api/health`).then(
      () => "answered",
      (error: Error & { cause?: { code?: string } }) => error.cause?.code,
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    sendRest();
    const { status, record } = await uploaded;
    const code = await gateway.exited();
    const stoppedInMs = Date.now() - stoppingAt;
    idle.close();

    // Assess: the upload was answered and the process left well within the grace period
    expect(refused).toBe("ECONNREFUSED");
    expect(status).toBe(201);
    expect(code).toBe(0);
    expect(stoppedInMs).toBeLessThan(8_000);

    // Assess: after a restart the image reads back whole
    const restarted = await startGatewayProcess({ DATA_DIR: dataDir });
    running.push(restarted);
    const token = (await (
      await fetch(`${restarted.url}/api/journals/alice-travel/entries/lisbon-2026/access`, {
        method: "POST",
        headers: { authorization: alice.authorization },
      })
    ).json()) as { token: string };
    const read = await fetch(`${restarted.url}${record.url}?token=${token.token}`);
    const bytes = Buffer.from(await read.arrayBuffer());
    expect(read.status).toBe(200);
    expect(bytes.byteLength).toBe(record.size);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(record.sha256);
  }, 60_000);
});
