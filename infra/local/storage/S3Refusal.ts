import type { ServerResponse } from "node:http";

/** A refusal of the bucket's form door, as S3 words it: a status, S3's error code and its message. */
export class S3Refusal extends Error {
  public constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "S3Refusal";
  }
}

/**
 * Writes a refusal as S3's XML error document: the client of this door is S3's (a browser form, an SDK),
 * so it gets what S3 answers, not the gateway's JSON.
 */
export function writeS3Refusal(
  response: ServerResponse,
  refusal: S3Refusal,
  headers: Readonly<Record<string, string>>,
): void {
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code>` +
    `<Message>${refusal.message.replace(/[<>&]/g, "")}</Message></Error>`;
  response.writeHead(refusal.status, {
    ...headers,
    "content-type": "application/xml",
    "content-length": Buffer.byteLength(body),
  });
  response.end(body);
}
