/**
 * The CDK app (`cdk.json` runs it): `npx cdk synth`, `npx cdk deploy --all`. Configuration is CDK context;
 * The README's "Deploy to AWS, Configure" table lists every key and its default.
 */
import { App } from "aws-cdk-lib";
import { addGatewayStacks } from "./gateway";
import { settingsWarnings } from "./settings";

const app = new App();
const { settings } = await addGatewayStacks(app);
for (const warning of settingsWarnings(settings)) console.warn(`[image-gateway] WARNING: ${warning}`);
app.synth();
