/**
 * KMS key policies decide, as on AWS: publishing to an encrypted SNS topic uses the topic's key for the
 * publisher (kms:GenerateDataKey, kms:Decrypt; https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html),
 * and an identity policy alone grants nothing unless the key policy allows the account
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html). A small CDK app deployed as
 * `opsflow up --cdk-out` does; Lambda functions publish with their own roles. EventBridge rules publishing to
 * encrypted topics: test/rules/eventbridge-sns.test.ts.
 */
import { Duration, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../local/runtime';
import { synthApp } from './apps/synth';

const ACCOUNT = '000000000000';
const topicArn = (name: string) => `arn:aws:sns:us-east-1:${ACCOUNT}:${name}`;

const GRANTED_KEY = 'arn:aws:kms:us-east-1:000000000000:key/11111111-1111-1111-1111-111111111111';

function app(stack: Stack) {
  // The simulated fleet: two stopped instances with encrypted volumes (keys outside the template: default key policy).
  stack.templateOptions.metadata = { OpsflowLocal: { fleet: join(__dirname, 'apps', 'kms-fleet.json') } };
  const caller = (id: string, name: string) =>
    new lambda.Function(stack, id, {
      functionName: name,
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(join(__dirname, 'apps', 'caller')),
      timeout: Duration.seconds(20),
    });

  // The default key policy allows the account: IAM policies decide.
  const iamKey = new kms.Key(stack, 'IamKey');
  const iamTopic = new sns.Topic(stack, 'IamTopic', { topicName: 'kms-iam', masterKey: iamKey });
  // A key policy that names no account root: IAM policies have no effect on it.
  const closedKey = new kms.CfnKey(stack, 'ClosedKey', {
    keyPolicy: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/key-admin` }, Action: 'kms:*', Resource: '*' }],
    },
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
  withKms.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['kms:CreateGrant'], resources: [GRANTED_KEY], conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } } }),
  );
  withKms.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:*'], resources: [closedKey.attrArn] }));
}

describe('KMS key policies are evaluated', () => {
  let rt: Runtime;

  beforeAll(async () => {
    const cdkOut = synthApp({ KmsRules: app });
    rt = await Runtime.start({ cdkOut, port: 0, stateDir: mkdtempSync(join(tmpdir(), 'opsflow-kms-')), timeScale: 100 });
  });
  afterAll(async () => {
    await rt?.stop();
  });

  const publish = (fn: string, topic: string) =>
    rt.lambdas.invoke(fn, { client: 'sns', command: 'Publish', input: { TopicArn: topicArn(topic), Message: 'hello' } }) as Promise<{
      ok: boolean;
      name?: string;
      message?: string;
      status?: number;
    }>;

  describe('a Lambda role publishing to an encrypted topic', () => {
    it('needs kms:GenerateDataKey on the key when the key policy enables IAM policies (KMSAccessDenied)', async () => {
      const denied = await publish('kms-without', 'kms-iam');
      // The wire code is KMSAccessDenied; the SDK names the exception after its model.
      expect(denied).toMatchObject({ ok: false, name: 'KMSAccessDeniedException', status: 400 });
      expect(denied.message).toMatch(
        new RegExp(
          `^User: arn:aws:sts::${ACCOUNT}:assumed-role/[^/]+/kms-without is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:us-east-1:${ACCOUNT}:key/[0-9a-f-]+ because no identity-based policy allows the kms:GenerateDataKey action`,
        ),
      );
      expect(await publish('kms-with', 'kms-iam')).toMatchObject({ ok: true });
    });

    it('is refused on a key whose policy does not allow the account, whatever its IAM policy grants', async () => {
      const denied = await publish('kms-with', 'kms-closed');
      expect(denied).toMatchObject({ ok: false, name: 'KMSAccessDeniedException' });
      expect(denied.message).toMatch(
        /kms-with is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:\S+ because no resource-based policy allows the kms:GenerateDataKey action/,
      );
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
        states = ids.map((id) => ({
          id,
          state: rt.ec2.fleet.get(id)!.state,
          ...(rt.ec2.fleet.get(id)!.state === 'stopped' ? { reason: rt.ec2.fleet.get(id)!.stateReason?.code } : {}),
        }));
      } while (states.some((s) => s.state === 'pending'));
      expect(states).toEqual([
        { id: 'i-0face00000000a001', state: 'running' },
        { id: 'i-0face00000000b002', state: 'stopped', reason: 'Client.InternalError' },
      ]);
    });
  });
});
