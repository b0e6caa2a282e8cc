/**
 * S3 authorizes every request with the caller's role and the bucket policy, as on AWS: Distributed Map's
 * ItemReader and ResultWriter with the state machine's role (s3:GetObject, s3:PutObject;
 * https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html), REST calls signed by a
 * role session with S3's actions per operation
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html). A denial is S3's
 * 403 AccessDenied. A small CDK app deployed as `opsflow up --cdk-out` does.
 */
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../local/runtime';
import { credentials, signedHeaders } from '../e2e/harness';
import { synthApp } from './apps/synth';

const ACCOUNT = '000000000000';
const BUCKET = 'rules-s3-items';
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

function app(stack: Stack) {
  const bucket = new s3.CfnBucket(stack, 'Items', { bucketName: BUCKET });
  const statesRole = (name: string, statements: iam.PolicyStatement[]) => {
    const role = new iam.Role(stack, name, { roleName: name, assumedBy: new iam.ServicePrincipal('states.amazonaws.com') });
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [`arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:rules-s3-*`] }),
    );
    for (const s of statements) role.addToPolicy(s);
    return role;
  };
  const read = new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:aws:s3:::${BUCKET}/items.json`] });
  const write = new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [`arn:aws:s3:::${BUCKET}/results/*`] });
  const map = (name: string, role: iam.Role) =>
    new sfn.CfnStateMachine(stack, name, {
      stateMachineName: name,
      roleArn: role.roleArn,
      definitionString: JSON.stringify({
        StartAt: 'Map',
        States: {
          Map: {
            Type: 'Map',
            End: true,
            ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSON' }, Parameters: { Bucket: BUCKET, Key: 'items.json' } },
            ItemProcessor: {
              ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
              StartAt: 'Item',
              States: { Item: { Type: 'Pass', End: true } },
            },
            ResultWriter: { Resource: 'arn:aws:states:::s3:putObject', Parameters: { Bucket: BUCKET, Prefix: 'results' } },
          },
        },
      }),
    });
  map('rules-s3-map', statesRole('rules-s3-map-role', [read, write]));
  map('rules-s3-no-read', statesRole('rules-s3-no-read-role', [write]));
  map('rules-s3-no-write', statesRole('rules-s3-no-write-role', [read]));

  // A role with no S3 permission of its own that the bucket policy lets upload under uploads/.
  const uploader = new iam.Role(stack, 'Uploader', { roleName: 'rules-s3-uploader', assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  new s3.CfnBucketPolicy(stack, 'ItemsPolicy', {
    bucket: bucket.ref,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: uploader.roleArn }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${BUCKET}/uploads/*` }],
    },
  });
}

describe('S3 is authorized', () => {
  let rt: Runtime;
  let sfnClient: SFNClient;

  beforeAll(async () => {
    const cdkOut = synthApp({ S3Rules: app });
    rt = await Runtime.start({
      cdkOut,
      port: 0,
      stateDir: mkdtempSync(join(tmpdir(), 'opsflow-s3-')),
      seedFleet: false,
      timeScale: 100,
      credentials: [credentials],
    });
    sfnClient = new SFNClient({ endpoint: rt.endpoint, region: 'us-east-1', credentials });
    // The template's bucket exists after deploy; the item source is put as the administrator.
    rt.s3.putObject(BUCKET, 'items.json', Buffer.from(JSON.stringify([{ n: 1 }, { n: 2 }])), 'application/json');
  });
  afterAll(async () => {
    sfnClient?.destroy();
    await rt?.stop();
  });

  async function execute(machine: string) {
    const { executionArn } = await sfnClient.send(
      new StartExecutionCommand({ stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:${machine}`, input: '{}' }),
    );
    for (;;) {
      const d = await sfnClient.send(new DescribeExecutionCommand({ executionArn }));
      if (d.status !== 'RUNNING') return d;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A REST call signed with a role session's credentials, as a Lambda function of that role would sign it. */
  async function rest(role: string, method: string, path: string, body?: string) {
    const session = rt.gate.iam!.model.credentialsFor(roleArn(role), 'test');
    const headers = await signedHeaders(rt.endpoint, {
      method,
      path,
      service: 's3',
      body,
      credentials: session,
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    return fetch(`${rt.endpoint}${path}`, { method, body, headers });
  }
  const deniedXml = (role: string, action: string, resource: string, policy = 'identity-based') =>
    new RegExp(
      `^<\\?xml version="1.0" encoding="UTF-8"\\?>\\n<Error><Code>AccessDenied</Code><Message>User: arn:aws:sts::${ACCOUNT}:assumed-role/${role}/test is not authorized to perform: ${action} on resource: &quot;${resource.replace(/[.*]/g, '\\$&')}&quot; because no ${policy} policy allows the ${action} action</Message><RequestId>`,
    );

  describe('Distributed Map, with the state machine role', () => {
    it('reads its items and writes its results when the role allows s3:GetObject and s3:PutObject', async () => {
      expect(await execute('rules-s3-map')).toMatchObject({ status: 'SUCCEEDED' });
      expect(rt.s3.listObjects(BUCKET, 'results/').map((o) => o.key)).toContainEqual(expect.stringMatching(/^results\/[0-9a-f-]+\/manifest\.json$/));
    });

    it('fails with States.ItemReaderFailed when the role cannot read the item source (AccessDenied)', async () => {
      const d = await execute('rules-s3-no-read');
      expect(d).toMatchObject({ status: 'FAILED', error: 'States.ItemReaderFailed' });
      expect(d.cause).toContain(
        `S3 AccessDenied: User: arn:aws:sts::${ACCOUNT}:assumed-role/rules-s3-no-read-role/rules-s3-no-read is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::${BUCKET}/items.json" because no identity-based policy allows the s3:GetObject action`,
      );
    });

    it('fails with States.ResultWriterFailed when the role cannot write the results', async () => {
      const d = await execute('rules-s3-no-write');
      expect(d).toMatchObject({ status: 'FAILED', error: 'States.ResultWriterFailed' });
      expect(d.cause).toMatch(/S3 AccessDenied: .* is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::rules-s3-items\/results\/[^"]+"/);
    });
  });

  describe('REST calls signed by a role session', () => {
    it('GetObject with s3:GetObject on the object; PutObject without s3:PutObject is 403 AccessDenied', async () => {
      const get = await rest('rules-s3-map-role', 'GET', `/${BUCKET}/items.json`);
      expect(get.status).toBe(200);
      expect(JSON.parse(await get.text())).toEqual([{ n: 1 }, { n: 2 }]);
      const put = await rest('rules-s3-map-role', 'PUT', `/${BUCKET}/items.json`, '[]');
      expect(put.status).toBe(403);
      expect(await put.text()).toMatch(deniedXml('rules-s3-map-role', 's3:PutObject', `arn:aws:s3:::${BUCKET}/items.json`));
      expect(rt.s3.getObject(BUCKET, 'items.json').body.toString()).not.toBe('[]');
    });

    it('ListObjectsV2 needs s3:ListBucket on the bucket, not s3:GetObject on its objects', async () => {
      const list = await rest('rules-s3-map-role', 'GET', `/${BUCKET}?list-type=2&prefix=items`);
      expect(list.status).toBe(403);
      expect(await list.text()).toMatch(deniedXml('rules-s3-map-role', 's3:ListBucket', `arn:aws:s3:::${BUCKET}`));
    });

    it('the bucket policy alone lets a role of the account upload where it says, and nowhere else', async () => {
      expect((await rest('rules-s3-uploader', 'PUT', `/${BUCKET}/uploads/a.json`, '{}')).status).toBe(200);
      const elsewhere = await rest('rules-s3-uploader', 'PUT', `/${BUCKET}/other/a.json`, '{}');
      expect(elsewhere.status).toBe(403);
      expect(await elsewhere.text()).toMatch(deniedXml('rules-s3-uploader', 's3:PutObject', `arn:aws:s3:::${BUCKET}/other/a.json`));
    });
  });
});
