import type { Context, S3Event } from "aws-lambda";
import { Hono } from "hono";
import {
  type ALBRequestContext,
  type APIGatewayProxyResult,
  handle,
  type LambdaEvent,
} from "hono/aws-lambda";
import { unavailableAnswer } from "../../contract/errors";
import { refreshing } from "../../contract/refreshing";
import { createOriginDeps, type OriginDeps } from "../adapters/dependencies";
import { originConfigFromEnv } from "../config";
import { finalizeDepsOf, finalizeS3Event } from "../domain/finalize";
import { createApp, errorAnswer } from "./app";

/** A request as the load balancer invokes the origin with it. */
export type AlbEvent = Extract<LambdaEvent, { requestContext: ALBRequestContext }>;

/** What the origin function is invoked with: ALB requests, and S3's notifications of staged uploads. */
export type OriginEvent = AlbEvent | S3Event;

/**
 * The origin Lambda function: an ALB result for an ALB event; nothing for an S3 notification, whose
 * failure is thrown so that Lambda retries the (asynchronous) invocation.
 */
export interface OriginHandler {
  (event: AlbEvent, context: Context): Promise<APIGatewayProxyResult>;
  (event: S3Event, context: Context): Promise<void>;
}

/**
 * Wraps the hono app as the ALB's Lambda target, and the finalize step as the bucket's notification
 * target: `hono/aws-lambda` turns an ALB event (single- or multi-value headers, base64 bodies) into a
 * `Request` and the `Response` back; an S3 event goes to `finalizeS3Event`. `resolveDeps` is called per
 * invocation and should memoize (and log its own failures, as `refreshing` does); while it fails, requests
 * get `503` (`gateway_misconfigured` when retrying cannot help) and notifications fail, so that Lambda
 * retries them.
 */
export function createOriginHandler(resolveDeps: () => Promise<OriginDeps>): OriginHandler {
  let serving: { readonly deps: OriginDeps; readonly answer: ReturnType<typeof handle> } | undefined;
  const dependencies = async (): Promise<OriginDeps | { readonly failure: unknown }> => {
    try {
      return await resolveDeps();
    } catch (failure) {
      return { failure };
    }
  };
  const dispatch = async (
    event: OriginEvent,
    context: Context,
  ): Promise<APIGatewayProxyResult | undefined> => {
    if (isS3Event(event)) {
      const deps = await dependencies();
      if ("failure" in deps) {
        throw new Error("The origin's dependencies are unavailable; the notification will be retried.", {
          cause: deps.failure,
        });
      }
      await finalizeS3Event(event, finalizeDepsOf(deps));
      return undefined;
    }
    if (!isAlbEvent(event))
      throw new Error("The origin function answers ALB requests and S3 notifications only.");
    const deps = await dependencies();
    if ("failure" in deps) {
      const refusal = unavailableAnswer(deps.failure);
      return handle(new Hono().all("*", () => errorAnswer(refusal)))(event, context);
    }
    if (serving?.deps !== deps) serving = { deps, answer: handle(createApp(deps)) };
    return serving.answer(event, context);
  };
  // One function serves both overloads: the event's own shape decides what it answers.
  return dispatch as OriginHandler;
}

function isS3Event(event: unknown): event is S3Event {
  const records = (event as { Records?: unknown } | null)?.Records;
  return (
    Array.isArray(records) &&
    records.length > 0 &&
    records.every((record) => (record as { eventSource?: unknown } | null)?.eventSource === "aws:s3")
  );
}

function isAlbEvent(event: unknown): event is AlbEvent {
  const context = (event as { requestContext?: { elb?: unknown } } | null)?.requestContext;
  return typeof context?.elb === "object" && context.elb !== null;
}

/** The deployed handler: configuration from the environment; dependencies built once per container, their secrets reloaded every `SECRET_REFRESH_MS`. */
export const handler: OriginHandler = createOriginHandler(
  refreshing(() => createOriginDeps(originConfigFromEnv(process.env)), Number.POSITIVE_INFINITY, {
    what: "origin configuration and dependencies",
  }),
);
