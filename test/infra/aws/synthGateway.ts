import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { CloudAssembly } from "aws-cdk-lib/cx-api";
import { ROOT } from "../../../infra/aws/bundle";
import { addGatewayStacks, type GatewayStacks } from "../../../infra/aws/gateway";

/** The context `npx cdk synth` starts from: lookups for the offline account, feature flags, defaults. */
export const CDK_JSON_CONTEXT: Readonly<Record<string, unknown>> = JSON.parse(
  readFileSync(join(ROOT, "cdk.json"), "utf8"),
).context;

/** One synthesized app and its templates. */
export interface SynthesizedGateway extends GatewayStacks {
  readonly assembly: CloudAssembly;
  readonly gatewayTemplate: Template;
  readonly edgeTemplate: Template;
  /** Removes the assembly directory. */
  dispose(): Promise<void>;
}

/**
 * Synthesizes the app as `npx cdk synth` would offline (cdk.json's context, no credentials), with
 * `context` on top, into a fresh directory.
 */
export async function synthGateway(context: Record<string, unknown> = {}): Promise<SynthesizedGateway> {
  const outdir = await mkdtemp(join(tmpdir(), "gateway-synth-"));
  const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT, ...context } });
  const stacks = await addGatewayStacks(app, {});
  // Fails on any error annotation, as the CLI would.
  const assembly = app.synth({ validateOnSynthesis: true });
  return {
    ...stacks,
    assembly,
    gatewayTemplate: Template.fromStack(stacks.gateway),
    edgeTemplate: Template.fromStack(stacks.edge),
    dispose: () => rm(outdir, { recursive: true, force: true }),
  };
}

/** An IAM statement as it appears in a template. */
export interface TemplateStatement {
  readonly Effect: "Allow" | "Deny";
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
  readonly Sid?: string;
}

/** Every IAM statement in a template: policies, roles' inline policies, bucket policies. */
export function policyStatements(template: Template): { resource: string; statement: TemplateStatement }[] {
  const found: { resource: string; statement: TemplateStatement }[] = [];
  for (const [resource, { Type, Properties }] of Object.entries(template.toJSON().Resources ?? {}) as [
    string,
    { Type: string; Properties?: Record<string, unknown> },
  ][]) {
    const documents: unknown[] = [];
    if (
      Type === "AWS::IAM::Policy" ||
      Type === "AWS::IAM::ManagedPolicy" ||
      Type === "AWS::S3::BucketPolicy"
    ) {
      documents.push(Properties?.PolicyDocument);
    }
    if (Type === "AWS::IAM::Role") {
      for (const policy of (Properties?.Policies as { PolicyDocument: unknown }[] | undefined) ?? []) {
        documents.push(policy.PolicyDocument);
      }
    }
    for (const document of documents) {
      for (const statement of (document as { Statement: TemplateStatement[] }).Statement) {
        found.push({ resource, statement });
      }
    }
  }
  return found;
}

/** The actions of a statement as a list. */
export function actionsOf(statement: TemplateStatement): string[] {
  return [statement.Action].flat();
}

/** The resources of a statement as a list. */
export function resourcesOf(statement: TemplateStatement): unknown[] {
  return statement.Resource === undefined ? [] : [statement.Resource].flat();
}
