/**
 * The opsflow stack: composes the workflows from `workflows/` with the validated config. Nothing here
 * creates resources of its own; each workflow construct owns what it needs.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { FailureAlerts } from '../workflows/failure-alerts';
import { ManualApproval } from '../workflows/manual-approval';
import type { OpsflowConfig } from './config';

export interface OpsflowStackProps extends StackProps {
  readonly config: OpsflowConfig;
}

export class OpsflowStack extends Stack {
  readonly approval: ManualApproval;
  readonly alerts: FailureAlerts;

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
    this.alerts = new FailureAlerts(this, 'FailureAlerts', {
      stateMachines: [this.approval.stateMachine],
      emails: props.config.alerts.emails,
    });

    new CfnOutput(this, 'ApprovalStateMachineArn', { value: this.approval.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ApprovalApiUrl', { value: this.approval.api.apiEndpoint });
    new CfnOutput(this, 'FailureTopicArn', { value: this.alerts.topic.topicArn });
  }
}
