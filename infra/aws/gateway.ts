import { dirname, join } from "node:path";
import { type App, Tags, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { type BundleResult, bundleEdge, bundleGenerator, bundleOrigin } from "./bundle";
import { EdgeStack } from "./EdgeStack";
import { GatewayStack } from "./GatewayStack";
import { type GatewaySettings, readSettings, type SettingsEnvironment } from "./settings";

/** The app's two stacks, with what they were built from. */
export interface GatewayStacks {
  readonly settings: GatewaySettings;
  readonly edge: EdgeStack;
  readonly gateway: GatewayStack;
  readonly bundles: {
    readonly edge: BundleResult;
    readonly origin: BundleResult;
    readonly generator: BundleResult;
  };
}

/**
 * Adds the gateway to `app`: reads its context, bundles both functions (the edge with its configuration
 * baked in, since Lambda@Edge has no environment variables), then declares the stacks. Bundling is
 * asynchronous and constructs are not, so it happens first, into the app's own output directory.
 *
 * @throws {Error} naming the context key that is wrong, or when the edge bundle outgrows Lambda@Edge
 */
export async function addGatewayStacks(app: App, env?: SettingsEnvironment): Promise<GatewayStacks> {
  const settings = readSettings(app.node, env);
  const bundleRoot = join(app.outdir, "bundles");
  const [edgeBundle, originBundle, generatorBundle] = await Promise.all([
    bundleEdge(join(bundleRoot, "edge"), settings.edge),
    bundleOrigin(join(bundleRoot, "origin")),
    bundleGenerator(join(bundleRoot, "generator")),
  ]);

  Tags.of(app).add("project", "image-gateway");
  // cdk-nag's AWS Solutions rules run as a policy validation plugin: synth fails on any finding not fixed
  // or acknowledged in code, with its reason, beside the resource it is about.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const edge = new EdgeStack(app, `${settings.stackName}-Edge`, {
    description: "image-gateway, us-east-1 part: token signing keys and the viewer-request function",
    account: settings.account,
    signingKeysSecretName: settings.signingKeysSecretName,
    viewerRequestFunctionName: settings.viewerRequestFunctionName,
    wafRateLimit: settings.wafRateLimit,
  });
  const gateway = new GatewayStack(app, settings.stackName, {
    description: "image-gateway: private image bucket, origin service and CloudFront distribution",
    settings,
    edgeStack: edge,
    edgeCodeDirectory: dirname(edgeBundle.file),
    originCodeDirectory: dirname(originBundle.file),
    generatorCodeDirectory: dirname(generatorBundle.file),
  });
  return {
    settings,
    edge,
    gateway,
    bundles: { edge: edgeBundle, origin: originBundle, generator: generatorBundle },
  };
}
