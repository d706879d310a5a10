import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { S3Event } from "aws-lambda";

/**
 * A fixture from `test/events/s3/`, deep-cloned, with its `BUCKET_SET_BY_TEST` and `KEY_SET_BY_TEST`
 * placeholders replaced. The key goes in as given: S3 sends it URL-encoded (`+` for a space).
 */
export function loadS3Event(name: string, bucket: string, encodedKey: string): S3Event {
  const path = join(import.meta.dirname, "../events/s3", `${name}.json`);
  const text = readFileSync(path, "utf8")
    .replaceAll("BUCKET_SET_BY_TEST", bucket)
    .replaceAll("KEY_SET_BY_TEST", encodedKey);
  return JSON.parse(text) as S3Event;
}

/** The notification S3 sends when a presigned POST created `key` in `bucket`. */
export function objectCreated(bucket: string, key: string): S3Event {
  return loadS3Event("object-created-post", bucket, key);
}
