/**
 * STS AssumeRole across the simulated organization (local/org/sts.ts), through the real runtime and the real STS and
 * EC2 clients, on the fixture app test/fixtures/org-app: the member stack's roles are deployed into each member
 * account with their trust policies; the hub's roles call with the credentials the runtime gives them.
 */
import { DescribeInstancesCommand, EC2Client, StopInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient, type AssumeRoleCommandInput } from '@aws-sdk/client-sts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../local/runtime';

const CDK_OUT = join(__dirname, '../fixtures/org-app/assembly');
const USER = { accessKeyId: 'test', secretAccessKey: 'test' };
const EXTERNAL_ID = 'opsflow-local-ext';
const member = (account: string, role = 'opsflow-member') => `arn:aws:iam::${account}:role/${role}`;
type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

let rt: Runtime;
const dir = mkdtempSync(join(tmpdir(), 'opsflow-org-sts-'));
/** The credentials the runtime gives a hub role's callers (a Lambda function with that execution role). */
const hubRole = (name: string): Creds => rt.gate.iam!.model.credentialsFor(`arn:aws:iam::000000000000:role/${name}`, 'scheduler-fn');
const sts = (credentials: Creds, region = 'us-east-1') => new STSClient({ endpoint: rt.endpoint, region, credentials, maxAttempts: 1 });
const assume = (credentials: Creds, input: Partial<AssumeRoleCommandInput>) =>
  sts(credentials).send(new AssumeRoleCommand({ RoleArn: member('111111111111'), RoleSessionName: 'opsflow', ...input }));
const asCreds = (c: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string } | undefined): Creds => ({
  accessKeyId: c!.AccessKeyId!,
  secretAccessKey: c!.SecretAccessKey!,
  sessionToken: c!.SessionToken!,
});

beforeAll(async () => {
  rt = await Runtime.start({ cdkOut: CDK_OUT, stateDir: join(dir, 'state'), port: 0, credentials: [USER] });
}, 60_000);
afterAll(async () => {
  await rt?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('STS AssumeRole into a member account', () => {
  it('the hub scheduler role assumes the member role with the external id; the session acts in that account only, with that role', async () => {
    const out = await assume(hubRole('opsflow-hub-scheduler'), { ExternalId: EXTERNAL_ID });
    expect(out.AssumedRoleUser?.Arn).toBe('arn:aws:sts::111111111111:assumed-role/opsflow-member/opsflow');
    expect(out.AssumedRoleUser?.AssumedRoleId).toMatch(/^AROA[A-Z2-9]{17}:opsflow$/);
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA/);
    // One hour by default.
    expect(+out.Credentials!.Expiration! - rt.clock.nowMs()).toBeGreaterThan(3590_000);
    expect(+out.Credentials!.Expiration! - rt.clock.nowMs()).toBeLessThanOrEqual(3600_000);
    const creds = asCreds(out.Credentials);

    const who = await sts(creds, 'eu-west-1').send(new GetCallerIdentityCommand({}));
    expect(who).toMatchObject({ Account: '111111111111', Arn: 'arn:aws:sts::111111111111:assumed-role/opsflow-member/opsflow' });
    const ec2 = new EC2Client({ endpoint: rt.endpoint, region: 'eu-west-1', credentials: creds, maxAttempts: 1 });
    const ids = ((await ec2.send(new DescribeInstancesCommand({}))).Reservations ?? []).flatMap((r) => r.Instances!.map((i) => i.InstanceId));
    expect(ids).toEqual(['i-0111111111111f001']);
    // The member role's policy: StopInstances on its own account's instances, nothing more.
    await ec2.send(new StopInstancesCommand({ InstanceIds: ['i-0111111111111f001'] }));
    await expect(ec2.send(new TerminateInstancesCommand({ InstanceIds: ['i-0111111111111f001'] }))).rejects.toThrow(
      /User: arn:aws:sts::111111111111:assumed-role\/opsflow-member\/opsflow is not authorized to perform: ec2:TerminateInstances on resource: arn:aws:ec2:eu-west-1:111111111111:instance\/i-0111111111111f001/,
    );
  });

  it('refuses a wrong or missing external id (the trust condition sts:ExternalId)', async () => {
    const message =
      'User: arn:aws:sts::000000000000:assumed-role/opsflow-hub-scheduler/scheduler-fn is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/opsflow-member';
    await expect(assume(hubRole('opsflow-hub-scheduler'), { ExternalId: 'guessed-id' })).rejects.toMatchObject({
      name: 'AccessDenied',
      message,
      $metadata: { httpStatusCode: 403 },
    });
    await expect(assume(hubRole('opsflow-hub-scheduler'), {})).rejects.toMatchObject({ name: 'AccessDenied', message });
  });

  it('refuses a hub role the trust policy omits, even with an identity policy that allows sts:AssumeRole', async () => {
    await expect(assume(hubRole('opsflow-hub-bystander'), { ExternalId: EXTERNAL_ID })).rejects.toMatchObject({
      name: 'AccessDenied',
      message:
        'User: arn:aws:sts::000000000000:assumed-role/opsflow-hub-bystander/scheduler-fn is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/opsflow-member',
    });
  });

  it('across accounts needs the identity policy too: a trust policy open to the organization is not enough', async () => {
    // opsflow-operator trusts every principal of the organization; the hub's unprivileged role has no policy allowing sts:AssumeRole.
    await expect(assume(hubRole('opsflow-hub-unprivileged'), { RoleArn: member('111111111111', 'opsflow-operator') })).rejects.toMatchObject({
      name: 'AccessDenied',
    });
    // The bystander's identity policy allows it: both sides agree.
    const out = await assume(hubRole('opsflow-hub-bystander'), { RoleArn: member('111111111111', 'opsflow-operator') });
    expect(out.AssumedRoleUser?.Arn).toBe('arn:aws:sts::111111111111:assumed-role/opsflow-operator/opsflow');
  });

  it('refuses a caller outside the organization by aws:PrincipalOrgID', async () => {
    const outsider = { accessKeyId: '999999999999', secretAccessKey: USER.secretAccessKey };
    expect((await sts(outsider).send(new GetCallerIdentityCommand({}))).Arn).toBe('arn:aws:iam::999999999999:root');
    await expect(assume(outsider, { RoleArn: member('111111111111', 'opsflow-operator') })).rejects.toMatchObject({
      name: 'AccessDenied',
      message: 'User: arn:aws:iam::999999999999:root is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/opsflow-operator',
    });
    // A member account's own administrator is in the organization: the same role admits it.
    const sandbox = { accessKeyId: '333333333333', secretAccessKey: USER.secretAccessKey };
    expect((await assume(sandbox, { RoleArn: member('222222222222', 'opsflow-operator') })).AssumedRoleUser?.Arn).toBe(
      'arn:aws:sts::222222222222:assumed-role/opsflow-operator/opsflow',
    );
  });

  it('a trust policy naming its own account admits that account only, not the hub', async () => {
    await expect(assume(USER, { RoleArn: member('111111111111', 'opsflow-isolated') })).rejects.toMatchObject({ name: 'AccessDenied' });
    const own = { accessKeyId: '111111111111', secretAccessKey: USER.secretAccessKey };
    expect((await assume(own, { RoleArn: member('111111111111', 'opsflow-isolated') })).AssumedRoleUser?.Arn).toBe(
      'arn:aws:sts::111111111111:assumed-role/opsflow-isolated/opsflow',
    );
  });

  it('refuses a role that does not exist as AWS does (AccessDenied, not NoSuchEntity): the member stack is in every member account only', async () => {
    await expect(assume(USER, { RoleArn: member('111111111111', 'no-such-role') })).rejects.toMatchObject({ name: 'AccessDenied' });
    // The member stack is deployed into the member accounts, not into the hub (the management account).
    await expect(assume(USER, { RoleArn: member('000000000000', 'opsflow-operator') })).rejects.toMatchObject({ name: 'AccessDenied' });
    // The outside account is not a member: no member stack there.
    await expect(assume(USER, { RoleArn: member('999999999999', 'opsflow-operator') })).rejects.toMatchObject({ name: 'AccessDenied' });
    expect((await assume(USER, { RoleArn: member('333333333333', 'opsflow-operator') })).AssumedRoleUser?.Arn).toMatch(/^arn:aws:sts::333333333333:/);
  });

  it("holds DurationSeconds to the role's MaxSessionDuration, and role chaining to one hour", async () => {
    // opsflow-operator has the default one hour.
    await expect(assume(USER, { RoleArn: member('111111111111', 'opsflow-operator'), DurationSeconds: 3601 })).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      $metadata: { httpStatusCode: 400 },
    });
    // opsflow-member allows two hours, but the hub scheduler is a role session: chaining caps it at one.
    await expect(assume(hubRole('opsflow-hub-scheduler'), { ExternalId: EXTERNAL_ID, DurationSeconds: 7200 })).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
    });
    await expect(assume(USER, { RoleArn: member('111111111111', 'opsflow-operator'), DurationSeconds: 899 })).rejects.toMatchObject({
      name: 'ValidationError',
      message: "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200",
    });
    await expect(assume(USER, { RoleArn: member('111111111111', 'opsflow-operator'), RoleSessionName: 'a b' })).rejects.toMatchObject({
      name: 'ValidationError',
    });
  });
});
