import { createHmac } from 'node:crypto';
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, RDSClient, type DBInstance } from '@aws-sdk/client-rds';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { handleChat } from '../../../tasks/ec2-schedule/core/chat';
import { handleControl } from '../../../tasks/ec2-schedule/core/control';
import { linkTarget, linkUrl, parseLinkTarget, signLink } from '../../../tasks/ec2-schedule/core/links';
import type { Kind } from '../../../tasks/ec2-schedule/core/types';
import { httpRequest } from '../shared/http-request';
import { clientsOf, ec2Fleet, memoryStore, recordingLog } from './fakes';

const ARN = 'arn:aws:states:us-east-1:123456789012:execution:Ec2Schedule:run-1';
const tagList = (tags: Record<string, string>) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/** The chat and link cores over RDS (a DB instance `db-1`, and a cluster of that name when asked), no EC2 instance. */
function setup(opts: { tags?: Record<string, string>; clusterToo?: boolean; kinds?: Kind[] } = {}) {
  const { store } = memoryStore();
  const fleet = ec2Fleet(() => []);
  let state = 'stopped';
  const rds = mockClient(RDSClient);
  const db = (): DBInstance => ({
    DBInstanceIdentifier: 'db-1',
    DBInstanceStatus: state,
    Engine: 'postgres',
    TagList: tagList(opts.tags ?? { Schedule: 'office-hours' }),
  });
  rds.on(DescribeDBInstancesCommand).callsFake((input) => ({
    // Listed with no filter (ls), or found by its identifier.
    DBInstances: !input.Filters || input.Filters.some((f: { Values: string[] }) => f.Values.includes('db-1')) ? [db()] : [],
  }));
  rds.on(DescribeDBClustersCommand).resolves({
    DBClusters: opts.clusterToo ? [{ DBClusterIdentifier: 'db-1', Status: 'stopped', Engine: 'aurora-postgresql', TagList: tagList({ Schedule: 'x' }) }] : [],
  });
  const sfn = mockClient(SFNClient);
  sfn.on(StartExecutionCommand).callsFake(() => {
    state = 'starting'; // RDS takes the start: the trigger sees the move
    return { executionArn: ARN, startDate: new Date() };
  });
  sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
  const deps = {
    store,
    clients: clientsOf({ ec2: fleet.ec2, rds: new RDSClient({ region: 'us-east-1' }) }),
    kinds: opts.kinds ?? (['ec2', 'rds-instance', 'rds-cluster'] as Kind[]),
    allow: { tags: ['Schedule'], instanceIds: [] },
    trigger: {
      sfn: new SFNClient({ region: 'us-east-1' }),
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:Ec2Schedule',
      sleep: async () => {},
    },
    secrets: { get: async () => ({ mattermostToken: 'chat-token-1234567890' }) },
    nowMs: () => Date.parse('2025-06-04T09:00:00Z'),
    log: recordingLog(),
  };
  const chat = async (text: string) => {
    const form = new URLSearchParams({ token: 'chat-token-1234567890', user_name: 'alice', text });
    const res = await handleChat(httpRequest({ method: 'POST', body: form.toString() }), deps);
    return JSON.parse(res.body) as { response_type: string; text: string };
  };
  const started = () => sfn.commandCalls(StartExecutionCommand).map((c) => JSON.parse(c.args[0].input.input!));
  return { deps, store, chat, started };
}

describe('chat commands for any scheduled kind', () => {
  it('start <db id> finds the RDS DB instance and starts the workflow with it as a resource', async () => {
    const { chat, started } = setup();
    const reply = await chat('start db-1');
    expect(started()).toEqual([{ action: 'start', resources: [{ kind: 'rds-instance', id: 'db-1' }], requestedBy: 'chat:alice' }]);
    expect(reply.response_type).toBe('in_channel');
    expect(reply.text).toContain('start RDS DB instance `db-1`: stopped -> starting');
  });

  it('status <db id> shows the kind and its state', async () => {
    const { chat } = setup();
    expect((await chat('status db-1')).text).toBe('RDS DB instance `db-1`: **stopped**');
  });

  it('refuses a resource the allow-list does not allow, as if it did not exist, and starts nothing', async () => {
    const { chat, started } = setup({ tags: { Team: 'data' } });
    expect((await chat('start db-1')).text).toBe('Resource `db-1` is not one you may control here.');
    expect(started()).toEqual([]);
  });

  it('ls lists a DB instance one may control as <kind>:<id>, and leaves out one the allow-list does not allow', async () => {
    expect((await setup().chat('ls')).text.split('\n')[2]).toBe('| `db-1` | `rds-instance:db-1` | stopped | `office-hours` |');
    expect((await setup({ tags: { Team: 'data' } }).chat('ls')).text).toBe('No resource you may control.');
  });

  it('asks which kind when an id names resources of several kinds, and acts on the one named as <kind>:<id>', async () => {
    const { chat, started } = setup({ clusterToo: true });
    expect((await chat('stop db-1')).text).toBe(
      '`db-1` names a resource of each of these kinds: rds-instance, rds-cluster; name one as <kind>:<id>, for example `rds-instance:db-1`.',
    );
    expect(started()).toEqual([]);
    await chat('start rds-instance:db-1');
    expect(started()).toEqual([{ action: 'start', resources: [{ kind: 'rds-instance', id: 'db-1' }], requestedBy: 'chat:alice' }]);
  });

  it('does not look in kinds the deployment does not schedule', async () => {
    const { chat, started } = setup({ kinds: ['ec2'] });
    expect((await chat('start db-1')).text).toContain('start needs one instance id (i-...), got `db-1`');
    expect(started()).toEqual([]);
  });
});

describe('control links for any scheduled kind', () => {
  it('keeps an EC2 link as it always was: the id as the target, the same signed text, the same URL', () => {
    const claims = { target: linkTarget({ kind: 'ec2', id: 'i-0feed000000000011' }), action: 'stop' as const, linkId: 'abcDEF123_-x', expiresAt: 0 };
    const signature = createHmac('sha256', 's3cret').update('opsflow-ec2-link/v1\ni-0feed000000000011\nstop\nabcDEF123_-x\n0').digest('base64url');
    expect(signLink('s3cret', claims)).toBe(`v1.abcDEF123_-x.0.${signature}`);
    expect(linkUrl('https://api.example/', claims, 't')).toBe('https://api.example/ec2/control/i-0feed000000000011/stop?token=t');
  });

  it("writes another kind's target as <kind>:<id>, an ECS service's / as :, and reads it back", () => {
    expect(linkTarget({ kind: 'ecs-service', id: 'main/web' })).toBe('ecs-service:main:web');
    expect(parseLinkTarget('ecs-service:main:web')).toEqual({ kind: 'ecs-service', id: 'main/web' });
    expect(parseLinkTarget('rds-instance:db-1')).toEqual({ kind: 'rds-instance', id: 'db-1' });
    expect(parseLinkTarget('i-0feed000000000011')).toEqual({ kind: 'ec2', id: 'i-0feed000000000011' });
    expect(parseLinkTarget('ec2:i-0feed000000000011')).toBeUndefined();
    expect(parseLinkTarget('db-1')).toBeUndefined();
  });

  async function linkFor(s: ReturnType<typeof setup>, target: string, action: 'start' | 'stop') {
    await s.store.putLinkSecret({ secret: 's3cret', version: 1, rotatedAt: '2025-06-04T08:00:00Z' });
    const token = signLink('s3cret', { target, action, linkId: 'abcDEF123_-x', expiresAt: 0 });
    return (method: string) => handleControl(httpRequest({ method, params: { instanceId: target, action }, query: { token } }), s.deps);
  }

  it('shows and starts an RDS DB instance through the workflow, with it as a resource', async () => {
    const s = setup();
    const open = await linkFor(s, 'rds-instance:db-1', 'start');
    expect((await open('GET')).body).toBe('RDS DB instance db-1: stopped');
    const res = await open('POST');
    expect(res.body).toBe('stopped -> starting');
    expect(s.started()).toEqual([{ action: 'start', resources: [{ kind: 'rds-instance', id: 'db-1' }], requestedBy: 'control-link:abcDEF123_-x' }]);
  });

  it('refuses a link for a resource the allow-list no longer allows, or a kind not scheduled', async () => {
    const refused = setup({ tags: { Team: 'data' } });
    const res = await (await linkFor(refused, 'rds-instance:db-1', 'stop'))('POST');
    expect([res.statusCode, res.body]).toEqual([403, 'Resource db-1 is no longer delegated.']);
    const unscheduled = setup({ kinds: ['ec2'] });
    expect((await (await linkFor(unscheduled, 'rds-instance:db-1', 'stop'))('GET')).statusCode).toBe(404);
    expect([...refused.started(), ...unscheduled.started()]).toEqual([]);
  });
});
