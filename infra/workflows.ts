/**
 * The workflow registry: the one place a workflow is registered. The stack builds every workflow listed in
 * `WORKFLOWS` (in order, so a workflow can use one registered before it), subscribes each state machine to the
 * failure alerts, and adds its outputs; the template's `OpsflowLocal` metadata carries the list to the local
 * runtime, whose CLI and console show the workflows and how to try them. Nothing else names the workflows.
 *
 * Adding a workflow: its construct (workflows/), its tasks (tasks/), its config section (infra/config*.ts), a
 * registration below, its tests, and one line in `WORKFLOWS`.
 */
import { Duration, TimeZone } from 'aws-cdk-lib';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { Ec2Schedule } from '../workflows/ec2-schedule';
import { ManualApproval } from '../workflows/manual-approval';
import { exampleFiles, type WorkflowExample } from '../workflows/shared/local-metadata';
import { TagPolicy } from '../workflows/tag-policy';
import type { OpsflowConfig } from './config';

export interface BuiltWorkflow {
  readonly stateMachine: IStateMachine;
  /** Stack outputs besides `<name>StateMachineArn`, by output id. @default none */
  readonly outputs?: Record<string, string>;
}

export interface WorkflowRegistration {
  /** Construct id, state machine name, and the name the CLI and the console use. */
  readonly name: string;
  /** Builds the workflow from the config; `built` holds the workflows registered before it, by name. */
  readonly build: (scope: Construct, config: OpsflowConfig, built: ReadonlyMap<string, BuiltWorkflow>) => BuiltWorkflow;
  /** Commands that try the workflow on the local runtime; `opsflow up` prints them. */
  readonly tryLocally: readonly string[];
  /** Example inputs, offered by the local console's Start form (the first prefilled). */
  readonly examples: readonly WorkflowExample[];
}

const approval: WorkflowRegistration = {
  name: 'Approval',
  build: (scope, { approval: a }) => {
    const w = new ManualApproval(scope, 'Approval', {
      sender: a.sender,
      sesIdentity: a.sesIdentity,
      defaultApprovers: a.approvers,
      linkBaseUrl: a.linkBaseUrl,
      timeout: Duration.seconds(a.timeoutSeconds),
      maxTimeout: Duration.seconds(a.maxTimeoutSeconds),
      reminderInterval: Duration.seconds(a.reminderIntervalSeconds),
      escalationApprovers: a.escalationApprovers,
      escalateAfter: Duration.seconds(a.escalateAfterSeconds),
      allowedRecipientDomains: a.allowedRecipientDomains,
    });
    return { stateMachine: w.stateMachine, outputs: { ApprovalApiUrl: w.api.apiEndpoint } };
  },
  tryLocally: ['npx opsflow start Approval workflows/examples/approval.json                  # then open the link from: npx opsflow outbox'],
  examples: exampleFiles('workflows/examples', ['approval.json']),
};

const ec2Schedule: WorkflowRegistration = {
  name: 'Ec2Schedule',
  build: (scope, config) => {
    const e = config.ec2Schedule;
    const w = new Ec2Schedule(scope, 'Ec2Schedule', {
      schedules: config.schedules,
      batchSize: e.batchSize,
      verifyTimeout: Duration.seconds(e.verifyTimeoutSeconds),
      kmsKeyArns: e.kmsKeyArns,
      reportEmails: e.reportEmails,
      controlAllowTags: e.control.allowTags,
      controlAllowInstanceIds: e.control.allowInstanceIds,
      scheduleNamePrefix: config.stackName.toLowerCase(),
    });
    return { stateMachine: w.stateMachine, outputs: { Ec2ControlApiUrl: w.api.apiEndpoint, Ec2ScheduleTableName: w.table.tableName } };
  },
  tryLocally: [
    'npx opsflow start Ec2Schedule workflows/examples/ec2-stop-office-hours-dry-run.json',
    'npx opsflow fire opsflow-office-hours-start-0                               # as EventBridge Scheduler would at 07:00 Berlin',
    'npm run control-link -- i-0feed000000000011 start                           # a delegated start link',
  ],
  examples: exampleFiles('workflows/examples', ['ec2-start-office-hours.json', 'ec2-stop-instances.json', 'ec2-stop-office-hours-dry-run.json']),
};

const tagPolicy: WorkflowRegistration = {
  name: 'TagPolicy',
  build: (scope, config, built) => {
    const t = config.tagPolicy;
    const w = new TagPolicy(scope, 'TagPolicy', {
      policy: t.policy,
      approvalStateMachine: built.get('Approval')!.stateMachine,
      approvalTimeout: Duration.seconds(config.approval.maxTimeoutSeconds).plus(Duration.hours(1)),
      scanSchedule: ScheduleExpression.expression(t.scanSchedule, TimeZone.of(t.scanTimezone)),
      scanEnabled: t.scanEnabled,
      launchEnabled: t.launchEnabled,
      settleDelay: Duration.seconds(t.settleSeconds),
      destructiveActions: t.destructiveActions,
      reportEmails: t.reportEmails,
      requesterEmails: t.requesterEmails,
    });
    return { stateMachine: w.stateMachine, outputs: { TagPolicyReportTopicArn: w.topic.topicArn } };
  },
  tryLocally: ['npx opsflow start TagPolicy workflows/examples/tag-policy-scan-dry-run.json'],
  examples: exampleFiles('workflows/examples', ['tag-policy-instances.json', 'tag-policy-rules.json', 'tag-policy-scan-apply.json', 'tag-policy-scan-dry-run.json']),
};

/** Every workflow of the app, in build order. */
export const WORKFLOWS: readonly WorkflowRegistration[] = [approval, ec2Schedule, tagPolicy];
