/**
 * KMS key policies decide, as on AWS: publishing to an encrypted SNS topic uses the topic's key for the
 * publisher (kms:GenerateDataKey, kms:Decrypt; https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html),
 * and an identity policy alone grants nothing unless the key policy allows the account
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html). A small CDK app deployed as
 * `opsflow up --cdk-out` does; Lambda functions publish with their own roles, EventBridge rules as
 * events.amazonaws.com with aws:SourceArn the rule.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Runtime } from '../../local/runtime';
import { synthApp } from './apps/synth';

const ACCOUNT = '000000000000';
const topicArn = (name: string) => `arn:aws:sns:us-east-1:${ACCOUNT}:${name}`;
const ruleArn = (name: string) => `arn:aws:events:us-east-1:${ACCOUNT}:rule/${name}`;

const GRANTED_KEY = 'arn:aws:kms:us-east-1:000000000000:key/11111111-1111-1111-1111-111111111111';

function app(stack: Stack) {
  // The simulated fleet: two stopped instances with encrypted volumes (keys outside the template: default key policy).
  stack.templateOptions.metadata = { OpsflowLocal: { fleet: join(__dirname, 'apps', 'kms-fleet.json') } };
  const caller = (id: string, name: string) =>
    new lambda.Function(stack, id, { functionName: name, runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromAsset(join(__dirname, 'apps', 'caller')), timeout: Duration.seconds(20) });

  // The default key policy allows the account: IAM policies decide.
  const iamKey = new kms.Key(stack, 'IamKey');
  const iamTopic = new sns.Topic(stack, 'IamTopic', { topicName: 'kms-iam', masterKey: iamKey });
  // A key policy that names no account root: IAM policies have no effect on it.
  const closedKey = new kms.CfnKey(stack, 'ClosedKey', {
    keyPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/key-admin` }, Action: 'kms:*', Resource: '*' }] },
  });
  const closedTopic = new sns.CfnTopic(stack, 'ClosedTopic', { topicName: 'kms-closed', kmsMasterKeyId: closedKey.attrArn });
  const managedTopic = new sns.Topic(stack, 'ManagedTopic', { topicName: 'kms-managed', masterKey: kms.Alias.fromAliasName(stack, 'AwsSns', 'alias/aws/sns') });

  const withoutKms = caller('WithoutKms', 'kms-without');
  const withKms = caller('WithKms', 'kms-with');
  for (const fn of [withoutKms, withKms]) {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [iamTopic.topicArn, closedTopic.ref, managedTopic.topicArn] }));
  }
  iamKey.grantEncryptDecrypt(withKms);
  // Starting an instance with an encrypted volume: EC2 creates a grant on its key for the caller.
  withKms.addToRolePolicy(new iam.PolicyStatement({ actions: ['ec2:StartInstances', 'ec2:DescribeInstances'], resources: ['*'] }));
  withKms.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:CreateGrant'], resources: [GRANTED_KEY], conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } } }));
  withKms.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:*'], resources: [closedKey.attrArn] }));

  // EventBridge publishing: the key policy must name events.amazonaws.com; aws:SourceArn conditions hold for the rule.
  const eventsKey = new kms.Key(stack, 'EventsKey');
  eventsKey.addToResourcePolicy(new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal('events.amazonaws.com')], actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], resources: ['*'],
    conditions: { StringEquals: { 'aws:SourceAccount': ACCOUNT }, ArnLike: { 'aws:SourceArn': ruleArn('kms-rule-*') } },
  }));
  const eventsTopic = new sns.Topic(stack, 'EventsTopic', { topicName: 'kms-events', masterKey: eventsKey });
  // The topic policies allow EventBridge to publish (sns:Publish); only the key decides. Rules are L1 because the
  // SnsTopic target would also grant events.amazonaws.com the topic's key, unconditionally.
  for (const topic of [eventsTopic, managedTopic, iamTopic]) topic.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.ServicePrincipal('events.amazonaws.com')], actions: ['sns:Publish'], resources: [topic.topicArn] }));
  const rule = (id: string, name: string, source: string, topic: sns.Topic) => new events.CfnRule(stack, id, { name, eventPattern: { source: [source] }, targets: [{ id: 'topic', arn: topic.topicArn }] });
  rule('Allowed', 'kms-rule-allowed', 'kms.allowed', eventsTopic);
  rule('OtherRule', 'other-rule', 'kms.other', eventsTopic);
  // EventBridge cannot use the AWS managed key of SNS: its key policy allows principals of the account only.
  rule('Managed', 'kms-rule-managed', 'kms.managed', managedTopic);
  // Nor a key that allows IAM policies only: a service principal has none.
  rule('IamOnly', 'kms-rule-iam-only', 'kms.iam', iamTopic);
}

describe('KMS key policies are evaluated', () => {
  let rt: Runtime;
  const failures: string[] = [];

  beforeAll(async () => {
    const cdkOut = synthApp({ KmsRules: app });
    rt = await Runtime.start({ cdkOut, port: 0, stateDir: mkdtempSync(join(tmpdir(), 'opsflow-kms-')), timeScale: 100 });
    vi.spyOn(console, 'error').mockImplementation((line: string) => void failures.push(line));
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await rt?.stop();
  });

  const publish = (fn: string, topic: string) => rt.lambdas.invoke(fn, { client: 'sns', command: 'Publish', input: { TopicArn: topicArn(topic), Message: 'hello' } }) as Promise<{ ok: boolean; name?: string; message?: string; status?: number }>;
  const delivered = (topic: string) => rt.outbox.list().filter((e) => e.topicArn === topicArn(topic)).length;

  describe('a Lambda role publishing to an encrypted topic', () => {
    it('needs kms:GenerateDataKey on the key when the key policy enables IAM policies (KMSAccessDenied)', async () => {
      const denied = await publish('kms-without', 'kms-iam');
      // The wire code is KMSAccessDenied; the SDK names the exception after its model.
      expect(denied).toMatchObject({ ok: false, name: 'KMSAccessDeniedException', status: 400 });
      expect(denied.message).toMatch(new RegExp(`^User: arn:aws:sts::${ACCOUNT}:assumed-role/[^/]+/kms-without is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:us-east-1:${ACCOUNT}:key/[0-9a-f-]+ because no identity-based policy allows the kms:GenerateDataKey action`));
      expect(await publish('kms-with', 'kms-iam')).toMatchObject({ ok: true });
    });

    it('is refused on a key whose policy does not allow the account, whatever its IAM policy grants', async () => {
      const denied = await publish('kms-with', 'kms-closed');
      expect(denied).toMatchObject({ ok: false, name: 'KMSAccessDeniedException' });
      expect(denied.message).toMatch(/kms-with is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:\S+ because no resource-based policy allows the kms:GenerateDataKey action/);
    });

    it('uses the AWS managed key (alias/aws/sns) through SNS with no KMS permission of its own', async () => {
      expect(await publish('kms-without', 'kms-managed')).toMatchObject({ ok: true });
    });
  });

  describe('EC2 starting an instance whose volume is encrypted with a customer managed key', () => {
    it('needs kms:CreateGrant (kms:GrantIsForAWSResource) on the key: without it the instance stops again (Client.InternalError)', async () => {
      const ids = ['i-0face00000000a001', 'i-0face00000000b002'];
      // StartInstances itself succeeds: EC2 finds out when it attaches the volume.
      expect(await rt.lambdas.invoke('kms-with', { client: 'ec2', command: 'StartInstances', input: { InstanceIds: ids } })).toMatchObject({ ok: true });
      // Boot (30 s) and the failed launch take virtual seconds: a fraction of a real second at time scale 100.
      let states: Array<{ id: string; state: string; reason?: string }> = [];
      do {
        await new Promise((r) => setTimeout(r, 25));
        states = ids.map((id) => ({ id, state: rt.ec2.fleet.get(id)!.state, ...(rt.ec2.fleet.get(id)!.state === 'stopped' ? { reason: rt.ec2.fleet.get(id)!.stateReason?.code } : {}) }));
      } while (states.some((s) => s.state === 'pending'));
      expect(states).toEqual([
        { id: 'i-0face00000000a001', state: 'running' },
        { id: 'i-0face00000000b002', state: 'stopped', reason: 'Client.InternalError' },
      ]);
    });
  });

  describe('EventBridge publishing to an encrypted topic (events.amazonaws.com)', () => {
    const put = (source: string) => rt.events.put({ source, 'detail-type': 'test', detail: {} } as never);

    it('delivers when the key policy allows the service for this rule (aws:SourceArn, aws:SourceAccount)', async () => {
      const before = delivered('kms-events');
      await put('kms.allowed');
      expect(delivered('kms-events')).toBe(before + 1);
    });

    it.each([
      ['a rule the key policy condition does not match', 'kms.other', 'other-rule', 'kms-events'],
      ['the AWS managed key of SNS', 'kms.managed', 'kms-rule-managed', 'kms-managed'],
      ['a key that only enables IAM policies', 'kms.iam', 'kms-rule-iam-only', 'kms-iam'],
    ])('is refused for %s', async (_case, source, rule, topic) => {
      failures.length = 0;
      const before = delivered(topic);
      await put(source);
      expect(delivered(topic)).toBe(before);
      expect(failures, failures.join("\n")).toEqual([expect.stringMatching(new RegExp(`rule ${rule} target .* failed: User: events\\.amazonaws\\.com is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:\\S+ because no resource-based policy allows the kms:GenerateDataKey action`))]);
    });
  });
});
