import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { CloudFrontHeaders, CloudFrontRequestEvent, CloudFrontResultResponse } from "aws-lambda";

/** Hop-by-hop headers CloudFront never hands to a viewer-request function. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
]);

/** The distribution's name as the local gateway plays it. */
export const LOCAL_DISTRIBUTION_ID = "ELOCALGATEWAY";

/**
 * Builds the viewer-request event CloudFront would hand the edge function for this request: header names
 * lower-cased as keys, each value kept with its original casing, repeated headers kept apart; the URI
 * still percent-encoded, the query string raw.
 */
export function toViewerRequestEvent(
  request: IncomingMessage,
  distributionDomainName: string,
): CloudFrontRequestEvent {
  const headers: CloudFrontHeaders = {};
  const raw = request.rawHeaders;
  for (let index = 0; index < raw.length; index += 2) {
    const key = raw[index] as string;
    const name = key.toLowerCase();
    if (HOP_BY_HOP.has(name)) continue;
    const values = headers[name] ?? [];
    values.push({ key, value: raw[index + 1] as string });
    headers[name] = values;
  }
  const target = request.url ?? "/";
  const queryAt = target.indexOf("?");
  return {
    Records: [
      {
        cf: {
          config: {
            distributionDomainName,
            distributionId: LOCAL_DISTRIBUTION_ID,
            eventType: "viewer-request",
            requestId: randomBytes(42).toString("base64url").slice(0, 56),
          },
          request: {
            clientIp: request.socket.remoteAddress ?? "127.0.0.1",
            headers,
            method: request.method ?? "GET",
            querystring: queryAt === -1 ? "" : target.slice(queryAt + 1),
            uri: queryAt === -1 ? target : target.slice(0, queryAt),
          },
        },
      },
    ],
  };
}

/** Writes a response the edge generated, as CloudFront does (and says so in `X-Cache`). */
export function writeGeneratedResponse(response: ServerResponse, generated: CloudFrontResultResponse): void {
  const body = generated.body ?? "";
  const bytes = generated.bodyEncoding === "base64" ? Buffer.from(body, "base64") : Buffer.from(body);
  for (const [name, values] of Object.entries(generated.headers ?? {})) {
    response.setHeader(
      name,
      values.map(({ value }) => value),
    );
  }
  response.setHeader("content-length", bytes.byteLength);
  response.setHeader("x-cache", "LambdaGeneratedResponse from cloudfront");
  response.statusCode = Number(generated.status);
  response.end(bytes);
}
