/**
 * The control allow-list and the Act role's IAM agree, with IAM enforced by the runtime against the fleet's tags:
 * an app whose `ec2Schedule.control.allowTags` allows `Team=web` is synthesized and deployed; an instance tagged
 * Team=web (no Schedule tag) is stopped and started, one tagged Team=data is refused by IAM (UnauthorizedOperation).
 * A chat start by a user whose name is too long for requestedBy still starts the instance, the name shortened.
 * With RDS DB instances scheduled too, the chat command finds a DB instance by its identifier (the chat function
 * reads RDS under the runtime's IAM) and stops the Team=web one through the workflow; the Team=data one is refused.
 */
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runControlLink } from '../../infra/control-link';
import { Runtime } from '../../local/runtime';
import { credentials, poll } from './harness';
import { synthWithConfig } from './synth-config';

describe('Ec2Schedule control allow-list under IAM', () => {
  let rt: Runtime;
  let sfn: SFNClient;
  let ec2: EC2Client;
  let rds: RDSClient;
  let web: string;
  let data: string;

  const state = async (id: string) => (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0].Instances![0].State!.Name!;
  const until = <T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> => poll(what, ms, probe);
  const chat = async (fields: Record<string, string>) => {
    const res = await fetch(`${rt.endpoint}/ec2/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: res.status, raw: await res.clone().text(), body: (await res.json()) as { response_type: string; text: string } };
  };

  beforeAll(async () => {
    // A fleet of two DB instances only (no EC2 instance: those are launched below), one per team.
    const db = (id: string, team: string) => ({
      id,
      engine: 'postgres',
      engineVersion: '16.4',
      instanceClass: 'db.t4g.micro',
      status: 'available',
      createdDaysAgo: 1,
      tags: { Team: team },
    });
    const fleetFile = join(mkdtempSync(join(tmpdir(), 'opsflow-control-iam-fleet-')), 'fleet.json');
    writeFileSync(
      fleetFile,
      JSON.stringify({
        instances: [],
        rds: { dbClusters: [], dbInstances: [db('web-db', 'web'), db('data-db', 'data')] },
        autoScalingGroups: [],
        ecsClusters: [],
      }),
    );
    const { dir, cdkOut } = synthWithConfig('opsflow-control-iam-', (config) => {
      config.ec2Schedule.control.allowTags = ['Schedule', 'Team=web'];
      config.ec2Schedule.kinds = ['ec2', 'rds-instance'];
      config.local.fleet = fleetFile;
    });
    rt = await Runtime.start({
      cdkOut,
      port: 0,
      stateDir: join(dir, 'state'),
      timeScale: 100,
      rules: { sesPerSecond: 14 },
      credentials: [credentials],
    });
    const client = { endpoint: rt.endpoint, region: 'us-east-1', credentials };
    sfn = new SFNClient(client);
    ec2 = new EC2Client(client);
    rds = new RDSClient(client);
    const launch = async (tags: Record<string, string>) =>
      (
        await ec2.send(
          new RunInstancesCommand({
            ImageId: 'ami-0123456789abcdef0',
            MinCount: 1,
            MaxCount: 1,
            TagSpecifications: [{ ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }],
          }),
        )
      ).Instances![0].InstanceId!;
    web = await launch({ Name: 'web-9', Team: 'web' });
    data = await launch({ Name: 'data-9', Team: 'data' });
    await until('both instances running', async () => ((await state(web)) === 'running' && (await state(data)) === 'running' ? true : undefined));
  }, 180_000);

  afterAll(async () => {
    sfn?.destroy();
    ec2?.destroy();
    rds?.destroy();
    await rt?.stop();
  });

  it('stops the Team=web instance and IAM refuses the Team=data one with UnauthorizedOperation', async () => {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: rt.deployed.stateMachines.find((s) => s.name.endsWith('-Ec2Schedule'))!.arn,
        input: JSON.stringify({ action: 'stop', instanceIds: [web, data], requestedBy: 'e2e' }),
      }),
    );
    const done = await until('the run to end', async () => {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      return d.status === 'RUNNING' ? undefined : d;
    });
    expect(done).toMatchObject({ status: 'FAILED', error: 'Ec2.PartialFailure' });
    expect(await state(web)).toBe('stopped');
    expect(await state(data)).toBe('running');
    const mail = await until('the report', async () => {
      const outbox = (await (await fetch(`${rt.endpoint}/_opsflow/outbox`)).json()) as Array<{ service: string; text: string }>;
      return outbox.find((m) => m.service === 'sns' && m.text.includes('Requested by: e2e') && m.text.includes(data));
    });
    expect(mail.text).toContain(`${data} data-9: running -> running (not permitted`);
    expect(mail.text).toContain(`${web} web-9: running -> stopped`);
  });

  it('lets the chat command start the Team=web instance, even for a user name too long for requestedBy', async () => {
    await runControlLink(['chat-secret', 'mattermost', 'iam-chat-token'], { endpoint: rt.endpoint });
    await until('web stopped', async () => ((await state(web)) === 'stopped' ? true : undefined));
    const refused = await chat({ token: 'iam-chat-token', text: `start ${data}`, user_name: 'alice' });
    expect(refused.body.text).toBe(`Instance ${data} is not one you may control here.`);

    const long = await chat({ token: 'iam-chat-token', text: `start ${web}`, user_name: 'u'.repeat(300) });
    expect(long.body.response_type).toBe('in_channel');
    // At 100x the boot may be over before the command looks again.
    expect(long.body.text).toMatch(new RegExp(`^\`u{63}…\`: start \`web-9\` \`${web}\`: stopped -> (pending|running)$`));
    expect(long.raw.length).toBeLessThan(400);
  });

  it('lets the chat command stop the Team=web RDS DB instance by its identifier, and refuses the Team=data one', async () => {
    const dbState = async (id: string) => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0].DBInstanceStatus!;
    await runControlLink(['chat-secret', 'mattermost', 'iam-chat-token'], { endpoint: rt.endpoint });
    await until('web-db available', async () => ((await dbState('web-db')) === 'available' ? true : undefined));
    const refused = await chat({ token: 'iam-chat-token', text: 'stop data-db', user_name: 'alice' });
    expect(refused.body.text).toBe('Resource `data-db` is not one you may control here.');

    const stopped = await chat({ token: 'iam-chat-token', text: 'stop web-db', user_name: 'alice' });
    expect(stopped.body.text).toMatch(/^`alice`: stop RDS DB instance `web-db`: available -> (stopping|stopped)$/);
    await until('web-db stopped', async () => ((await dbState('web-db')) === 'stopped' ? true : undefined), 120_000);
    expect(await dbState('data-db')).toBe('available');
  });
});
