/**
 * Failure notifications: any opsflow execution that fails, times out or is aborted is reported to an SNS topic
 * (its email subscribers) as a message a person can read: the subject names the workflow, what happened and the
 * error; the body gives the cause formatted, when it ended and the execution's console link. A rejected approval
 * (`Approval.Rejected`) is a decision, not a failure, and is not reported. Code: tasks/failure-alerts/.
 *
 * Path: an EventBridge rule on Step Functions status changes invokes a function (its resource policy allows this
 * rule only), which publishes with its own role. Not an SNS target of the rule: EventBridge cannot set a subject,
 * and publishing to an encrypted topic as events.amazonaws.com allows no confused-deputy conditions — "You can't
 * use Condition blocks in Amazon SNS topic policies for EventBridge"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions), and
 * "Adding the aws:SourceAccount, aws:SourceArn, and aws:SourceOrgID to a AWS KMS policy is not supported for
 * EventBridge-to-encrypted topics" (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html). With
 * them, KMS refuses the data key and every alert is lost (counted only in the rule's FailedInvocations).
 *
 * Least privilege: nothing but the function's role may publish, and it may use the topic's key only through SNS
 * (`kms:ViaService`) for this topic's messages (`kms:EncryptionContext:aws:sns:topicArn`); the key policy names no
 * service. The function reads only the history of the watched state machines' executions.
 *
 * With `chat` (config `alerts.chat`), the function also posts each alert to those chat channels, after the SNS
 * message, so a chat that is down costs only the chat message (tasks/shared/chat-notify.ts).
 */
import { Arn, ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { ChatDestination } from '../../tasks/shared/chat-target';
import { allowChatNotify, chatNotifyProps } from './chat-notify';
import { eventRuleName } from './service-roles';
import { TaskFunction } from './task-function';

export interface FailureAlertsProps {
  /** The state machines whose failed, timed-out and aborted executions are reported. */
  readonly stateMachines: IStateMachine[];
  /** Email addresses subscribed to the topic. @default [] */
  readonly emails?: string[];
  /** Chat channels that also get every alert (config `alerts.chat`), posted after the SNS message. @default none */
  readonly chat?: ChatDestination;
}

export class FailureAlerts extends Construct {
  readonly topic: Topic;
  readonly key: Key;
  /** Publishes each alert (tasks/failure-alerts/notify.ts). */
  readonly fn: TaskFunction;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: FailureAlertsProps) {
    super(scope, id);
    if (props.stateMachines.length === 0) throw new Error('FailureAlerts: stateMachines must name at least one state machine');
    this.key = new Key(this, 'Key', {
      description: 'opsflow failure notifications',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.topic = new Topic(this, 'Topic', { displayName: 'opsflow failures', masterKey: this.key, enforceSSL: true });
    for (const email of props.emails ?? []) this.topic.addSubscription(new EmailSubscription(email));

    const chat = chatNotifyProps(this, props.chat);
    this.fn = new TaskFunction(this, 'NotifyFn', {
      entry: 'tasks/failure-alerts/notify.ts',
      description: 'Publishes a readable alert for a failed, timed-out or aborted opsflow execution',
      ...chat,
      environment: { TOPIC_ARN: this.topic.topicArn, ...chat.environment },
    });
    allowChatNotify(this.fn, props.chat);
    // The error and cause are in the execution's last history event, not in the status-change event.
    this.fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:GetExecutionHistory'],
        resources: props.stateMachines.map((sm) =>
          Stack.of(this).formatArn({
            service: 'states',
            resource: 'execution',
            resourceName: `${Arn.split(sm.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName}:*`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ),
      }),
    );
    this.fn.addToRolePolicy(new PolicyStatement({ actions: ['sns:Publish'], resources: [this.topic.topicArn] }));
    // A publisher to an encrypted topic needs kms:GenerateDataKey* and kms:Decrypt on its key
    // (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#send-to-encrypted-topic); the key's default
    // policy lets IAM policies of the account grant it. SNS calls KMS with the topic's ARN as encryption context.
    this.fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: [this.key.keyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': `sns.${Stack.of(this).region}.${Stack.of(this).urlSuffix}`,
            'kms:EncryptionContext:aws:sns:topicArn': this.topic.topicArn,
          },
        },
      }),
    );
    this.fn.suppress([
      {
        id: 'AwsSolutions-IAM5',
        reason: 'The history of any execution of the watched state machines: execution names are not known in advance.',
        appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:states:.+:execution:.+:\\*$/g' }],
      },
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'kms:GenerateDataKey* is what the SNS guide asks of publishers to an encrypted topic; limited to SNS for this topic by kms:ViaService and the encryption context.',
        appliesTo: ['Action::kms:GenerateDataKey*'],
      },
    ]);

    // The rule keeps a fixed name, so that its FailedInvocations metric (dimension RuleName) is easy to find.
    this.rule = new Rule(this, 'Rule', {
      ruleName: eventRuleName(this, 'FailureAlerts'),
      description: 'opsflow executions that failed, timed out or were aborted',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: props.stateMachines.map((sm) => sm.stateMachineArn),
        },
      },
      // The whole event: the function reads executionArn, name, status, dates and region from it.
      targets: [new LambdaFunction(this.fn)],
    });
  }
}
