/**
 * Synth benchmark: `cdk synth --quiet` of the whole app (both bundles, both stacks, CloudFormation
 * validation) as a child process, exactly as `npm run synth` runs it offline, beside the CDK CLI's own
 * start-up (`cdk --version`) measured in the same run.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "../../infra/aws/bundle";
import { fixed, median, report } from "./stats";

const RUNS = Number(process.env.BENCH_SYNTH_RUNS ?? 3);
const TARGET_MS = 15_000;
const CDK = join(ROOT, "node_modules/.bin/cdk");

export async function benchSynth(): Promise<void> {
  const outdir = await mkdtemp(join(tmpdir(), "synth-bench-"));
  try {
    const cliMs = Array.from({ length: RUNS }, () => timeMs(() => cdk(["--version"])));
    const synthMs = Array.from({ length: RUNS }, () =>
      timeMs(() => cdk(["synth", "--quiet", "--output", outdir])),
    );
    console.log(`\nsynth: \`cdk synth --quiet\` as a child process, ${RUNS} runs each`);
    report([
      [
        "cdk synth (whole app)",
        `median ${fixed(median(synthMs), 0)} ms  max ${fixed(Math.max(...synthMs), 0)} ms`,
        `(target ≤ ${TARGET_MS} ms)`,
      ],
      ["cdk --version", `median ${fixed(median(cliMs), 0)} ms`, "(baseline: the CLI's own start-up)"],
    ]);
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

function cdk(args: string[]): void {
  // No credentials on purpose: the offline environment in cdk.json, as CI and `npm run synth` see it.
  const { CDK_DEFAULT_ACCOUNT: _account, AWS_PROFILE: _profile, ...env } = process.env;
  execFileSync(CDK, args, { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] });
}

function timeMs(run: () => void): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchSynth();
