/**
 * Variants benchmark, on six real photographs (Debian's mate-backgrounds nature set, fetched with
 * `apt-get download` into the system's temporary directory when missing; nothing is committed):
 *
 * (a) the bytes a gallery of the six costs at `w=640` as Chromium asks (its Accept) against the originals;
 * (b) a first generation through the local gateway (edge, store miss, generator, store write) against
 *     bare sharp doing the same resize and encode in the same process;
 * (c) a second read of that variant against a read of an original;
 * (d) the edge's added cost per variant request: the viewer-request handler on a token read with
 *     `?w=` and Accept against the same read of the original;
 * (e) AVIF encoder settings: bytes and time by effort, and the settings chosen.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { CloudFrontRequestEvent } from "aws-lambda";
import sharp from "sharp";
import { createImageGatewayClient } from "../../client/index.ts";
import { staticKeyLoader } from "../../contract/keyLoaders";
import { signAccessToken } from "../../contract/tokens";
import { resolveEdgeConfig } from "../../edge/config";
import { createEdgeDeps } from "../../edge/dependencies";
import { createViewerRequestHandler } from "../../edge/handler";
import type { ImageRecord } from "../../origin/domain/ports";
import { VARIANT_ENCODER_SETTINGS } from "../../origin/domain/variants";
import { ACCESS, CONTEXT, ENTRY, loadEvent, makeKey, withToken } from "../support/edge";
import { FaultyJournalsApi } from "../support/journalsApi";
import { DEMO_ENTRY, startDemoGateway } from "./demoGateway";
import { fixed, median, pairedRatio, report, timeCalls, timed } from "./stats";

/** What Chromium sends for an `<img>`. */
const CHROMIUM_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
/** Six of the set (some above the direct limit: the client sends those presigned). */
const PHOTOS = ["Aqua.jpg", "Dune.jpg", "Garden.jpg", "LadyBird.jpg", "Storm.jpg", "TwoWings.jpg"];
/** A seventh, only to warm sharp and the gateway before anything is timed. */
const WARMUP_PHOTO = "Wood.jpg";
const PHOTO_DIR = join(tmpdir(), "mate-backgrounds/usr/share/backgrounds/mate/nature");
const READS = Number(process.env.BENCH_VARIANT_READS ?? 300);
const EDGE_ITERATIONS = Number(process.env.BENCH_EDGE_ITERATIONS ?? 50_000);

export async function benchVariants(): Promise<void> {
  const [warmupPhoto, ...photos] = await loadPhotos([WARMUP_PHOTO, ...PHOTOS]);
  const demo = await startDemoGateway("variants");
  try {
    // Uploaded as an app would: the client picks the direct or the presigned route by the gateway's limit.
    const gw = createImageGatewayClient({
      baseUrl: demo.gateway.url,
      authorization: () => demo.headers.authorization,
    });
    const records: ImageRecord[] = [];
    for (const [name, bytes] of [...photos, warmupPhoto as [string, Buffer]]) {
      const record = await gw.upload(DEMO_ENTRY.journalId, DEMO_ENTRY.entryId, new Uint8Array(bytes), {
        name,
      });
      records.push(record);
    }
    const token = (
      (await (await fetch(`${demo.entryUrl}/access`, { method: "POST", headers: demo.headers })).json()) as {
        token: string;
      }
    ).token;
    const url = (record: ImageRecord, query = "") =>
      `${demo.gateway.url}${record.url}?${query}${query ? "&" : ""}token=${token}`;
    const read = async (target: string) => {
      const response = await fetch(target, { headers: { accept: CHROMIUM_ACCEPT } });
      const body = new Uint8Array(await response.arrayBuffer());
      if (response.status !== 200) throw new Error(`${target}: ${response.status}`);
      return body;
    };

    // (b) first generations, each photo's w=640 AVIF once, each followed by bare sharp on the same stored
    // original; both warmed on another photo first (the first AVIF encode in a process initializes libaom)
    const warmup = records.pop() as ImageRecord;
    const originals = await Promise.all(records.map((record) => read(url(record))));
    const bare = (original: Uint8Array, width: number) =>
      sharp(original, { animated: true })
        .resize({ width, withoutEnlargement: true })
        .autoOrient()
        .keepIccProfile()
        .avif(VARIANT_ENCODER_SETTINGS.avif(width))
        .toBuffer();
    await read(url(warmup, "w=640"));
    await bare(await read(url(warmup)), 640);
    // Each photo at 320 and 640 px: twelve first generations, each paired with bare sharp on the same
    // original, the pair's order alternating so that neither side always runs on a warmer machine. The
    // ratio is taken pair by pair: the photos' own times differ by 5×, so the ratio of two medians of
    // the set moved between 1.07× and 1.67× from run to run.
    const firstMs: number[] = [];
    const bareMs: number[] = [];
    const variants: Uint8Array[] = [];
    let pair = 0;
    for (const width of [320, 640]) {
      for (const [index, record] of records.entries()) {
        const original = originals[index] as Uint8Array;
        let body = new Uint8Array();
        const generate = async () =>
          firstMs.push(
            await timed(async () => {
              body = await read(url(record, `w=${width}`));
            }),
          );
        const baseline = async () => bareMs.push(await timed(() => bare(original, width)));
        if (pair % 2 === 0) {
          await generate();
          await baseline();
        } else {
          await baseline();
          await generate();
        }
        pair += 1;
        if (width === 640) variants.push(body);
      }
    }

    // (a) the gallery's bytes
    const originalBytes = originals.reduce((total, bytes) => total + bytes.byteLength, 0);
    const uploadedBytes = photos.reduce((total, [, bytes]) => total + bytes.byteLength, 0);
    const variantBytes = variants.reduce((total, bytes) => total + bytes.byteLength, 0);

    // (c) warm reads: the stored variant against the stored original, interleaved
    const first = records[0] as ImageRecord;
    const variantReads = await timeCalls(READS, () => url(first, "w=640"), read);
    const originalReads = await timeCalls(READS, () => url(first), read);

    // (d) and (e)
    const edge = await edgeCost();
    const avif = await avifSettings(originals[1] as Uint8Array);

    console.log(`\nvariants: six real photographs, through the local gateway`);
    report([
      [
        "(a) gallery at w=640, Chromium's Accept",
        `${variantBytes} bytes vs ${originalBytes} bytes of originals (${uploadedBytes} uploaded)`,
      ],
      ["(a) ratio", `${fixed(variantBytes / originalBytes, 3)}×`, "(goal ≤ 0.1×)"],
      [
        "(b) first generation, median",
        `${fixed(median(firstMs), 1)} ms`,
        "(HTTP, edge, store miss, sharp, store write)",
      ],
      ["(b) bare sharp, same resize+encode", `${fixed(median(bareMs), 1)} ms`, "(baseline)"],
      [
        "(b) ratio, median of the twelve pairs",
        `${fixed(pairedRatio(firstMs, bareMs), 2)}×`,
        `(goal ≤ 1.3×; the ratio of the two medians above: ${fixed(median(firstMs) / median(bareMs), 2)}×)`,
      ],
      ["(c) second read of the variant", `median ${fixed(median(variantReads), 0)} µs`, `(${READS} reads)`],
      ["(c) read of an original", `median ${fixed(median(originalReads), 0)} µs`, "(baseline)"],
      ["(c) ratio", `${fixed(median(variantReads) / median(originalReads), 2)}×`, "(goal ≤ 1.1×)"],
      ["(d) edge, variant read", `median ${fixed(edge.variant, 2)} µs`, `(${EDGE_ITERATIONS} calls)`],
      ["(d) edge, original read", `median ${fixed(edge.original, 2)} µs`, "(baseline)"],
      ["(d) added per variant request", `${fixed(edge.variant - edge.original, 2)} µs`, "(goal ≤ 5 µs)"],
    ]);
    console.log("\n(e) AVIF encoder settings, one photo, bytes and ms by effort (quality 50):");
    report(avif.map(([label, bytes, ms]) => [label, `${bytes} bytes  ${fixed(ms, 0)} ms`]));
    console.log(
      `chosen: AVIF ${JSON.stringify(VARIANT_ENCODER_SETTINGS.avif(640))} up to 640 px, ` +
        `${JSON.stringify(VARIANT_ENCODER_SETTINGS.avif(1280))} above; WebP ${JSON.stringify(VARIANT_ENCODER_SETTINGS.webp())}; ` +
        `JPEG ${JSON.stringify(VARIANT_ENCODER_SETTINGS.jpeg())}`,
    );
  } finally {
    await demo.stop();
  }
}

/** The six photographs, fetched from Debian's archive once into the temporary directory. */
async function loadPhotos(names: readonly string[]): Promise<[string, Buffer][]> {
  if (!names.every((name) => existsSync(join(PHOTO_DIR, name)))) {
    const target = join(tmpdir(), "mate-backgrounds");
    execFileSync(
      "sh",
      [
        "-c",
        `mkdir -p ${target} && cd ${target} && apt-get download mate-backgrounds && dpkg -x mate-backgrounds_*.deb .`,
      ],
      { stdio: "ignore" },
    );
  }
  return Promise.all(
    PHOTOS.map(async (name) => [name, await readFile(join(PHOTO_DIR, name))] as [string, Buffer]),
  );
}

/** The viewer-request handler in-process: a token read of a variant against one of the original. */
async function edgeCost(): Promise<{ variant: number; original: number }> {
  const journals = new FaultyJournalsApi(ACCESS);
  const journalsApiUrl = await journals.start();
  try {
    const key = makeKey("variants-bench");
    const config = resolveEdgeConfig({ journalsApiUrl, signingKeys: { type: "env", variable: "UNUSED" } });
    const deps = await createEdgeDeps(config, { keyLoader: staticKeyLoader([key]), log: () => undefined });
    const handler = createViewerRequestHandler(async () => deps);
    const { token } = await signAccessToken(deps.keys, ENTRY, 3600, Date.now() / 1000);
    const variantEvent = JSON.stringify(withToken(loadEvent("image-variant-token"), token));
    const originalEvent = JSON.stringify(withToken(loadEvent("image-query-token"), token));
    const fresh = (json: string) => () => JSON.parse(json) as CloudFrontRequestEvent;
    const call = (event: CloudFrontRequestEvent) =>
      handler(event, CONTEXT, () => undefined) as Promise<unknown>;
    await timeCalls(5_000, fresh(variantEvent), call);
    await timeCalls(5_000, fresh(originalEvent), call);
    // Alternating rounds, so a slower stretch of this shared machine falls on both alike.
    const variant: number[] = [];
    const original: number[] = [];
    for (let round = 0; round < 10; round += 1) {
      variant.push(...(await timeCalls(EDGE_ITERATIONS / 10, fresh(variantEvent), call)));
      original.push(...(await timeCalls(EDGE_ITERATIONS / 10, fresh(originalEvent), call)));
    }
    return { variant: median(variant), original: median(original) };
  } finally {
    await journals.stop();
  }
}

/** AVIF at 640 and 1920 px by effort: what the chosen settings were picked from. */
async function avifSettings(original: Uint8Array): Promise<[string, number, number][]> {
  const rows: [string, number, number][] = [];
  for (const width of [640, 1920]) {
    for (const effort of [0, 2, 4]) {
      let size = 0;
      const ms = await timed(async () => {
        size = (await sharp(original).resize({ width }).avif({ quality: 50, effort }).toBuffer()).byteLength;
      });
      rows.push([`w=${width} effort ${effort}`, size, ms]);
    }
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchVariants();
