/**
 * IAM is enforced as on AWS: a small CDK app whose roles allow a little and deny the rest, deployed like
 * `opsflow up --cdk-out` does (Runtime.start over the synthesized assembly). A "caller" Lambda makes one SDK call
 * with its own role's credentials; a state machine invokes it, so every call goes the way the app's own do.
 */
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateEmailIdentityCommand, DeleteEmailIdentityCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { Duration, type Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../local/runtime';
import { credentials } from '../e2e/harness';
import { synthApp } from './apps/synth';

const ACCOUNT = '000000000000';

function app(stack: Stack) {
  const caller = new lambda.Function(stack, 'Caller', {
    functionName: 'rules-caller',
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromAsset(join(__dirname, 'apps', 'caller')),
    timeout: Duration.seconds(20),
  });
  const table = new dynamodb.Table(stack, 'Table', { tableName: 'rules-table', partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
  const allowed = new sns.Topic(stack, 'Allowed', { topicName: 'rules-allowed' });
  new sns.Topic(stack, 'Other', { topicName: 'rules-other' });
  caller.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ec2:StopInstances'],
      resources: [`arn:aws:ec2:us-east-1:${ACCOUNT}:instance/*`],
      conditions: { Null: { 'aws:ResourceTag/Schedule': 'false' } },
    }),
  );
  caller.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [table.tableArn] }));
  caller.addToRolePolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [allowed.topicArn] }));
  caller.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ses:SendEmail'],
      resources: [`arn:aws:ses:us-east-1:${ACCOUNT}:identity/example.com`],
      conditions: { StringEquals: { 'ses:FromAddress': 'ops@example.com' } },
    }),
  );
  caller.addToRolePolicy(
    new iam.PolicyStatement({
      effect: iam.Effect.DENY,
      actions: ['dynamodb:GetItem'],
      resources: [table.tableArn],
      conditions: { StringEquals: { 'aws:PrincipalTag/never': 'x' } },
    }),
  );

  // Invokes the caller and passes its answer on.
  new sfn.StateMachine(stack, 'Invoker', {
    stateMachineName: 'rules-invoker',
    timeout: Duration.hours(2), // virtual time runs 100x faster here
    definitionBody: sfn.DefinitionBody.fromChainable(
      new tasks.LambdaInvoke(stack, 'Call', { lambdaFunction: caller, payloadResponseOnly: true, taskTimeout: sfn.Timeout.duration(Duration.seconds(30)) }),
    ),
  });
  // A role with no lambda:InvokeFunction, and an SDK integration its role does not allow.
  const bare = new iam.Role(stack, 'BareRole', { assumedBy: new iam.ServicePrincipal('states.amazonaws.com') });
  new sfn.CfnStateMachine(stack, 'NoInvoke', {
    stateMachineName: 'rules-no-invoke',
    roleArn: bare.roleArn,
    definitionString: JSON.stringify({
      StartAt: 'Call',
      States: {
        Call: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: caller.functionArn, 'Payload.$': '$' },
          TimeoutSeconds: 30,
          End: true,
        },
      },
    }),
  });
  new sfn.CfnStateMachine(stack, 'NoPut', {
    stateMachineName: 'rules-no-put',
    roleArn: bare.roleArn,
    definitionString: JSON.stringify({
      StartAt: 'Put',
      States: {
        Put: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:dynamodb:putItem',
          Parameters: { TableName: table.tableName, Item: { pk: { S: 'a' } } },
          TimeoutSeconds: 30,
          End: true,
        },
      },
    }),
  });
}

describe('IAM is enforced', () => {
  let rt: Runtime;
  let sfnClient: SFNClient;
  let ec2: EC2Client;
  let ses: SESv2Client;
  const lines: string[] = [];
  let tagged: string;
  let untagged: string;

  beforeAll(async () => {
    const cdkOut = synthApp({ IamRules: app });
    rt = await Runtime.start({
      cdkOut,
      port: 0,
      stateDir: mkdtempSync(join(tmpdir(), 'opsflow-iam-')),
      seedFleet: false,
      timeScale: 100,
      log: (l) => lines.push(l),
      credentials: [credentials],
    });
    const client = { endpoint: rt.endpoint, region: 'us-east-1', credentials };
    sfnClient = new SFNClient(client);
    ec2 = new EC2Client(client);
    ses = new SESv2Client(client);
    // The account's SES (in the sandbox, the runtime's default) has the domain verified, as the caller's policy expects.
    await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: 'example.com' }));
    const run = async (tags: Array<{ Key: string; Value: string }>) => {
      const out = await ec2.send(
        new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', MinCount: 1, MaxCount: 1, TagSpecifications: [{ ResourceType: 'instance', Tags: tags }] }),
      );
      return out.Instances![0].InstanceId!;
    };
    tagged = await run([{ Key: 'Schedule', Value: 'office' }]);
    untagged = await run([{ Key: 'Name', Value: 'no-schedule' }]);
    // Instances boot in 30 virtual seconds; at time scale 100 that is a fraction of a real second.
    for (;;) {
      const states = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [tagged, untagged] })))
        .Reservations!.flatMap((r) => r.Instances!)
        .map((i) => i.State!.Name);
      if (states.every((s) => s === 'running')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  afterAll(async () => {
    sfnClient?.destroy();
    ec2?.destroy();
    ses?.destroy();
    await rt?.stop();
  });

  async function execute(machine: string, input: unknown) {
    const { executionArn } = await sfnClient.send(
      new StartExecutionCommand({ stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:${machine}`, input: JSON.stringify(input) }),
    );
    for (;;) {
      const d = await sfnClient.send(new DescribeExecutionCommand({ executionArn }));
      if (d.status !== 'RUNNING') return d;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const call = async (client: string, command: string, input: unknown) =>
    JSON.parse((await execute('rules-invoker', { client, command, input })).output ?? 'null');
  const session = `arn:aws:sts::${ACCOUNT}:assumed-role/`;

  it('says at startup how many roles and statements it enforces', () => {
    expect(lines).toContainEqual(expect.stringMatching(/^IAM enforced: \d+ roles, \d+ policy statements \(OPSFLOW_IAM=off or --iam off relaxes it\)$/));
  });

  it('EC2: refuses a multi-instance call whole when one instance lacks the tag the condition needs (UnauthorizedOperation)', async () => {
    const denied = await call('ec2', 'StopInstances', { InstanceIds: [tagged, untagged] });
    expect(denied).toMatchObject({ ok: false, name: 'UnauthorizedOperation', status: 403 });
    expect(denied.message).toMatch(
      new RegExp(
        `^You are not authorized to perform this operation\\. User: ${session}[^/]+/rules-caller is not authorized to perform: ec2:StopInstances on resource: arn:aws:ec2:us-east-1:${ACCOUNT}:instance/${untagged} because no identity-based policy allows the ec2:StopInstances action\\. Encoded authorization failure message: `,
      ),
    );
    const states = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [tagged, untagged] })))
      .Reservations!.flatMap((r) => r.Instances!)
      .map((i) => i.State!.Name);
    expect(states.filter((s) => s === 'stopping' || s === 'stopped')).toEqual([]);
    expect(await call('ec2', 'StopInstances', { InstanceIds: [tagged] })).toMatchObject({ ok: true });
  });

  it('DynamoDB: allows GetItem, refuses PutItem (AccessDeniedException)', async () => {
    expect(await call('dynamodb', 'GetItem', { TableName: 'rules-table', Key: { pk: { S: 'a' } } })).toMatchObject({ ok: true });
    const denied = await call('dynamodb', 'PutItem', { TableName: 'rules-table', Item: { pk: { S: 'a' } } });
    expect(denied).toMatchObject({ ok: false, name: 'AccessDeniedException', status: 400 });
    expect(denied.message).toBe(
      `User: ${session}${denied.message.split('/')[1]}/rules-caller is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/rules-table because no identity-based policy allows the dynamodb:PutItem action`,
    );
  });

  it('SNS: publishes to its topic only (AuthorizationError)', async () => {
    expect(await call('sns', 'Publish', { TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:rules-allowed`, Message: 'hi' })).toMatchObject({ ok: true });
    const denied = await call('sns', 'Publish', { TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:rules-other`, Message: 'hi' });
    // The wire code is AuthorizationError; the SDK names the exception after its model.
    expect(denied).toMatchObject({ ok: false, name: 'AuthorizationErrorException', status: 403 });
    expect(denied.message).toMatch(
      /is not authorized to perform: SNS:Publish on resource: arn:aws:sns:us-east-1:000000000000:rules-other because no identity-based policy allows the SNS:Publish action$/,
    );
  });

  it('SES: the ses:FromAddress condition decides (AccessDeniedException)', async () => {
    const email = (from: string) => ({
      FromEmailAddress: from,
      Destination: { ToAddresses: ['a@example.com'] },
      Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 'b' } } } },
    });
    expect(await call('sesv2', 'SendEmail', email('ops@example.com'))).toMatchObject({ ok: true });
    expect(await call('sesv2', 'SendEmail', email('ceo@example.com'))).toMatchObject({ ok: false, name: 'AccessDeniedException', status: 403 });
  });

  describe('SES authorizes the identity that matches, not the one a policy names', () => {
    const email = (to: string) => ({
      FromEmailAddress: 'ops@example.com',
      Destination: { ToAddresses: [to] },
      Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 'b' } } } },
    });
    const deniedOn = (identity: string) => ({
      ok: false,
      name: 'AccessDeniedException',
      status: 403,
      message: expect.stringMatching(
        new RegExp(
          `is not authorized to perform: ses:SendEmail on resource: arn:aws:ses:us-east-1:${ACCOUNT}:identity/${identity.replaceAll('.', '\\.')} because no identity-based policy allows the ses:SendEmail action$`,
        ),
      ),
    });

    it('a sender address verified on its own is checked as identity/<address>: a policy on the domain no longer covers it', async () => {
      // Prepare: the account verifies the sender address as well as its domain
      await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: 'ops@example.com' }));
      try {
        // Act + Assess
        expect(await call('sesv2', 'SendEmail', email('a@example.com'))).toMatchObject(deniedOn('ops@example.com'));
      } finally {
        await ses.send(new DeleteEmailIdentityCommand({ EmailIdentity: 'ops@example.com' }));
      }
      expect(await call('sesv2', 'SendEmail', email('a@example.com'))).toMatchObject({ ok: true });
    });

    it("in the sandbox each recipient's identity is checked too: a verified recipient address, and an unverified one", async () => {
      await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: 'guest@partner.example.net' }));
      expect(await call('sesv2', 'SendEmail', email('guest@partner.example.net'))).toMatchObject(deniedOn('guest@partner.example.net'));
      expect(await call('sesv2', 'SendEmail', email('nobody@elsewhere.example.org'))).toMatchObject(deniedOn('nobody@elsewhere.example.org'));
    });
  });

  it('Step Functions: a role without lambda:InvokeFunction fails the task with Lambda.AWSLambdaException', async () => {
    const d = await execute('rules-no-invoke', {});
    expect(d).toMatchObject({ status: 'FAILED', error: 'Lambda.AWSLambdaException' });
    expect(d.cause).toMatch(
      /is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:rules-caller because no identity-based policy allows the lambda:InvokeFunction action \(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException/,
    );
  });

  // DynamoDB's model names no AccessDeniedException, so the aws-sdk integration reports the service's generic exception
  // (local/engine/sdk.ts: recorded for ValidationException in LocalStack's error_handling/test_aws_sdk.snapshot.json).
  it('Step Functions: an SDK integration signs with the state machine role (DynamoDb.DynamoDbException)', async () => {
    const d = await execute('rules-no-put', {});
    expect(d).toMatchObject({ status: 'FAILED', error: 'DynamoDb.DynamoDbException' });
    expect(d.cause).toMatch(/assumed-role\/[^/]+\/rules-no-put is not authorized to perform: dynamodb:PutItem/);
  });

  it('callers outside the app act as the account administrator', async () => {
    expect((await ec2.send(new DescribeInstancesCommand({}))).Reservations!.length).toBeGreaterThan(0);
  });
});
