import type { Context } from "aws-lambda";
import { Hono } from "hono";
import {
  type ALBRequestContext,
  type APIGatewayProxyResult,
  handle,
  type LambdaEvent,
} from "hono/aws-lambda";
import type { Log } from "../edge/authorize";
import { refreshing } from "../edge/dependencies";
import { ServiceUnavailableError } from "../edge/errors";
import { createApp, errorAnswer } from "./app";
import { originConfigFromEnv } from "./config";
import { createOriginDeps, type OriginDeps } from "./dependencies";
import { consoleLog, describeError } from "./logging";

/**
 * What the origin function is invoked with. S3 object-created notifications (presigned uploads) join this
 * union with their own issue, dispatched beside the ALB branch of `createOriginHandler`.
 */
export type OriginEvent = Extract<LambdaEvent, { requestContext: ALBRequestContext }>;

/** The origin Lambda function: an ALB event in, an ALB result out. */
export type OriginHandler = (event: OriginEvent, context: Context) => Promise<APIGatewayProxyResult>;

/**
 * Wraps the hono app as the ALB's Lambda target: `hono/aws-lambda` turns the event (single- or
 * multi-value headers, base64 bodies) into a `Request` and the `Response` back. `resolveDeps` is called
 * per invocation and should memoize; while it fails, requests get `503` (logged to `log`) and the next
 * one tries again.
 */
export function createOriginHandler(
  resolveDeps: () => Promise<OriginDeps>,
  log: Log = consoleLog,
): OriginHandler {
  let serving: { readonly deps: OriginDeps; readonly answer: ReturnType<typeof handle> } | undefined;
  const unavailable = handle(
    new Hono().all("*", () =>
      errorAnswer(new ServiceUnavailableError("gateway_unavailable", "The gateway is starting; try again.")),
    ),
  );
  return async (event, context) => {
    if (!isAlbEvent(event)) throw new Error("The origin function answers ALB requests only.");
    let deps: OriginDeps;
    try {
      deps = await resolveDeps();
    } catch (error) {
      log({ level: "error", event: "origin_init_failure", error: describeError(error) });
      return unavailable(event, context);
    }
    if (serving?.deps !== deps) serving = { deps, answer: handle(createApp(deps)) };
    return serving.answer(event, context);
  };
}

function isAlbEvent(event: unknown): event is OriginEvent {
  const context = (event as { requestContext?: { elb?: unknown } } | null)?.requestContext;
  return typeof context?.elb === "object" && context.elb !== null;
}

/** The deployed handler: configuration from the environment, dependencies built once per container. */
export const handler: OriginHandler = createOriginHandler(
  refreshing(() => createOriginDeps(originConfigFromEnv(process.env)), Number.POSITIVE_INFINITY),
);
