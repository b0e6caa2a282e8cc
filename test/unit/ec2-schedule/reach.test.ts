/**
 * Control links and the chat command for resources in the organisation's other accounts and regions (config
 * `targets`, issue 23): the link's signature covers the account and region, the cores act with the target's own
 * clients (credentials by AssumeRole of the member role), a target outside `TARGETS` is refused before any AssumeRole,
 * and `ls` lists every target with an unreachable one as one line.
 */
import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { ListAccountsForParentCommand, ListOrganizationalUnitsForParentCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { handleChat, parseCommand } from '../../../tasks/ec2-schedule/core/chat';
import { handleControl } from '../../../tasks/ec2-schedule/core/control';
import { checkLink, linkTarget, linkUrl, parseLinkTarget, signLink } from '../../../tasks/ec2-schedule/core/links';
import { validateRequest } from '../../../tasks/ec2-schedule/core/validate';
import type { Clients } from '../../../tasks/ec2-schedule/core/kinds/kind';
import { Reach, type TargetClientConfig, type TargetsEnv } from '../../../tasks/shared/targets';
import { httpRequest } from '../shared/http-request';
import { clientsOf, instance, memoryStore, recordingLog } from './fakes';

const HUB = '000000000000';
const PROD = '111111111111';
const DEV = '222222222222'; // its member role refuses the hub
const OUTSIDE = '333333333333';
const SPOKE_ID = 'i-0feed0000000000a1';
const HUB_ID = 'i-0feed0000000000b1';
const ARN = 'arn:aws:states:us-east-1:000000000000:execution:Ec2Schedule:run-1';
const NOW = Date.parse('2025-06-04T09:00:00Z');

const TARGETS: TargetsEnv = {
  hubAccount: HUB,
  partition: 'aws',
  roleName: 'opsflow-member',
  externalId: 'ext-1234',
  accounts: [PROD, DEV],
  regions: ['eu-west-1'],
};

/** DescribeInstances over `rows`, honouring the instance-id and tag filters, in one page. */
function describeOf(rows: Instance[], input: { Filters?: Array<{ Name?: string; Values?: string[] }> }) {
  for (const f of input.Filters ?? []) {
    if (f.Name === 'instance-id') rows = rows.filter((i) => f.Values!.includes(i.InstanceId!));
    else if (f.Name?.startsWith('tag:')) rows = rows.filter((i) => i.Tags?.some((t) => t.Key === f.Name!.slice(4) && f.Values!.includes(t.Value!)));
  }
  return { Reservations: rows.length ? [{ Instances: rows }] : [] };
}

/**
 * The hub's own fleet and one instance per member account and region, each answered by the EC2 client of that
 * account and region only: a spoke's client finds its account by the credentials AssumeRole gave it.
 */
function setup(opts: { settings?: TargetsEnv; spokeTags?: Record<string, string>; silent?: string; listMs?: number } = {}) {
  const { store } = memoryStore();
  const states: Record<string, string> = { [HUB_ID]: 'stopped', [SPOKE_ID]: 'stopped' };
  const fleets: Record<string, () => Instance[]> = {
    [`${HUB}/us-east-1`]: () => [instance(HUB_ID, states[HUB_ID], { Name: 'hub-web', Schedule: 'office-hours' })],
    [`${PROD}/eu-west-1`]: () => [instance(SPOKE_ID, states[SPOKE_ID], opts.spokeTags ?? { Name: 'prod-web', Schedule: 'office-hours' })],
  };
  const ec2Of = (key: () => Promise<string>) => {
    const ec2 = new EC2Client({ region: 'us-east-1' });
    mockClient(ec2)
      .on(DescribeInstancesCommand)
      .callsFake(async (input) => {
        const k = await key();
        return k === opts.silent ? new Promise(() => {}) : describeOf(fleets[k]?.() ?? [], input);
      });
    return ec2;
  };
  const made: TargetClientConfig[] = [];
  const make = (config: TargetClientConfig): Clients => {
    made.push(config);
    // The account is the one whose credentials the client signs with (the hub's own: none given).
    return clientsOf({ ec2: ec2Of(async () => `${config.credentials ? (await config.credentials()).accessKeyId.slice(4) : HUB}/${config.region}`) });
  };
  const sts = mockClient(STSClient);
  sts.on(AssumeRoleCommand).callsFake((input) => {
    const account = input.RoleArn.split(':')[4];
    if (account === DEV) throw Object.assign(new Error(`not authorized to perform sts:AssumeRole on ${input.RoleArn}`), { name: 'AccessDenied' });
    return { Credentials: { AccessKeyId: `key-${account}`, SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(NOW + 3_600_000) } };
  });
  const org = mockClient(OrganizationsClient);
  org.on(ListAccountsForParentCommand).resolves({ Accounts: [{ Id: PROD, State: 'ACTIVE' }] });
  org.on(ListOrganizationalUnitsForParentCommand).resolves({ OrganizationalUnits: [] });
  const settings = 'settings' in opts ? opts.settings : TARGETS;
  const reach = new Reach(make, settings, {
    sts: () => new STSClient({ region: 'us-east-1' }),
    organizations: () => new OrganizationsClient({ region: 'us-east-1' }),
    sessionName: 'opsflow-ec2-test',
    nowMs: () => NOW,
  });
  const sfn = mockClient(SFNClient);
  sfn.on(StartExecutionCommand).callsFake((input) => {
    const run = JSON.parse(input.input);
    for (const id of [...(run.instanceIds ?? []), ...(run.resources ?? []).map((r: { id: string }) => r.id)]) states[id] = 'pending';
    return { executionArn: ARN, startDate: new Date() };
  });
  sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
  const log = recordingLog();
  const deps = {
    store,
    clients: clientsOf({ ec2: ec2Of(async () => `${HUB}/us-east-1`) }),
    ...(settings && { reach }),
    kinds: ['ec2'] as const,
    allow: { tags: ['Schedule'], instanceIds: [] },
    trigger: {
      sfn: new SFNClient({ region: 'us-east-1' }),
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Ec2Schedule',
      sleep: async () => {},
    },
    secrets: { get: async () => ({ mattermostToken: 'chat-token-1234567890' }) },
    nowMs: () => NOW,
    listMs: opts.listMs,
    log,
  };
  const link = async (segment: string, action: 'start' | 'stop', signedFor = segment) => {
    await store.putLinkSecret({ secret: 's3cret', version: 1, rotatedAt: '2025-06-04T08:00:00Z' });
    const token = signLink('s3cret', { target: signedFor, action, linkId: 'abcDEF123_-x', expiresAt: 0 });
    return (method: string, accept = 'text/plain') =>
      handleControl(httpRequest({ method, params: { instanceId: segment, action }, query: { token }, headers: { accept } }), deps);
  };
  const chat = async (text: string) => {
    const form = new URLSearchParams({ token: 'chat-token-1234567890', user_name: 'alice', text });
    return JSON.parse((await handleChat(httpRequest({ method: 'POST', body: form.toString() }), deps)).body) as { response_type: string; text: string };
  };
  const started = () => sfn.commandCalls(StartExecutionCommand).map((c) => JSON.parse(c.args[0].input.input!));
  const assumed = () => sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input);
  return { deps, link, chat, started, assumed, made, log, org };
}

describe('control links for a resource in another account and region', () => {
  const segment = `${SPOKE_ID}@${PROD}:eu-west-1`;

  it('writes the account and region into the signed target, and reads them back; a link without them is the hub’s', () => {
    expect(linkTarget({ kind: 'ec2', id: SPOKE_ID, account: PROD, region: 'eu-west-1' })).toBe(segment);
    expect(linkTarget({ kind: 'ecs-service', id: 'main/web', account: PROD, region: 'eu-west-1' })).toBe(`ecs-service:main:web@${PROD}:eu-west-1`);
    expect(parseLinkTarget(segment)).toEqual({ kind: 'ec2', id: SPOKE_ID, account: PROD, region: 'eu-west-1' });
    expect(parseLinkTarget(`ecs-service:main:web@${PROD}:eu-west-1`)).toEqual({ kind: 'ecs-service', id: 'main/web', account: PROD, region: 'eu-west-1' });
    expect(parseLinkTarget(SPOKE_ID)).toEqual({ kind: 'ec2', id: SPOKE_ID });
    expect(parseLinkTarget(`${SPOKE_ID}@${PROD}`)).toBeUndefined();
    expect(parseLinkTarget(`${SPOKE_ID}@12345:eu-west-1`)).toBeUndefined();
    const claims = { target: segment, action: 'stop' as const, linkId: 'abcDEF123_-x', expiresAt: 0 };
    expect(linkUrl('https://api.example/', claims, 't')).toBe(`https://api.example/ec2/control/${SPOKE_ID}@${PROD}:eu-west-1/stop?token=t`);
  });

  it('refuses a token signed for one account or region when the link names another, or the hub', () => {
    const token = signLink('s3cret', { target: segment, action: 'stop', linkId: 'abcDEF123_-x', expiresAt: 0 });
    expect(checkLink('s3cret', segment, 'stop', token, NOW).ok).toBe(true);
    expect(checkLink('s3cret', `${SPOKE_ID}@${DEV}:eu-west-1`, 'stop', token, NOW)).toEqual({ ok: false, reason: 'signature' });
    expect(checkLink('s3cret', `${SPOKE_ID}@${PROD}:us-east-1`, 'stop', token, NOW)).toEqual({ ok: false, reason: 'signature' });
    expect(checkLink('s3cret', SPOKE_ID, 'stop', token, NOW)).toEqual({ ok: false, reason: 'signature' });
  });

  it('a hub link redirected to another account answers 401, assumes no role and starts nothing', async () => {
    const s = setup();
    const res = await (await s.link(`${HUB_ID}@${PROD}:eu-west-1`, 'start', HUB_ID))('POST');
    expect(res.statusCode).toBe(401);
    expect(s.assumed()).toEqual([]);
    expect(s.started()).toEqual([]);
  });

  it('shows the resource with its account and region, found with that account’s own clients', async () => {
    const s = setup();
    const open = await s.link(segment, 'start');
    expect((await open('GET')).body).toBe(`prod-web (${SPOKE_ID}) in ${PROD}/eu-west-1: stopped`);
    expect(JSON.parse((await open('GET', 'application/json')).body)).toEqual({
      instanceId: SPOKE_ID,
      account: PROD,
      region: 'eu-west-1',
      name: 'prod-web',
      state: 'stopped',
      action: 'start',
    });
    expect((await open('GET', 'text/html')).body).toContain(`<h1>prod-web (${SPOKE_ID}) in ${PROD}/eu-west-1</h1>`);
    expect(s.assumed()).toEqual([{ RoleArn: `arn:aws:iam::${PROD}:role/opsflow-member`, RoleSessionName: 'opsflow-ec2-test', ExternalId: 'ext-1234' }]);
    expect(s.made.map((c) => c.region)).toEqual(['eu-west-1']);
  });

  it('POST runs the workflow for the resource in its account and region, and answers its transition', async () => {
    const s = setup();
    const res = await (await s.link(segment, 'start'))('POST');
    expect(res.body).toBe('stopped -> pending');
    expect(s.started()).toEqual([
      { action: 'start', resources: [{ kind: 'ec2', id: SPOKE_ID, account: PROD, region: 'eu-west-1' }], requestedBy: 'control-link:abcDEF123_-x' },
    ]);
  });

  it('checks the allow-list on the spoke’s own answer', async () => {
    const s = setup({ spokeTags: { Name: 'prod-web' } });
    const res = await (await s.link(segment, 'start'))('POST');
    expect([res.statusCode, res.body]).toEqual([403, `Instance ${SPOKE_ID} is no longer delegated.`]);
    expect(s.started()).toEqual([]);
  });

  it.each([
    ['an account not in TARGETS', `${SPOKE_ID}@${OUTSIDE}:eu-west-1`, TARGETS, `${OUTSIDE}/eu-west-1`],
    ['a region not in TARGETS', `${SPOKE_ID}@${PROD}:ap-south-1`, TARGETS, `${PROD}/ap-south-1`],
    ['any account, without TARGETS', segment, undefined, `${PROD}/eu-west-1`],
  ])('refuses a validly signed link for %s with 403, before any AssumeRole', async (_, seg, settings, where) => {
    const s = setup({ settings });
    const res = await (await s.link(seg, 'start'))('POST');
    expect([res.statusCode, res.body]).toEqual([403, `This link is for ${where}, which this deployment does not reach.`]);
    expect(s.assumed()).toEqual([]);
    expect(s.made).toEqual([]);
    expect(s.started()).toEqual([]);
  });

  it('answers 502 when the member role cannot be assumed, does nothing, and logs why', async () => {
    const s = setup();
    const res = await (await s.link(`${SPOKE_ID}@${DEV}:eu-west-1`, 'stop'))('POST');
    expect([res.statusCode, res.body]).toEqual([502, `The hub cannot reach ${DEV}/eu-west-1 now; nothing was done.`]);
    expect(s.started()).toEqual([]);
    expect(s.log.lines.find(([, m]) => m === 'control link target unreachable')?.[2].reason).toContain(`arn:aws:iam::${DEV}:role/opsflow-member`);
  });

  it('reaches an account of a configured OU, resolved through Organizations, and refuses one outside it', async () => {
    const s = setup({ settings: { ...TARGETS, accounts: ['ou-abcd-12345678'] } });
    expect((await (await s.link(segment, 'start'))('GET')).statusCode).toBe(200);
    const out = await (await s.link(`${SPOKE_ID}@${OUTSIDE}:eu-west-1`, 'start'))('GET');
    expect(out.statusCode).toBe(403);
    expect(s.assumed().map((a) => a.RoleArn)).toEqual([`arn:aws:iam::${PROD}:role/opsflow-member`]);
  });

  it('keeps a link without account and region on the hub’s own clients, as before', async () => {
    const s = setup();
    const res = await (await s.link(HUB_ID, 'start'))('POST');
    expect(res.body).toBe('stopped -> pending');
    expect(s.started()).toEqual([{ action: 'start', instanceIds: [HUB_ID], requestedBy: 'control-link:abcDEF123_-x' }]);
    expect(s.assumed()).toEqual([]);
  });
});

describe('the chat command across accounts and regions', () => {
  it('reads <id>@<account>/<region>, alone or after <kind>:', () => {
    expect(parseCommand(`start ${SPOKE_ID}@${PROD}/eu-west-1`, ['ec2'])).toEqual({
      kind: 'act',
      action: 'start',
      target: { id: SPOKE_ID, account: PROD, region: 'eu-west-1' },
    });
    expect(parseCommand(`stop ecs-service:main/web@${PROD}/eu-west-1`, ['ecs-service'])).toEqual({
      kind: 'act',
      action: 'stop',
      target: { kind: 'ecs-service', id: 'main/web', account: PROD, region: 'eu-west-1' },
    });
    expect(parseCommand(`stop ${SPOKE_ID}@${PROD}`, ['ec2']).kind).toBe('bad');
  });

  it('ls lists every target, each resource named as start takes it, and an unreachable target as one line with its reason', async () => {
    const s = setup({ settings: { ...TARGETS, hubAccount: HUB, accounts: [HUB, PROD, DEV], regions: ['us-east-1', 'eu-west-1'] } });
    const lines = (await s.chat('ls')).text.split('\n');
    expect(lines.slice(0, 4)).toEqual([
      '| Name | Resource | State | Schedule |',
      '|:--|:--|:--|:--|',
      `| \`hub-web\` | \`${HUB_ID}@${HUB}/us-east-1\` | stopped | \`office-hours\` |`,
      `| \`prod-web\` | \`${SPOKE_ID}@${PROD}/eu-west-1\` | stopped | \`office-hours\` |`,
    ]);
    expect(lines.slice(4, 5)).toEqual(['']);
    expect(lines.slice(5)).toEqual([
      expect.stringMatching(new RegExp(`^Not listed: \`${DEV}/us-east-1: the hub cannot assume arn:aws:iam::${DEV}:role/opsflow-member \\(AccessDenied: `)),
      expect.stringMatching(new RegExp(`^Not listed: \`${DEV}/eu-west-1: the hub cannot assume`)),
    ]);
  });

  it('start <id>@<account>/<region> acts there with that account’s clients, and says where in the channel', async () => {
    const s = setup();
    const reply = await s.chat(`start ${SPOKE_ID}@${PROD}/eu-west-1`);
    expect(reply).toEqual({ response_type: 'in_channel', text: `\`alice\`: start \`prod-web\` \`${SPOKE_ID}@${PROD}/eu-west-1\`: stopped -> pending` });
    expect(s.started()).toEqual([
      { action: 'start', resources: [{ kind: 'ec2', id: SPOKE_ID, account: PROD, region: 'eu-west-1' }], requestedBy: 'chat:alice' },
    ]);
  });

  it('an unqualified name is the hub’s own: the spoke’s instance is not found there', async () => {
    const s = setup();
    expect((await s.chat(`start ${SPOKE_ID}`)).text).toBe(`Instance ${SPOKE_ID} is not one you may control here.`);
    expect(s.assumed()).toEqual([]);
    expect(s.started()).toEqual([]);
  });

  it('refuses a target outside TARGETS before any AssumeRole, and says why an unreachable one cannot be acted on', async () => {
    const s = setup();
    expect((await s.chat(`stop ${SPOKE_ID}@${OUTSIDE}/eu-west-1`)).text).toBe(
      `${OUTSIDE}/eu-west-1 is not reached by this deployment: account ${OUTSIDE} is not one of its targets.`,
    );
    expect(s.assumed()).toEqual([]);
    expect((await s.chat(`stop ${SPOKE_ID}@${DEV}/eu-west-1`)).text).toMatch(new RegExp(`^\`${DEV}/eu-west-1: the hub cannot assume`));
    expect(s.started()).toEqual([]);
  });

  it('names a target that does not answer within the reply’s time, and lists the others', async () => {
    // OUTSIDE's role is assumed, but its EC2 never answers. The others' mocks answer at once; 3 s of real time leaves
    // them room on a loaded machine (the budget is Slack's real-time limit, not the virtual clock's).
    const s = setup({ settings: { ...TARGETS, accounts: [PROD, OUTSIDE] }, silent: `${OUTSIDE}/eu-west-1`, listMs: 3000 });
    const lines = (await s.chat('ls')).text.split('\n');
    expect(lines[2]).toBe(`| \`prod-web\` | \`${SPOKE_ID}@${PROD}/eu-west-1\` | stopped | \`office-hours\` |`);
    expect(lines.at(-1)).toBe(`Not listed: \`${OUTSIDE}/eu-west-1: Timeout: no answer within 3 s; ask again\``);
  });
});

describe('execution input naming a resource in another account and region', () => {
  it('takes account and region together, well formed, and nothing else', () => {
    const ok = validateRequest({ action: 'stop', resources: [{ kind: 'ec2', id: SPOKE_ID, account: PROD, region: 'eu-west-1' }] }, {}, ['ec2']);
    expect(ok.resources).toEqual([{ kind: 'ec2', id: SPOKE_ID, account: PROD, region: 'eu-west-1' }]);
    expect(() => validateRequest({ action: 'stop', resources: [{ kind: 'ec2', id: SPOKE_ID, account: PROD }] }, {}, ['ec2'])).toThrow(
      'resources[0]: give both account and region, or neither',
    );
    expect(() => validateRequest({ action: 'stop', resources: [{ kind: 'ec2', id: SPOKE_ID, account: '1', region: 'eu-west-1' }] }, {}, ['ec2'])).toThrow(
      'resources[0].account: not an account id',
    );
    expect(() => validateRequest({ action: 'stop', resources: [{ kind: 'ec2', id: SPOKE_ID, account: PROD, region: 'Europe' }] }, {}, ['ec2'])).toThrow(
      'resources[0].region: not a region code',
    );
  });
});
