/**
 * A simulated organization keeps EC2 state per account and region: the partition of a request is its access key's
 * account and its credential scope's region (local/org/partitions.ts). Runs the real runtime on the fixture app
 * test/fixtures/org-app (hub 000000000000, members 111111111111 and 222222222222, regions us-east-1 and eu-west-1).
 */
import { DescribeInstancesCommand, EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { SFNClient, ListStateMachinesCommand } from '@aws-sdk/client-sfn';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../local/runtime';

const CDK_OUT = join(__dirname, '../fixtures/org-app/assembly');
const USER = { accessKeyId: 'test', secretAccessKey: 'test' };
/** A member account's administrator: its account id as access key id, the user's secret. */
const admin = (account: string) => ({ accessKeyId: account, secretAccessKey: USER.secretAccessKey });

let rt: Runtime;
const dir = mkdtempSync(join(tmpdir(), 'opsflow-org-partitions-'));
const start = () => Runtime.start({ cdkOut: CDK_OUT, stateDir: join(dir, 'state'), port: 0, credentials: [USER] });
const ec2 = (credentials: { accessKeyId: string; secretAccessKey: string }, region: string) =>
  new EC2Client({ endpoint: rt.endpoint, region, credentials, maxAttempts: 1 });
const names = async (client: EC2Client) =>
  ((await client.send(new DescribeInstancesCommand({}))).Reservations ?? [])
    .flatMap((r) => (r.Instances ?? []).map((i) => `${i.Tags?.find((t) => t.Key === 'Name')?.Value}@${i.Placement?.AvailabilityZone}/${r.OwnerId}`))
    .sort();

beforeAll(async () => {
  rt = await start();
}, 60_000);
afterAll(async () => {
  await rt?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('EC2 per account and region', () => {
  it('DescribeInstances sees only the fleet of the caller account in the signed region', async () => {
    expect(await names(ec2(admin('111111111111'), 'eu-west-1'))).toEqual(['prod-euw1-a@eu-west-1b/111111111111']);
    expect(await names(ec2(admin('111111111111'), 'us-east-1'))).toEqual(['prod-use1-a@us-east-1b/111111111111', 'prod-use1-b@us-east-1c/111111111111']);
    expect(await names(ec2(admin('222222222222'), 'eu-west-1'))).toEqual(['dev-euw1-a@eu-west-1b/222222222222']);
    expect(await names(ec2(admin('222222222222'), 'us-east-1'))).toEqual([]);
    expect(await names(ec2(USER, 'us-east-1'))).toEqual(['hub-web@us-east-1b/000000000000']);
    expect(await names(ec2(USER, 'eu-west-1'))).toEqual(['hub-eu-web@eu-west-1b/000000000000']);
  });

  it("a change in one partition is recorded in that account's trail only, and survives a restart", async () => {
    await ec2(admin('111111111111'), 'eu-west-1').send(new StopInstancesCommand({ InstanceIds: ['i-0111111111111f001'] }));
    // Another account cannot see, let alone stop, that instance.
    await expect(ec2(admin('222222222222'), 'eu-west-1').send(new StopInstancesCommand({ InstanceIds: ['i-0111111111111f001'] }))).rejects.toThrow(
      "The instance ID 'i-0111111111111f001' does not exist",
    );
    const trail = (account: string, region: string) =>
      new CloudTrailClient({ endpoint: rt.endpoint, region, credentials: account === '000000000000' ? USER : admin(account), maxAttempts: 1 }).send(
        new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'StopInstances' }] }),
      );
    const events = (await trail('111111111111', 'eu-west-1')).Events ?? [];
    expect(events).toHaveLength(1);
    const record = JSON.parse(events[0].CloudTrailEvent!);
    expect(record).toMatchObject({ awsRegion: 'eu-west-1', recipientAccountId: '111111111111', userIdentity: { type: 'Root', accountId: '111111111111' } });
    expect(events[0].Username).toBe('root');
    expect((await trail('111111111111', 'us-east-1')).Events).toEqual([]);
    expect((await trail('000000000000', 'eu-west-1')).Events).toEqual([]);

    await rt.stop();
    rt = await start();
    const after = await ec2(admin('111111111111'), 'eu-west-1').send(new DescribeInstancesCommand({ InstanceIds: ['i-0111111111111f001'] }));
    expect(after.Reservations?.[0].Instances?.[0].State?.Name).toMatch(/stopping|stopped/);
  }, 60_000);

  it('refuses a region outside the organization, an unknown account key, and a hub-only service in a member account', async () => {
    await expect(
      new SFNClient({ endpoint: rt.endpoint, region: 'ap-south-1', credentials: admin('111111111111'), maxAttempts: 1 }).send(new ListStateMachinesCommand({})),
    ).rejects.toThrow("Credential should be scoped to a valid region, not 'ap-south-1'");
    await expect(ec2(admin('444444444444'), 'us-east-1').send(new DescribeInstancesCommand({}))).rejects.toThrow(
      /AWS was not able to validate the provided access credentials/,
    );
    await expect(
      new SFNClient({ endpoint: rt.endpoint, region: 'eu-west-1', credentials: admin('111111111111'), maxAttempts: 1 }).send(new ListStateMachinesCommand({})),
    ).rejects.toThrow("opsflow local runtime simulates 'states' only in the hub account 000000000000, region us-east-1");
  });
});
