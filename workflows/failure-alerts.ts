/**
 * Failure notifications: any opsflow execution that fails, times out or is aborted publishes a short message
 * to an SNS topic, through an EventBridge rule on Step Functions status changes. The topic is encrypted with
 * its own KMS key (EventBridge cannot publish to topics under the AWS-managed SNS key).
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { EventField, Rule, RuleTargetInput } from 'aws-cdk-lib/aws-events';
import { SnsTopic } from 'aws-cdk-lib/aws-events-targets';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface FailureAlertsProps {
  /** The state machines whose failed, timed-out and aborted executions are reported. */
  readonly stateMachines: IStateMachine[];
  /** Email addresses subscribed to the topic. @default [] */
  readonly emails?: string[];
}

export class FailureAlerts extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: FailureAlertsProps) {
    super(scope, id);
    if (props.stateMachines.length === 0) throw new Error('FailureAlerts: stateMachines must name at least one state machine');
    const key = new Key(this, 'Key', {
      description: 'opsflow failure notifications',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.grant(new ServicePrincipal('events.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new Topic(this, 'Topic', { displayName: 'opsflow failures', masterKey: key, enforceSSL: true });
    for (const email of props.emails ?? []) this.topic.addSubscription(new EmailSubscription(email));

    new Rule(this, 'Rule', {
      description: 'opsflow executions that failed, timed out or were aborted',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: props.stateMachines.map((sm) => sm.stateMachineArn),
        },
      },
      targets: [
        new SnsTopic(this.topic, {
          message: RuleTargetInput.fromText(
            `opsflow execution ${EventField.fromPath('$.detail.name')} ${EventField.fromPath('$.detail.status')}: ` +
              `${EventField.fromPath('$.detail.error')} ${EventField.fromPath('$.detail.cause')} ` +
              `(${EventField.fromPath('$.detail.executionArn')})`,
          ),
        }),
      ],
    });
  }
}
