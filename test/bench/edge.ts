/**
 * Edge benchmark: the viewer-request handler in-process, as CloudFront calls it, against bare
 * `jose.jwtVerify` on the same token in the same run; then the bundle's cold init in fresh processes.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { CloudFrontRequestEvent } from "aws-lambda";
import { jwtVerify } from "jose";
import { KeyRing } from "../../contract/KeyRing";
import { formatSigningKeys, staticKeyLoader } from "../../contract/keyLoaders";
import { signAccessToken } from "../../contract/tokens";
import { resolveEdgeConfig } from "../../edge/config";
import { createEdgeDeps } from "../../edge/dependencies";
import { createViewerRequestHandler } from "../../edge/handler";
import { bundleEdge, EDGE_BUNDLE_TARGET_BYTES } from "../../infra/aws/bundle";
import { ACCESS, CONTEXT, ENTRY, loadEvent, makeKey, withToken } from "../support/edge";
import { FaultyJournalsApi } from "../support/journalsApi";
import { fixed, median, quantile, report, timeCalls } from "./stats";

const ITERATIONS = Number(process.env.BENCH_EDGE_ITERATIONS ?? 100_000);
const COLD_RUNS = 7;

export async function benchEdge(): Promise<void> {
  const journals = new FaultyJournalsApi(ACCESS);
  const journalsApiUrl = await journals.start();
  const key = makeKey("bench");
  const config = resolveEdgeConfig({
    journalsApiUrl,
    signingKeys: { type: "env", variable: "BENCH_SIGNING_KEYS" },
  });
  const deps = await createEdgeDeps(config, { keyLoader: staticKeyLoader([key]), log: () => undefined });
  const handler = createViewerRequestHandler(async () => deps);
  const { token } = await signAccessToken(deps.keys, ENTRY, 300, Date.now() / 1000);

  const tokenEvent = JSON.stringify(withToken(loadEvent("image-query-token"), token));
  const authorizationEvent = JSON.stringify(loadEvent("image-authorization"));
  const fresh = (json: string) => () => JSON.parse(json) as CloudFrontRequestEvent;
  const call = (event: CloudFrontRequestEvent) =>
    handler(event, CONTEXT, () => undefined) as Promise<unknown>;

  // Warm the JIT and the decision cache (one journals call) before measuring.
  await timeCalls(5_000, fresh(tokenEvent), call);
  await timeCalls(5_000, fresh(authorizationEvent), call);
  const verifyKey = (await KeyRing.create([key])).verificationKey(key.kid) as CryptoKey;
  const verifyOptions = { algorithms: ["HS256"], issuer: "image-gateway", audience: "image-gateway:viewer" };
  await timeCalls(
    5_000,
    () => token,
    (t) => jwtVerify(t, verifyKey, verifyOptions),
  );

  const tokenSamples = await timeCalls(ITERATIONS, fresh(tokenEvent), call);
  // Every call a token the container has not seen: the full jose verification each time.
  const distinctTokens = await Promise.all(
    Array.from({ length: ITERATIONS }, async (_, index) => {
      const ttl = 300 + (index % 3000);
      return (await signAccessToken(deps.keys, ENTRY, ttl, Date.now() / 1000)).token;
    }),
  );
  const eventTemplate = JSON.stringify(loadEvent("image-query-token"));
  const eventWith = (index: number) =>
    JSON.parse(
      eventTemplate.replace("TOKEN_SET_BY_TEST", distinctTokens[index] as string),
    ) as CloudFrontRequestEvent;
  const firstSightSamples = await timeCalls(ITERATIONS, eventWith, call);
  const joseFirstSightSamples = await timeCalls(
    ITERATIONS,
    (index) => distinctTokens[index] as string,
    (t) => jwtVerify(t, verifyKey, verifyOptions),
  );
  const rememberedSamples = await timeCalls(ITERATIONS, fresh(authorizationEvent), call);
  const joseSamples = await timeCalls(
    ITERATIONS,
    () => token,
    (t) => jwtVerify(t, verifyKey, verifyOptions),
  );
  const journalsCalls = journals.calls.length;
  await journals.stop();

  const { bytes, coldMs } = await measureBundle(journalsApiUrl, key);

  console.log(`\nedge: viewer-request handler, ${ITERATIONS} in-process calls each`);
  const row = (label: string, samples: number[], note?: string): [string, string, string?] => [
    label,
    `median ${fixed(median(samples), 1)} µs  p99 ${fixed(quantile(samples, 0.99), 1)} µs`,
    note,
  ];
  report([
    row("(a) valid token", tokenSamples, "(target: median ≤ 100 µs, p99 ≤ 1000 µs)"),
    row("(a') valid token, first sight", firstSightSamples, "(full jose verification every call)"),
    row("(b) remembered Authorization", rememberedSamples, `(journals API calls: ${journalsCalls})`),
    row("(c) bare jose.jwtVerify", joseSamples, "(baseline)"),
    ["(a)/(c) median ratio", `${fixed(median(tokenSamples) / median(joseSamples), 2)}×`],
    row("(c') bare jose.jwtVerify, first sight", joseFirstSightSamples, "(baseline for a')"),
    ["(a')/(c') median ratio", `${fixed(median(firstSightSamples) / median(joseFirstSightSamples), 2)}×`],
    [
      "cold init (import + first call)",
      `median ${fixed(median(coldMs), 1)} ms over ${COLD_RUNS} fresh processes`,
      "(target ≤ 50 ms)",
    ],
    ["bundle size", `${bytes} bytes`, `(target ≤ ${EDGE_BUNDLE_TARGET_BYTES})`],
  ]);
}

/** Builds the real bundle, then times import plus first call in fresh Node processes. */
async function measureBundle(journalsApiUrl: string, key: ReturnType<typeof makeKey>) {
  const dir = await mkdtemp(join(tmpdir(), "edge-bench-"));
  try {
    const config = resolveEdgeConfig({
      journalsApiUrl,
      signingKeys: { type: "env", variable: "BENCH_SIGNING_KEYS" },
    });
    const { file, bytes } = await bundleEdge(dir, config);
    const { token } = await signAccessToken(await KeyRing.create([key]), ENTRY, 3600, Date.now() / 1000);
    const event = JSON.stringify(withToken(loadEvent("image-query-token"), token));
    const script = `
      const start = performance.now();
      const { handler } = await import(${JSON.stringify(pathToFileURL(file).href)});
      const result = await handler(${event}, {}, () => {});
      if (!result.uri.startsWith("/dev/")) throw new Error("not allowed: " + JSON.stringify(result));
      console.log(performance.now() - start);`;
    const env = { ...process.env, BENCH_SIGNING_KEYS: formatSigningKeys([key]) };
    // The handler logs its decision line to standard output too; the figure is the last line.
    const coldMs = Array.from({ length: COLD_RUNS }, () =>
      Number(
        execFileSync(process.execPath, ["--input-type=module", "-e", script], { env, encoding: "utf8" })
          .trim()
          .split("\n")
          .at(-1),
      ),
    );
    return { bytes, coldMs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchEdge();
