/**
 * Failure notifications: any opsflow execution that fails, times out or is aborted publishes a short message
 * to an SNS topic, through an EventBridge rule on Step Functions status changes. The topic is encrypted with
 * its own KMS key (EventBridge cannot publish to topics under the AWS-managed SNS key).
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { EventField, Rule, RuleTargetInput } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { eventRuleArn, eventRuleName, sourceConditions } from './shared/service-roles';

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
    this.topic = new Topic(this, 'Topic', { displayName: 'opsflow failures', masterKey: key, enforceSSL: true });
    for (const email of props.emails ?? []) this.topic.addSubscription(new EmailSubscription(email));

    // EventBridge publishes to the encrypted topic for this account's own rule only: the topic policy and the key
    // policy name the rule (aws:SourceArn is the rule's ARN for event bus rule targets,
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/cross-service-confused-deputy-prevention.html) and the
    // account. EventBridge needs sns:Publish on the topic and the key's Decrypt/GenerateDataKey, through resource
    // policies, not a target role (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions,
    // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html). The rule's name is fixed in advance: its
    // generated ARN would make the key, topic and rule depend on each other.
    const ruleName = eventRuleName(this, 'FailureAlerts');
    const fromRule = sourceConditions(this, eventRuleArn(this, ruleName));
    const events = new ServicePrincipal('events.amazonaws.com');
    key.addToResourcePolicy(new PolicyStatement({ principals: [events], actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], resources: ['*'], conditions: fromRule }));
    this.topic.addToResourcePolicy(new PolicyStatement({ principals: [events], actions: ['sns:Publish'], resources: [this.topic.topicArn], conditions: fromRule }));

    new Rule(this, 'Rule', {
      ruleName,
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
        // Not aws-events-targets' SnsTopic: it grants events.amazonaws.com sns:Publish and the key without conditions.
        {
          bind: () => ({
            arn: this.topic.topicArn,
            targetResource: this.topic,
            input: RuleTargetInput.fromText(
              `opsflow execution ${EventField.fromPath('$.detail.name')} ${EventField.fromPath('$.detail.status')}: ` +
                `${EventField.fromPath('$.detail.error')} ${EventField.fromPath('$.detail.cause')} ` +
                `(${EventField.fromPath('$.detail.executionArn')})`,
            ),
          }),
        },
      ],
    });
  }
}
