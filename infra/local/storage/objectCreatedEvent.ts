import { randomBytes } from "node:crypto";
import type { S3Event } from "aws-lambda";

/** What S3 says of an object a form created. */
export interface CreatedObject {
  readonly bucket: string;
  readonly region: string;
  readonly key: string;
  readonly size: number;
  /** Quoted, as the store keeps it; the notification carries it bare. */
  readonly eTag: string;
  readonly sourceIp: string;
  readonly time: Date;
}

/**
 * The notification S3 sends for an object a browser form created (`ObjectCreated:Post`), field for field
 * as in `test/events/s3/object-created-post.json`: the finalize code reads exactly what it reads on AWS.
 * S3 URL-encodes the key (a space as `+`); the sequencer orders the events of one key.
 */
export function objectCreatedEvent(object: CreatedObject): S3Event {
  return {
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: object.region,
        eventTime: object.time.toISOString(),
        eventName: "ObjectCreated:Post",
        userIdentity: { principalId: "local-upload-door" },
        requestParameters: { sourceIPAddress: object.sourceIp },
        responseElements: {
          "x-amz-request-id": randomBytes(8).toString("hex").toUpperCase(),
          "x-amz-id-2": randomBytes(48).toString("base64"),
        },
        s3: {
          s3SchemaVersion: "1.0",
          configurationId: "local-staged-uploads",
          bucket: {
            name: object.bucket,
            ownerIdentity: { principalId: "local" },
            arn: `arn:aws:s3:::${object.bucket}`,
          },
          object: {
            key: encodeEventKey(object.key),
            size: object.size,
            eTag: object.eTag.replaceAll('"', ""),
            sequencer: (object.time.getTime() * 1000 + sequence())
              .toString(16)
              .toUpperCase()
              .padStart(18, "0"),
          },
        },
      },
    ],
  };
}

let counter = 0;
/** Distinct sequencers within one millisecond. */
function sequence(): number {
  counter = (counter + 1) % 1000;
  return counter;
}

function encodeEventKey(key: string): string {
  return key
    .split("/")
    .map((segment) => encodeURIComponent(segment).replaceAll("%20", "+"))
    .join("/");
}
