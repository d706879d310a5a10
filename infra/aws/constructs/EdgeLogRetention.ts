import { Stack, Validations } from "aws-cdk-lib";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

/**
 * The regions with a CloudFront regional edge cache, where Lambda@Edge replicas run and write their logs
 * (AWS's list; all enabled by default, so creating a log group there needs no opt-in).
 */
export const LAMBDA_EDGE_REGIONS = [
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
  "ap-south-1",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-southeast-1",
  "ap-southeast-2",
  "eu-central-1",
  "eu-west-1",
  "eu-west-2",
  "sa-east-1",
] as const;

/** The id CDK gives its singleton LogRetention handler (aws-logs). */
const LOG_RETENTION_HANDLER_ID = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a";

/** What the replicas' log groups are kept for. */
export interface EdgeLogRetentionProps {
  /** The edge function's name, fixed at synth so its replicas' log group names are known. */
  readonly functionName: string;
  readonly retention: logs.RetentionDays;
  readonly regions?: readonly string[];
}

/**
 * Lambda@Edge replicas log to `/aws/lambda/us-east-1.{function}` in whichever region runs them, and such a
 * group, created by Lambda on first use, keeps its logs forever. This creates the group in every region
 * replicas run in, with a retention, before any replica writes (CDK's LogRetention, one call per region,
 * which creates a missing group and sets the policy on an existing one).
 */
export class EdgeLogRetention extends Construct {
  /** The log group name in every region. */
  public readonly logGroupName: string;
  public readonly regions: readonly string[];

  public constructor(scope: Construct, id: string, props: EdgeLogRetentionProps) {
    super(scope, id);
    this.logGroupName = edgeReplicaLogGroupName(props.functionName);
    this.regions = props.regions ?? LAMBDA_EDGE_REGIONS;
    for (const region of this.regions) {
      new logs.LogRetention(this, region, {
        logGroupName: this.logGroupName,
        logGroupRegion: region,
        retention: props.retention,
      });
    }
    // CDK's one LogRetention handler per stack, which every call above shares.
    const handler = Stack.of(this).node.tryFindChild(LOG_RETENTION_HANDLER_ID);
    if (handler) {
      const nag = Validations.of(handler);
      nag.acknowledge({
        id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        reason: "CDK's own deploy-time LogRetention handler; it only logs its own runs.",
      });
      nag.acknowledge({
        id: "AwsSolutions-IAM5[Resource::*]",
        reason:
          "CDK's LogRetention handler creates groups and sets retention by name in other regions at " +
          "deploy time; it runs only when the stack deploys.",
      });
    }
  }
}

/** Lambda@Edge prefixes the function's own region (always us-east-1) to its log group in every region. */
export function edgeReplicaLogGroupName(functionName: string): string {
  return `/aws/lambda/us-east-1.${functionName}`;
}
