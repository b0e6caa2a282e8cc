/**
 * Confused-deputy prevention: every role that EventBridge Scheduler or EventBridge assumes is limited to this account
 * (`aws:SourceAccount`) and to its own schedule group or rule (`aws:SourceArn`); every function EventBridge invokes,
 * to its rule; and no key or topic policy grants a service anything.
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/cross-service-confused-deputy-prevention.html
 */
import { App, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { eventRuleName } from '../../workflows/shared/service-roles';
import { synthOpsflow } from './synth';

const { json } = synthOpsflow();
const resources = Object.entries(json.Resources as Record<string, any>);
const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
const ACCOUNT = { Ref: 'AWS::AccountId' };
/** `arn:<partition>:<service>:<region>:<account>:<rest>` as CDK's formatArn renders it. */
const arn = (service: string, rest: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${rest}`]],
});
const trustedBy = (role: any, service: string) => (role.Properties.AssumeRolePolicyDocument.Statement as any[]).filter((s) => s.Principal?.Service === service);

describe('roles that EventBridge Scheduler assumes', () => {
  const roles = ofType('AWS::IAM::Role').filter(([, r]) => trustedBy(r, 'scheduler.amazonaws.com').length > 0);

  it('are the ones every schedule uses', () => {
    const used = new Set(ofType('AWS::Scheduler::Schedule').map(([, s]) => s.Properties.Target.RoleArn['Fn::GetAtt'][0]));
    expect(used.size).toBeGreaterThanOrEqual(3); // Ec2Schedule, the approval sweep, the TagPolicy scan
    expect(new Set(roles.map(([id]) => id))).toEqual(used);
  });

  it('trust Scheduler only for schedules of this account in its default schedule group', () => {
    for (const [id, role] of roles) {
      expect(trustedBy(role, 'scheduler.amazonaws.com'), id).toEqual([
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': arn('scheduler', 'schedule-group/default') } },
        },
      ]);
    }
  });
});

describe('roles that EventBridge assumes for rule targets', () => {
  const rules = ofType('AWS::Events::Rule');
  const withRole = rules.flatMap(([id, r]) =>
    (r.Properties.Targets as any[]).filter((t) => t.RoleArn).map((t) => ({ rule: id, name: r.Properties.Name, role: t.RoleArn['Fn::GetAtt'][0] })),
  );

  it('exist (the TagPolicy launch rule starts the state machine through one)', () => {
    expect(withRole.map((w) => w.rule)).toEqual([expect.stringMatching(/^TagPolicyLaunchRule/)]);
  });

  it('trust EventBridge only for the rule that uses them, in this account', () => {
    for (const w of withRole) {
      expect(w.name, w.rule).toBe('Opsflow-TagPolicyLaunch');
      expect(trustedBy(json.Resources[w.role], 'events.amazonaws.com'), w.role).toEqual([
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': arn('events', `rule/${w.name}`) } },
        },
      ]);
    }
  });

  it('no role trusts EventBridge without naming a rule of this stack', () => {
    const names = new Set(rules.map(([, r]) => r.Properties.Name));
    for (const [id, role] of ofType('AWS::IAM::Role')) {
      for (const s of trustedBy(role, 'events.amazonaws.com')) {
        const rule = s.Condition?.StringEquals?.['aws:SourceArn']?.['Fn::Join']?.[1]?.at(-1)?.replace(':rule/', '');
        expect(names.has(rule), `${id} trusts EventBridge for ${JSON.stringify(s.Condition)}`).toBe(true);
      }
    }
  });
});

describe('key and topic policies', () => {
  // A service publishing to an encrypted topic for a rule could not be confined to that rule: EventBridge allows no
  // Condition in a topic policy and no aws:SourceArn/aws:SourceAccount in a key policy (test/rules/eventbridge-sns.test.ts).
  // So no service publishes: the failure topic is published by its function's role (test/infra/failure-alerts.test.ts).
  it('grant no service principal anything', () => {
    const policies = [
      ...ofType('AWS::KMS::Key').map(([id, k]) => [id, k.Properties.KeyPolicy] as const),
      ...ofType('AWS::SNS::TopicPolicy').map(([id, p]) => [id, p.Properties.PolicyDocument] as const),
    ];
    expect(policies.length).toBeGreaterThanOrEqual(2);
    const grants = policies.flatMap(([id, doc]) =>
      (doc.Statement as any[]).filter((s) => s.Effect === 'Allow' && (s.Principal === '*' || s.Principal?.Service)).map((s) => ({ id, ...s })),
    );
    expect(grants).toEqual([]);
  });

  it('function resource policies let EventBridge invoke only for a rule of this stack (aws:SourceArn)', () => {
    const fromEvents = ofType('AWS::Lambda::Permission').filter(([, p]) => p.Properties.Principal === 'events.amazonaws.com');
    expect(fromEvents.map(([, p]) => p.Properties.SourceArn)).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^FailureAlertsRule/), 'Arn'] }]);
  });
});

describe('eventRuleName', () => {
  it('is <stackName>-<name>', () => {
    expect(eventRuleName(new Stack(new App(), 'OpsflowProd'), 'FailureAlerts')).toBe('OpsflowProd-FailureAlerts');
  });

  it("fails when the name would exceed EventBridge's 64 characters", () => {
    expect(() => eventRuleName(new Stack(new App(), `Opsflow${'x'.repeat(50)}`), 'FailureAlerts')).toThrow(/must be 1-64 letters.*shorten stackName/);
  });
});
