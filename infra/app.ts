/**
 * The CDK app. `npx cdk synth` / `npx cdk deploy`; `-c config=<file>` picks another config file.
 * cdk-nag's AwsSolutions checks run on every synth and write their reports into cdk.out.
 */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadConfig } from './config';
import { OpsflowStack } from './opsflow-stack';

export function buildApp(app = new App()): { app: App; stack: OpsflowStack } {
  const config = loadConfig(app.node.tryGetContext('config') ?? 'opsflow.config.json');
  const stack = new OpsflowStack(app, config.stackName, {
    config,
    description: 'opsflow: Step Functions workflows for cloud operations',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  Aspects.of(app).add(new AwsSolutionsChecks({ reports: true }));
  return { app, stack };
}

if (require.main === module) {
  try {
    buildApp().app.synth();
  } catch (err) {
    // A config problem is the user's to fix: print the message naming the field, not a stack trace.
    if ((err as Error).name === 'ConfigError') {
      console.error((err as Error).message);
      process.exit(1);
    }
    throw err;
  }
}
