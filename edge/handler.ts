import type {
  CloudFrontHeaders,
  CloudFrontRequest,
  CloudFrontRequestHandler,
  CloudFrontRequestResult,
  CloudFrontResultResponse,
} from "aws-lambda";
import { GRANT_HEADER, MAX_GENERATED_RESPONSE_BYTES, SECRET_REFRESH_MS } from "../contract/constants";
import { HttpError, unavailableAnswer } from "../contract/errors";
import { refreshing } from "../contract/refreshing";
import { errorResponse, type GeneratedResponse } from "../contract/responses";
import { type AuthorizeDeps, authorize, type Decision, type ViewerRequest } from "./authorize";
import { type EdgeConfig, edgeConfigFromEnv } from "./config";
import { createEdgeDeps } from "./dependencies";

/** Baked in by the build (`infra/aws/bundle.ts`): Lambda@Edge has no environment variables. */
declare const __IMAGE_GATEWAY_EDGE_CONFIG__: EdgeConfig | undefined;

/** Headers that must never reach the bucket or the origin: they carry the viewer's credentials. */
const CREDENTIAL_HEADERS = ["authorization", "cookie"] as const;

/**
 * Wraps `authorize` as a CloudFront viewer-request handler: the request goes on (rewritten) or a
 * generated response comes back. `resolveDeps` is called per request and should memoize.
 */
export function createViewerRequestHandler(
  resolveDeps: () => Promise<AuthorizeDeps>,
): CloudFrontRequestHandler {
  return async (event) => {
    const request = event.Records[0]?.cf.request;
    if (!request) throw new Error("Not a CloudFront viewer-request event.");
    let decision: Decision;
    try {
      decision = await authorize(toViewerRequest(request), await resolveDeps());
    } catch (error) {
      // Logged where it failed (`refreshing`, once per attempt), not once per request here.
      decision = { action: "respond", response: errorResponse(unavailableAnswer(error)) };
    }
    return applyDecision(request, decision);
  };
}

/** CloudFront's request as the decision reads it. */
export function toViewerRequest(request: CloudFrontRequest): ViewerRequest {
  const headers: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(request.headers))
    headers[name] = values.map(({ value }) => value);
  return { method: request.method, uri: request.uri, querystring: request.querystring, headers };
}

/** Carries a decision out on CloudFront's request. */
export function applyDecision(request: CloudFrontRequest, decision: Decision): CloudFrontRequestResult {
  switch (decision.action) {
    case "respond":
      return toCloudFrontResponse(decision.response);
    case "read-image":
      // Everything the viewer sent beyond the path would reach S3 and split the cache key.
      request.uri = `/${decision.objectKey}`;
      request.querystring = "";
      stripHeaders(request.headers, [...CREDENTIAL_HEADERS, GRANT_HEADER]);
      return request;
    case "forward-to-origin":
      // The grant replaces anything the viewer sent under that name.
      stripHeaders(request.headers, [...CREDENTIAL_HEADERS, GRANT_HEADER]);
      if (decision.grant)
        request.headers[GRANT_HEADER] = [{ key: "X-Image-Gateway-Grant", value: decision.grant }];
      return request;
  }
}

/** Whether a handler's result is a generated response rather than the request going on. */
export function isGeneratedResponse(
  // biome-ignore lint/suspicious/noConfusingVoidType: CloudFrontRequestHandler's own result type includes void
  result: CloudFrontRequestResult | void,
): result is CloudFrontResultResponse {
  return typeof result === "object" && result !== null && "status" in result;
}

function toCloudFrontResponse(response: GeneratedResponse): CloudFrontRequestResult {
  const headers: CloudFrontHeaders = {};
  for (const [name, value] of Object.entries(response.headers))
    headers[name] = [{ key: titleCase(name), value }];
  const result = {
    status: String(response.status),
    headers,
    body: response.body,
    bodyEncoding: "text" as const,
  };
  if (Buffer.byteLength(JSON.stringify(result)) > MAX_GENERATED_RESPONSE_BYTES) {
    return toCloudFrontResponse(errorResponse(new HttpError(500, "internal_error", "Response too large.")));
  }
  return result;
}

function stripHeaders(headers: CloudFrontHeaders, names: readonly string[]): void {
  for (const name of names) delete headers[name];
}

function titleCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_match, dash: string, letter: string) => dash + letter.toUpperCase());
}

/** The deployed handler: configuration baked at build time, or the environment when run unbundled. */
export const handler = createViewerRequestHandler(
  refreshing(
    () =>
      createEdgeDeps(
        typeof __IMAGE_GATEWAY_EDGE_CONFIG__ === "undefined"
          ? edgeConfigFromEnv(process.env)
          : __IMAGE_GATEWAY_EDGE_CONFIG__,
      ),
    SECRET_REFRESH_MS,
    { what: "edge configuration and signing keys" },
  ),
);
