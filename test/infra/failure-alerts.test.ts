/**
 * Failure alerts: the rule invokes a function that publishes to the encrypted topic with its own role. Exact key,
 * topic, rule, permission and role policies: no service principal may publish or use the key (EventBridge could not
 * be confined to the rule there: test/rules/eventbridge-sns.test.ts), and the function's role may use the key only
 * through SNS for this topic.
 */
import { App, Stack } from 'aws-cdk-lib';
import { DefinitionBody, Pass, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import { FailureAlerts } from '../../workflows/shared/failure-alerts';
import { synthOpsflow } from './synth';

const { json } = synthOpsflow();
const entries = Object.entries(json.Resources as Record<string, any>);
const one = (type: string, prefix: string) => {
  const found = entries.filter(([id, r]) => r.Type === type && id.startsWith(prefix));
  expect(found.map(([id]) => id)).toHaveLength(1);
  return found[0];
};
const [keyId, key] = one('AWS::KMS::Key', 'FailureAlertsKey');
const [topicId, topic] = one('AWS::SNS::Topic', 'FailureAlertsTopic');
const [fnId, fn] = one('AWS::Lambda::Function', 'FailureAlertsNotifyFn');
const [ruleId, rule] = one('AWS::Events::Rule', 'FailureAlertsRule');
const roleId = fn.Properties.Role['Fn::GetAtt'][0];
const logsId = fn.Properties.LoggingConfig.LogGroup.Ref;
const MACHINES = ['ApprovalStateMachine', 'Ec2ScheduleStateMachine', 'TagPolicyStateMachine'].map(
  (p) => entries.find(([id, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && id.startsWith(p))![0],
);
const executionsOf = (machine: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':states:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ':execution:',
      { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: machine }] }] },
      ':*',
    ],
  ],
});

describe('failure alerts', () => {
  it("encrypt the topic with their own key, whose policy only lets the account's IAM policies decide", () => {
    expect(topic.Properties).toEqual({ DisplayName: 'opsflow failures', KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    expect(key.Properties).toEqual({
      Description: 'opsflow failure notifications',
      EnableKeyRotation: true,
      KeyPolicy: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] } },
            Action: 'kms:*',
            Resource: '*',
          },
        ],
      },
    });
  });

  it('let nobody publish through the topic policy, which only refuses publishing without TLS', () => {
    const [, policy] = one('AWS::SNS::TopicPolicy', 'FailureAlertsTopicPolicy');
    expect(policy.Properties).toEqual({
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'AllowPublishThroughSSLOnly',
            Effect: 'Deny',
            Principal: '*',
            Action: 'sns:Publish',
            Resource: { Ref: topicId },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      },
    });
  });

  it('invoke the function for failed, timed-out and aborted executions of every workflow, with the whole event', () => {
    expect(rule.Properties).toEqual({
      Name: 'Opsflow-FailureAlerts',
      Description: 'opsflow executions that failed, timed out or were aborted',
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: MACHINES.map((m) => ({ Ref: m })) },
      },
      Targets: [{ Id: 'Target0', Arn: { 'Fn::GetAtt': [fnId, 'Arn'] } }],
    });
    const permissions = entries.filter(([, r]) => r.Type === 'AWS::Lambda::Permission' && JSON.stringify(r.Properties.FunctionName).includes(fnId));
    expect(permissions.map(([, p]) => p.Properties)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
      },
    ]);
    expect(fn.Properties.Environment.Variables).toEqual({
      POWERTOOLS_SERVICE_NAME: 'opsflow',
      NODE_OPTIONS: '--enable-source-maps',
      TOPIC_ARN: { Ref: topicId },
    });
  });

  it("give the function a role that reads the watched executions' history, publishes to the topic, and uses the key only through SNS for it", () => {
    expect(json.Resources[roleId].Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }],
    });
    const policies = entries.filter(([, r]) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: any) => x.Ref === roleId));
    expect(policies).toHaveLength(1);
    expect(policies[0][1].Properties.PolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [logsId, 'Arn'] } },
      { Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' },
      { Effect: 'Allow', Action: 'states:GetExecutionHistory', Resource: MACHINES.map(executionsOf) },
      { Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: topicId } },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
        Condition: {
          StringEquals: {
            'kms:ViaService': { 'Fn::Join': ['', ['sns.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]] },
            'kms:EncryptionContext:aws:sns:topicArn': { Ref: topicId },
          },
        },
      },
    ]);
  });

  it('are the only thing that may publish to the topic or use its key', () => {
    const mentions = entries.filter(
      ([, r]) => r.Type === 'AWS::IAM::Policy' && (JSON.stringify(r).includes(`"${topicId}"`) || JSON.stringify(r).includes(`"${keyId}"`)),
    );
    expect(mentions.map(([id]) => id)).toEqual([expect.stringMatching(/^FailureAlertsNotifyFnRoleDefaultPolicy/)]);
  });

  it('fails when no state machine is watched', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
    expect(() => new FailureAlerts(stack, 'Alerts', { stateMachines: [] })).toThrow('FailureAlerts: stateMachines must name at least one state machine');
    // One is enough.
    const sm = new StateMachine(stack, 'Sm', { definitionBody: DefinitionBody.fromChainable(new Pass(stack, 'P')) });
    expect(() => new FailureAlerts(stack, 'Alerts2', { stateMachines: [sm] })).not.toThrow();
  });
});
