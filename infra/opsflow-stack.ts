/**
 * The opsflow stack: builds the registered workflows (workflows/index.ts) with the validated config, reports
 * their failures, and outputs their state machines. Nothing here creates resources of its own, and nothing
 * here names a workflow: the registry does.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { WORKFLOWS } from '../workflows';
import { FailureAlerts } from '../workflows/shared/failure-alerts';
import { StaticEgress } from '../workflows/shared/network';
import { declareLocalApp, declareWorkflow, readExamples } from '../workflows/shared/local-metadata';
import { configKey, type BuiltWorkflow, type WorkflowRegistration } from '../workflows/shared/registration';
import type { OpsflowConfig } from './config';

export interface OpsflowStackProps extends StackProps {
  readonly config: OpsflowConfig;
}

export class OpsflowStack extends Stack {
  /** The built workflows, by registered name. */
  readonly workflows = new Map<string, BuiltWorkflow>();
  readonly alerts: FailureAlerts;

  constructor(scope: Construct, id: string, props: OpsflowStackProps) {
    super(scope, id, props);
    const { config } = props;
    const sections = config as unknown as Record<string, unknown>;
    const registry = WORKFLOWS as readonly WorkflowRegistration[];
    // Before the workflows: their functions that call outside AWS are placed in it as they are built.
    const egress = StaticEgress.build(this, config.network.staticEgress);
    for (const w of registry) {
      this.workflows.set(
        w.name,
        w.build(this, sections[configKey(w.name)], { stackName: config.stackName, built: this.workflows, ...(config.targets && { targets: config.targets }) }),
      );
    }
    this.alerts = new FailureAlerts(this, 'FailureAlerts', {
      stateMachines: [...this.workflows.values()].map((w) => w.stateMachine),
      emails: config.alerts.emails,
      ...(config.alerts.chat && { chat: config.alerts.chat }),
    });

    // Once every grant is made: the endpoints the placed functions' roles need.
    egress?.addInterfaceEndpoints();

    for (const [name, w] of this.workflows) {
      new CfnOutput(this, `${name}StateMachineArn`, { value: w.stateMachine.stateMachineArn });
      for (const [outputId, value] of Object.entries(w.outputs ?? {})) new CfnOutput(this, outputId, { value });
    }
    new CfnOutput(this, 'FailureTopicArn', { value: this.alerts.topic.topicArn });
    // What the local runtime's console and CLI show (README "Local runtime metadata"); AWS ignores it.
    for (const w of registry)
      declareWorkflow(this.workflows.get(w.name)!.stateMachine, { name: w.name, examples: readExamples(w.examples), tryLocally: w.tryLocally });
    declareLocalApp(this, {
      // The fleet views' columns: every instance's Name, then the tags the workflows act on.
      interestingTags: [...new Set(['Name', ...registry.flatMap((w) => w.interestingTags ?? [])])],
      ...(config.local.fleet && { fleet: config.local.fleet }),
      sesIdentities: config.local.sesIdentities,
      chat: config.local.chat,
      ...(config.local.organization && { organization: config.local.organization }),
    });
  }
}
