/**
 * The upload benchmark's client, in a process of its own so that it never shares an event loop with a
 * server it measures: `node --import tsx test/bench/uploadClient.ts '<plan as JSON>'`. It runs the plan's
 * cases interleaved, run by run, each run with bytes never sent before (so deduplication never
 * short-circuits one), and prints one JSON line: every case's times in milliseconds.
 */
import { randomBytes } from "node:crypto";
import { noisyPng } from "../support/images";
import { type IssuedTicket, postForm, uploadForm } from "../support/origin";

/** One way of sending the same bytes. */
export type UploadCase =
  /**
   * A multipart upload, answered once the server has taken it (`201`/`200`, or any 2xx), or with
   * `expectStatus` when one is given; `noise` sends random bytes of the same size instead of the image.
   */
  | {
      readonly kind: "form";
      readonly name: string;
      readonly url: string;
      readonly headers?: Record<string, string>;
      readonly expectStatus?: number;
      readonly noise?: boolean;
    }
  /** A presigned upload end to end: the ticket, the form POST, then polling until it is ready. */
  | {
      readonly kind: "presigned";
      readonly name: string;
      readonly entryUrl: string;
      readonly headers: Record<string, string>;
    };

export interface UploadPlan {
  readonly bytes: number;
  readonly runs: number;
  readonly warmUp: number;
  readonly cases: readonly UploadCase[];
}

const POLL_MS = 5;

/** Sends `bytes` by `how`; resolves once the upload is done as the case defines it. */
async function send(how: UploadCase, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
  if (how.kind === "form") {
    const response = await fetch(how.url, { method: "POST", headers: how.headers, body: uploadForm(bytes) });
    await response.arrayBuffer();
    const expected = how.expectStatus === undefined ? response.ok : response.status === how.expectStatus;
    if (!expected) throw new Error(`${how.name}: answered ${response.status}`);
    return;
  }
  const json = { ...how.headers, "content-type": "application/json" };
  const issued = await fetch(`${how.entryUrl}/uploads`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ name: "bench", size: bytes.byteLength }),
  });
  const ticket = (await issued.json()) as IssuedTicket;
  const posted = await postForm(ticket.upload, bytes);
  if (posted.status !== 204) throw new Error(`${how.name}: the form answered ${posted.status}`);
  for (;;) {
    const status = (await (
      await fetch(`${how.entryUrl}/uploads/${ticket.id}`, { headers: how.headers })
    ).json()) as {
      status: string;
    };
    if (status.status === "ready") return;
    if (status.status !== "pending") throw new Error(`${how.name}: upload ${status.status}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

const plan = JSON.parse(process.argv[2] ?? "{}") as UploadPlan;
const times: Record<string, number[]> = Object.fromEntries(plan.cases.map((how) => [how.name, []]));
for (let run = 0; run < plan.warmUp + plan.runs; run += 1) {
  for (const how of plan.cases) {
    // Made before the clock starts: generating them is the client's work, not the server's.
    const bytes =
      how.kind === "form" && how.noise ? new Uint8Array(randomBytes(plan.bytes)) : noisyPng(plan.bytes);
    const started = performance.now();
    await send(how, bytes);
    const ms = performance.now() - started;
    if (run >= plan.warmUp) times[how.name]?.push(ms);
  }
}
console.log(JSON.stringify(times));
