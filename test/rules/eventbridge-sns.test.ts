/**
 * EventBridge rules publishing to SNS topics (targets without a role), authorized as on AWS:
 * - the topic policy must allow events.amazonaws.com sns:Publish, and "You can't use `Condition` blocks in Amazon
 *   SNS topic policies for EventBridge" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions);
 * - an encrypted topic's key must let events.amazonaws.com use it (kms:GenerateDataKey*, kms:Decrypt), and "Adding
 *   the aws:SourceAccount, aws:SourceArn, and aws:SourceOrgID to a AWS KMS policy is not supported for
 *   EventBridge-to-encrypted topics" (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services);
 *   an AWS managed key (alias/aws/sns) serves principals of the account only, and a key policy that only enables
 *   IAM policies gives a service principal nothing;
 * - a refused delivery is lost: the message never reaches the subscribers and the rule's FailedInvocations counts it
 *   (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html).
 * The first case is a failure topic whose key and topic policies both name the rule and the account: its alerts
 * never arrive.
 */
import type { Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Runtime } from '../../local/runtime';
import { synthApp } from './apps/synth';

const ACCOUNT = '000000000000';
const topicArn = (name: string) => `arn:aws:sns:us-east-1:${ACCOUNT}:${name}`;
const ruleArn = (name: string) => `arn:aws:events:us-east-1:${ACCOUNT}:rule/${name}`;
const events_ = new iam.ServicePrincipal('events.amazonaws.com');
const fromRule = (rule: string) => ({ StringEquals: { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': ruleArn(rule) } });

function app(stack: Stack) {
  /** A topic, its own key with `keyConditions` on the events.amazonaws.com statement (none: no statement), and a rule publishing to it. */
  const case_ = (name: string, opts: { keyConditions?: Record<string, unknown> | 'none'; topicConditions?: Record<string, unknown>; masterKey?: kms.IKey }) => {
    let masterKey = opts.masterKey;
    if (!masterKey) {
      const key = new kms.Key(stack, `${name}Key`);
      if (opts.keyConditions !== 'none') {
        key.addToResourcePolicy(
          new iam.PolicyStatement({
            principals: [events_],
            actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            resources: ['*'],
            conditions: opts.keyConditions,
          }),
        );
      }
      masterKey = key;
    }
    const topic = new sns.Topic(stack, `${name}Topic`, { topicName: name, masterKey, enforceSSL: true });
    topic.addToResourcePolicy(
      new iam.PolicyStatement({ principals: [events_], actions: ['sns:Publish'], resources: [topic.topicArn], conditions: opts.topicConditions }),
    );
    topic.addSubscription(new EmailSubscription(`ops@${name}.example.com`));
    // L1: aws-events-targets' SnsTopic would add its own unconditional grants to the topic and the key.
    new events.CfnRule(stack, `${name}Rule`, { name, eventPattern: { source: [`test.${name}`] }, targets: [{ id: 'topic', arn: topic.topicArn }] });
  };
  const forThisTopic = (name: string) => ({ StringEquals: { 'kms:EncryptionContext:aws:sns:topicArn': topicArn(name) } });

  // Both policies name the rule and the account.
  case_('eb-source-conditions', { keyConditions: fromRule('eb-source-conditions'), topicConditions: fromRule('eb-source-conditions') });
  // Only the key policy depends on the source keys.
  case_('eb-key-source-arn', { keyConditions: { ArnEquals: { 'aws:SourceArn': ruleArn('eb-key-source-arn') } } });
  case_('eb-key-source-account', { keyConditions: { StringEquals: { 'aws:SourceAccount': ACCOUNT } } });
  // Only the topic policy has a Condition (the key is scoped the supported way).
  case_('eb-topic-condition', { keyConditions: forThisTopic('eb-topic-condition'), topicConditions: fromRule('eb-topic-condition') });
  // What AWS supports: an unconditional topic statement, and a key statement scoped by the encryption context and SNS.
  case_('eb-supported', {
    keyConditions: { StringEquals: { 'kms:EncryptionContext:aws:sns:topicArn': topicArn('eb-supported'), 'kms:ViaService': 'sns.us-east-1.amazonaws.com' } },
  });
  // The key's encryption-context condition names another topic.
  case_('eb-other-topic', { keyConditions: forThisTopic('eb-supported') });
  // The AWS managed key of SNS, and a key whose policy only enables IAM policies (a service principal has none).
  case_('eb-managed-key', { masterKey: kms.Alias.fromAliasName(stack, 'AwsSns', 'alias/aws/sns') });
  case_('eb-iam-only-key', { keyConditions: 'none' });
}

describe('EventBridge publishing to an SNS topic', () => {
  let rt: Runtime;
  const failures: string[] = [];

  beforeAll(async () => {
    const cdkOut = synthApp({ EventBridgeSns: app });
    rt = await Runtime.start({ cdkOut, port: 0, stateDir: mkdtempSync(join(tmpdir(), 'opsflow-eb-sns-')), seedFleet: false });
    vi.spyOn(console, 'error').mockImplementation((line: string) => void failures.push(line));
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await rt?.stop();
  });

  /** Puts one event for the rule `name`; returns what reached the topic's subscriber, the rule's metrics and the logged failure. */
  const publish = async (name: string) => {
    failures.length = 0;
    const before = rt.outbox.list().filter((e) => e.topicArn === topicArn(name)).length;
    await rt.events.put({ source: `test.${name}`, 'detail-type': 'test', detail: { hello: name } } as never);
    const delivered = rt.outbox
      .list()
      .filter((e) => e.topicArn === topicArn(name))
      .slice(before);
    const metrics = rt.events.listRules().find((r) => r.name === name)!.metrics;
    return { delivered, metrics, failures: [...failures] };
  };

  it("loses the message when the key and topic policies name the rule (aws:SourceArn, aws:SourceAccount): opsflow's failure topic before issue 17", async () => {
    const { delivered, metrics, failures } = await publish('eb-source-conditions');
    expect(delivered).toEqual([]);
    expect(metrics).toEqual({ invocations: 1, failedInvocations: 1 });
    expect(failures).toEqual([
      expect.stringMatching(
        /rule eb-source-conditions target .* failed: User: events\.amazonaws\.com is not authorized to perform: sns:Publish on resource: arn:aws:sns:us-east-1:000000000000:eb-source-conditions because no resource-based policy allows the sns:Publish action/,
      ),
    ]);
  });

  it.each([
    ['aws:SourceArn', 'eb-key-source-arn'],
    ['aws:SourceAccount', 'eb-key-source-account'],
  ])('loses the message when the key policy statement for EventBridge depends on %s: KMS refuses the data key', async (_key, name) => {
    const { delivered, metrics, failures } = await publish(name);
    expect(delivered).toEqual([]);
    expect(metrics).toEqual({ invocations: 1, failedInvocations: 1 });
    expect(failures).toEqual([
      expect.stringMatching(
        new RegExp(
          `rule ${name} target .* failed: User: events\\.amazonaws\\.com is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:\\S+ because no resource-based policy allows the kms:GenerateDataKey action`,
        ),
      ),
    ]);
  });

  it('loses the message when the topic policy statement for EventBridge has a Condition', async () => {
    const { delivered, metrics, failures } = await publish('eb-topic-condition');
    expect(delivered).toEqual([]);
    expect(metrics).toEqual({ invocations: 1, failedInvocations: 1 });
    expect(failures).toEqual([
      expect.stringMatching(
        /failed: User: events\.amazonaws\.com is not authorized to perform: sns:Publish on resource: \S+:eb-topic-condition because no resource-based policy allows/,
      ),
    ]);
  });

  it('delivers with an unconditional topic statement and a key statement scoped by kms:EncryptionContext and kms:ViaService', async () => {
    const { delivered, metrics, failures } = await publish('eb-supported');
    expect(failures).toEqual([]);
    expect(metrics).toEqual({ invocations: 1, failedInvocations: 0 });
    expect(delivered).toEqual([expect.objectContaining({ to: ['ops@eb-supported.example.com'] })]);
    // No Input on the target: the whole event is the message.
    expect(JSON.parse(delivered[0].text)).toMatchObject({ source: 'test.eb-supported', detail: { hello: 'eb-supported' } });
  });

  it.each([
    ['a key whose encryption-context condition names another topic', 'eb-other-topic'],
    ['the AWS managed key of SNS', 'eb-managed-key'],
    ['a key that only enables IAM policies', 'eb-iam-only-key'],
  ])('loses the message on %s', async (_case, name) => {
    const { delivered, metrics, failures } = await publish(name);
    expect(delivered).toEqual([]);
    expect(metrics.failedInvocations).toBe(1);
    expect(failures).toEqual([
      expect.stringMatching(
        /is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:\S+ because no resource-based policy allows the kms:GenerateDataKey action/,
      ),
    ]);
  });
});
