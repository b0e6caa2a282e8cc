/**
 * The opsflow stack: builds the registered workflows (infra/workflows.ts) with the validated config, reports
 * their failures, and outputs their state machines. Nothing here creates resources of its own, and nothing
 * here names a workflow: the registry does.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { FailureAlerts } from '../workflows/failure-alerts';
import { declareLocalApp, declareWorkflow } from '../workflows/shared/local-metadata';
import type { OpsflowConfig } from './config';
import { WORKFLOWS, type BuiltWorkflow, type WorkflowRegistration } from './workflows';

export interface OpsflowStackProps extends StackProps {
  readonly config: OpsflowConfig;
  /** @default WORKFLOWS */
  readonly workflows?: readonly WorkflowRegistration[];
}

/**
 * The EC2 tags the local fleet views show as columns: the instance's name, the schedule Ec2Schedule acts on
 * (`Schedule`), and the owner TagPolicy enforces (`Owner`).
 */
const INTERESTING_TAGS = ['Name', 'Schedule', 'Owner'];

export class OpsflowStack extends Stack {
  /** The built workflows, by registered name. */
  readonly workflows = new Map<string, BuiltWorkflow>();
  readonly alerts: FailureAlerts;

  constructor(scope: Construct, id: string, props: OpsflowStackProps) {
    super(scope, id, props);
    const registry = props.workflows ?? WORKFLOWS;
    for (const w of registry) this.workflows.set(w.name, w.build(this, props.config, this.workflows));
    this.alerts = new FailureAlerts(this, 'FailureAlerts', {
      stateMachines: [...this.workflows.values()].map((w) => w.stateMachine),
      emails: props.config.alerts.emails,
    });

    for (const [name, w] of this.workflows) {
      new CfnOutput(this, `${name}StateMachineArn`, { value: w.stateMachine.stateMachineArn });
      for (const [outputId, value] of Object.entries(w.outputs ?? {})) new CfnOutput(this, outputId, { value });
    }
    new CfnOutput(this, 'FailureTopicArn', { value: this.alerts.topic.topicArn });
    // What the local runtime's console and CLI show (README "Local runtime metadata"); AWS ignores it.
    for (const w of registry) declareWorkflow(this.workflows.get(w.name)!.stateMachine, { name: w.name, examples: w.examples, tryLocally: w.tryLocally });
    declareLocalApp(this, {
      interestingTags: INTERESTING_TAGS,
      ...(props.config.local.fleet && { fleet: props.config.local.fleet }),
      sesIdentities: props.config.local.sesIdentities,
    });
  }
}
