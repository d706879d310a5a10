import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AlbEvent } from "../../origin/http/handler";

/** A fixture from `test/events/alb/`, deep-cloned so each test may change it. */
export function loadAlbEvent(name: string): AlbEvent {
  const path = join(import.meta.dirname, "../events/alb", `${name}.json`);
  return JSON.parse(readFileSync(path, "utf8")) as AlbEvent;
}

/** Replaces the fixture's `GRANT_SET_BY_TEST` placeholder, in single- and multi-value headers alike. */
export function withGrant(event: AlbEvent, grant: string): AlbEvent {
  return JSON.parse(JSON.stringify(event).replaceAll("GRANT_SET_BY_TEST", grant)) as AlbEvent;
}

/** The file part of a fixture's multipart body: the bytes between its part headers and the next boundary. */
export function filePart(event: AlbEvent): Uint8Array {
  const body = Buffer.from(event.body ?? "", event.isBase64Encoded ? "base64" : "utf8");
  const start = body.indexOf('name="file"');
  const bytesStart = body.indexOf("\r\n\r\n", start) + 4;
  const boundary = Buffer.from(`\r\n--${/boundary=(.+)$/.exec(contentType(event))?.[1]}`);
  return new Uint8Array(body.subarray(bytesStart, body.indexOf(boundary, bytesStart)));
}

function contentType(event: AlbEvent): string {
  return event.headers?.["content-type"] ?? event.multiValueHeaders?.["content-type"]?.[0] ?? "";
}
