/**
 * The opsflow stack: composes the workflows from `workflows/` with the validated config. Nothing here
 * creates resources of its own; each workflow construct owns what it needs.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { FailureAlerts } from '../workflows/failure-alerts';
import { ManualApproval } from '../workflows/manual-approval';
import { Ec2Schedule } from '../workflows/ec2-schedule';
import { TagPolicy } from '../workflows/tag-policy';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { TimeZone } from 'aws-cdk-lib';
import type { OpsflowConfig } from './config';

export interface OpsflowStackProps extends StackProps {
  readonly config: OpsflowConfig;
}

export class OpsflowStack extends Stack {
  readonly approval: ManualApproval;
  readonly alerts: FailureAlerts;
  readonly ec2Schedule: Ec2Schedule;
  readonly tagPolicy: TagPolicy;

  constructor(scope: Construct, id: string, props: OpsflowStackProps) {
    super(scope, id, props);
    const a = props.config.approval;
    this.approval = new ManualApproval(this, 'Approval', {
      sender: a.sender,
      sesIdentity: a.sesIdentity,
      defaultApprovers: a.approvers,
      linkBaseUrl: a.linkBaseUrl,
      timeout: Duration.seconds(a.timeoutSeconds),
      maxTimeout: Duration.seconds(a.maxTimeoutSeconds),
      reminderInterval: Duration.seconds(a.reminderIntervalSeconds),
      escalationApprovers: a.escalationApprovers,
      escalateAfter: Duration.seconds(a.escalateAfterSeconds),
    });
    const e = props.config.ec2Schedule;
    this.ec2Schedule = new Ec2Schedule(this, 'Ec2Schedule', {
      schedules: props.config.schedules,
      batchSize: e.batchSize,
      maxConcurrency: e.maxConcurrency,
      verifyTimeout: Duration.seconds(e.verifyTimeoutSeconds),
      kmsKeyArns: e.kmsKeyArns,
      reportEmails: e.reportEmails,
      controlAllowTags: e.control.allowTags,
      controlAllowInstanceIds: e.control.allowInstanceIds,
      scheduleNamePrefix: props.config.stackName.toLowerCase(),
    });
    const t = props.config.tagPolicy;
    this.tagPolicy = new TagPolicy(this, 'TagPolicy', {
      policy: t.policy,
      approvalStateMachine: this.approval.stateMachine,
      approvalTimeout: Duration.seconds(a.maxTimeoutSeconds).plus(Duration.hours(1)),
      scanSchedule: ScheduleExpression.expression(t.scanSchedule, TimeZone.of(t.scanTimezone)),
      scanEnabled: t.scanEnabled,
      launchEnabled: t.launchEnabled,
      settleDelay: Duration.seconds(t.settleSeconds),
      destructiveActions: t.destructiveActions,
      reportEmails: t.reportEmails,
    });
    this.alerts = new FailureAlerts(this, 'FailureAlerts', {
      stateMachines: [this.approval.stateMachine, this.ec2Schedule.stateMachine, this.tagPolicy.stateMachine],
      emails: props.config.alerts.emails,
    });

    new CfnOutput(this, 'ApprovalStateMachineArn', { value: this.approval.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ApprovalApiUrl', { value: this.approval.api.apiEndpoint });
    new CfnOutput(this, 'FailureTopicArn', { value: this.alerts.topic.topicArn });
    new CfnOutput(this, 'Ec2ScheduleStateMachineArn', { value: this.ec2Schedule.stateMachine.stateMachineArn });
    new CfnOutput(this, 'Ec2ControlApiUrl', { value: this.ec2Schedule.api.apiEndpoint });
    new CfnOutput(this, 'Ec2ScheduleTableName', { value: this.ec2Schedule.table.tableName });
    new CfnOutput(this, 'TagPolicyStateMachineArn', { value: this.tagPolicy.stateMachine.stateMachineArn });
    new CfnOutput(this, 'TagPolicyReportTopicArn', { value: this.tagPolicy.topic.topicArn });
  }
}
