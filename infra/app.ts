/**
 * The CDK app. `npx cdk synth` / `npx cdk deploy`; `-c config=<file>` picks another config file.
 * cdk-nag's AwsSolutions checks run on every synth and write their reports into cdk.out.
 */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { WORKFLOWS } from '../workflows';
import type { WorkflowRegistration } from '../workflows/shared/registration';
import { configKey } from '../workflows/shared/registration';
import { allAccounts, allRegions } from '../workflows/shared/targets';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONFIG, SYNTHESIZED_CONFIG } from '../local/synth';
import { loadConfig } from './config';
import { MemberStack, MemberStackSet, memberTemplateBody } from './member-stack';
import { OpsflowStack } from './opsflow-stack';

/** The config file an app is built from: `-c config=<file>`, or opsflow.config.json. */
export const configPath = (app: App): string => app.node.tryGetContext('config') ?? DEFAULT_CONFIG;

export function buildApp(app = new App()): { app: App; stack: OpsflowStack; member?: MemberStack } {
  const config = loadConfig(configPath(app));
  const stack = new OpsflowStack(app, config.stackName, {
    config,
    description: 'opsflow: Step Functions workflows for cloud operations',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  // With `targets`: the member stack, for every target account and region (README "Deploy: member accounts"). It has
  // no environment: the same template serves every account and region, and knows the hub by its parameters.
  let member: MemberStack | undefined;
  if (config.targets) {
    const sections = config as unknown as Record<string, unknown>;
    const overrides = (WORKFLOWS as readonly WorkflowRegistration[]).flatMap((w) => w.targetOverrides?.(sections[configKey(w.name)]) ?? []);
    const id = `${config.stackName}Member`;
    const props = {
      targets: config.targets,
      regions: allRegions(
        config.targets,
        overrides.map((o) => o.override),
      ),
      access: [...stack.workflows.values()].flatMap((w) => (w.member ? [w.member] : [])),
      description: `opsflow member: the role and event forwarding the ${config.stackName} hub uses in this account`,
    };
    member = new MemberStack(app, id, props);
    if (config.targets.deploy === 'stackset') {
      new MemberStackSet(stack, 'MemberStackSet', {
        stackSetName: id,
        templateBody: memberTemplateBody(id, props),
        targets: config.targets,
        accounts: allAccounts(
          config.targets,
          overrides.map((o) => o.override),
        ),
        regions: props.regions,
      });
    }
  }
  Aspects.of(app).add(new AwsSolutionsChecks({ reports: true }));
  return { app, stack, ...(member && { member }) };
}

if (require.main === module) {
  try {
    const { app } = buildApp();
    app.synth();
    // Which config this cdk.out was built from: `npm start -- --config <file>` synthesizes again when it is another.
    writeFileSync(join(app.outdir, SYNTHESIZED_CONFIG), configPath(app));
  } catch (err) {
    // A config problem is the user's to fix: print the message naming the field, not a stack trace.
    if ((err as Error).name === 'ConfigError') {
      console.error((err as Error).message);
      process.exit(1);
    }
    throw err;
  }
}
