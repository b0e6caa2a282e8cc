import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { isAllowed } from '../../../tasks/ec2-schedule/core/allow';
import { handleChat, parseCommand, REPLY_CHARS } from '../../../tasks/ec2-schedule/core/chat';
import { clientsOf, ec2Fleet, instance, memoryStore, recordingLog } from './fakes';
import { httpRequest } from '../shared/http-request';
import { SECURITY_HEADERS } from '../../../tasks/shared/http';
import { FORM_BODY_BYTES } from '../../../tasks/ec2-schedule/core/form';
import { parseArgs } from '../../../infra/control-link';

describe('slash command parsing', () => {
  it.each([
    ['', { kind: 'help' }],
    ['help', { kind: 'help' }],
    ['ls', { kind: 'ls' }],
    ['ls Schedule=office-hours', { kind: 'ls', tag: { key: 'Schedule', value: 'office-hours' } }],
    ['ls -r us-west-2', { kind: 'ls' }],
    ['status i-0feed000000000001', { kind: 'status', target: { id: 'i-0feed000000000001' } }],
    ['START i-0feed000000000001', { kind: 'act', action: 'start', target: { id: 'i-0feed000000000001' } }],
    ['stop -i i-0feed000000000001', { kind: 'act', action: 'stop', target: { id: 'i-0feed000000000001' } }],
    ['  stop   i-0feed000000000001  ', { kind: 'act', action: 'stop', target: { id: 'i-0feed000000000001' } }],
  ])('parses %j', (text, expected) => {
    expect(parseCommand(text, ['ec2'])).toEqual(expected);
  });

  it.each([
    ['reboot i-0feed000000000001', 'unknown command', 'reboot'],
    ['start web-01', 'start needs one instance id (i-...), got', 'web-01'],
    ['stop', 'stop needs one instance id (i-...), got', ''],
    ['ls a b', 'ls takes one Key=Value filter, got', 'a b'],
  ])('refuses %j', (text, problem, got) => {
    expect(parseCommand(text, ['ec2'])).toEqual({ kind: 'bad', problem, got });
  });

  it("reads any scheduled kind's id, bare or as <kind>:<id>, and only those kinds'", () => {
    const kinds = ['ec2', 'rds-instance', 'ecs-service'] as const;
    expect(parseCommand('start db-1', kinds)).toEqual({ kind: 'act', action: 'start', target: { id: 'db-1' } });
    expect(parseCommand('stop ecs-service:main/web', kinds)).toEqual({ kind: 'act', action: 'stop', target: { kind: 'ecs-service', id: 'main/web' } });
    expect(parseCommand('status asg:web', kinds)).toEqual({
      kind: 'bad',
      problem: 'status needs one id of a ec2, rds-instance, ecs-service (or <kind>:<id>), got',
      got: 'asg:web',
    });
  });
});

describe('allowed instances', () => {
  const i = { instanceId: 'i-0feed000000000001', tags: { Schedule: 'office-hours', Team: 'web' } };

  it('allows by tag key, tag value or id', () => {
    expect(isAllowed(i, { tags: ['Schedule'], instanceIds: [] })).toBe(true);
    expect(isAllowed(i, { tags: ['Schedule=batch-window'], instanceIds: [] })).toBe(false);
    expect(isAllowed(i, { tags: ['Team=web'], instanceIds: [] })).toBe(true);
    expect(isAllowed(i, { tags: [], instanceIds: ['i-0feed000000000001'] })).toBe(true);
    expect(isAllowed(i, { tags: [], instanceIds: [] })).toBe(false);
  });
});

describe('control-link command line', () => {
  it('parses a link request, rotation, revocation and the chat secrets', () => {
    expect(parseArgs(['i-0feed000000000001', 'start', '--days', '7']).command).toEqual({
      kind: 'link',
      target: 'i-0feed000000000001',
      action: 'start',
      days: 7,
    });
    expect(parseArgs(['ecs-service:main/web', 'stop']).command).toEqual({ kind: 'link', target: 'ecs-service:main:web', action: 'stop' });
    expect(parseArgs(['i-0feed000000000001@111111111111/eu-west-1', 'stop']).command).toEqual({
      kind: 'link',
      target: 'i-0feed000000000001@111111111111:eu-west-1',
      action: 'stop',
    });
    expect(parseArgs(['rotate']).command).toEqual({ kind: 'rotate' });
    expect(parseArgs(['revoke', 'abc123def']).command).toEqual({ kind: 'revoke', linkId: 'abc123def' });
    expect(parseArgs(['chat-secret', 'slack', '8f742231b10e8888abcd99yyyzzz85a5']).command).toEqual({
      kind: 'chat-secret',
      field: 'slackSigningSecret',
      value: '8f742231b10e8888abcd99yyyzzz85a5',
    });
    expect(parseArgs(['chat-secret', 'mattermost', '-xyz']).command).toEqual({ kind: 'chat-secret', field: 'mattermostToken', value: '-xyz' });
    expect(parseArgs(['chat-secret', 'slackBotToken', 'xoxb-1']).command).toEqual({ kind: 'chat-secret', field: 'slackBotToken', value: 'xoxb-1' });
    expect(parseArgs(['chat-secret', 'teamsWebhooks.ops', 'https://x.example/hook']).command).toEqual({
      kind: 'chat-secret',
      field: 'teamsWebhooks',
      key: 'ops',
      value: 'https://x.example/hook',
    });
  });

  it('refuses bad arguments with the usage', () => {
    expect(() => parseArgs(['web-01', 'start'])).toThrow('usage:');
    expect(() => parseArgs(['i-0feed000000000001', 'reboot'])).toThrow('usage:');
    expect(() => parseArgs(['i-0feed000000000001', 'start', '--aws'])).toThrow('--aws needs --table');
    expect(() => parseArgs(['chat-token'])).toThrow('usage:');
    expect(() => parseArgs(['chat-secret', 'teams', 'x'])).toThrow("unknown field 'teams'");
    expect(() => parseArgs(['chat-secret', 'teamsWebhooks', 'x'])).toThrow("unknown field 'teamsWebhooks'");
    expect(() => parseArgs(['chat-secret', 'slackBotToken.x', 'x'])).toThrow("unknown field 'slackBotToken.x'");
    expect(() => parseArgs(['chat-secret', 'slack'])).toThrow('usage:');
    expect(() => parseArgs(['chat-secret', 'slack', 'x', '--aws'])).toThrow('--aws needs --secret <ChatSecretArn>');
  });
});

const id = 'i-0feed000000000001';
const ARN = 'arn:aws:states:us-east-1:123456789012:execution:Ec2Schedule:run-1';

/** The chat core over an in-memory run table, a one-instance fleet and a mocked Step Functions. */
async function chatSetup(
  execution: { status: string; error?: string; cause?: string },
  tags: Record<string, string> = { Name: 'web-01', Schedule: 'office-hours' },
  state: string | (() => string) = 'stopped',
) {
  const { store } = memoryStore();
  const fleet = ec2Fleet(() => [instance(id, typeof state === 'string' ? state : state(), tags)]);
  const sfnMock = mockClient(SFNClient);
  sfnMock.on(StartExecutionCommand).resolves({ executionArn: ARN, startDate: new Date() });
  sfnMock.on(DescribeExecutionCommand).resolves(execution as never);
  const deps = {
    store,
    clients: clientsOf({ ec2: fleet.ec2 }),
    kinds: ['ec2'] as const,
    allow: { tags: ['Schedule'], instanceIds: [] },
    trigger: {
      sfn: new SFNClient({ region: 'us-east-1' }),
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:Ec2Schedule',
      sleep: async () => {},
    },
    secrets: { get: async () => ({ mattermostToken: 'chat-token-1234567890' }) },
    nowMs: () => Date.now(),
    log: recordingLog(),
  };
  const raw = (body: string) => handleChat(httpRequest({ method: 'POST', body }), deps);
  const send = async (user: string, text = `start ${id}`, extra: Record<string, string> = {}) => {
    const form = new URLSearchParams({ token: 'chat-token-1234567890', user_name: user, text, ...extra });
    const res = await handleChat(httpRequest({ method: 'POST', body: form.toString() }), deps);
    return { res, body: JSON.parse(res.body) as { response_type: string; text: string } };
  };
  return { send, raw, sfnMock, store };
}

/** What Mattermost looks in for mentions: the text without its code spans (removeCodeFromMessage, mattermost-server). */
const outsideCode = (text: string) => text.replace(/`+(?:.+?|.*?\n(.*?\S.*?\n)*.*?)`+/g, ' ');

describe('chat replies (the HTTP kit)', () => {
  it("carry the kit's security headers, a reply, Slack's certificate check and a refusal alike", async () => {
    const { send, raw, sfnMock } = await chatSetup({ status: 'SUCCEEDED' });
    const replies = [(await send('alice', 'help')).res, await raw('ssl_check=1'), await raw(`text=${'x'.repeat(FORM_BODY_BYTES)}`)];
    expect(replies.map((r) => r.statusCode)).toEqual([200, 200, 413]);
    for (const reply of replies) expect(reply.headers).toMatchObject(SECURITY_HEADERS);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

describe('chat start/stop whose run fails', () => {
  it('reports the failure by name and cause instead of "stopped -> stopped"', async () => {
    const { send } = await chatSetup({ status: 'FAILED', error: 'Input.Invalid', cause: 'schedule: unknown' });
    const { res, body } = await send('alice');
    expect(res.statusCode).toBe(200);
    expect(body).toEqual({
      response_type: 'in_channel',
      text: '`alice`: start `web-01` `i-0feed000000000001`: failed, Input.Invalid: schedule: unknown (still stopped)',
    });
  });

  it('shortens a huge user name in the reply and in requestedBy, so the action never fails for it', async () => {
    const { send, sfnMock } = await chatSetup({ status: 'FAILED', error: 'States.Runtime', cause: `boom; ${'x'.repeat(100_000)}` });
    const user = 'u'.repeat(200_000);
    const { res, body } = await send(user);
    const requestedBy = JSON.parse(sfnMock.commandCalls(StartExecutionCommand)[0].args[0].input.input!).requestedBy as string;
    expect(requestedBy).toBe(`chat:${'u'.repeat(63)}…`);
    expect(requestedBy.length).toBeLessThanOrEqual(200); // the workflow's limit (tasks/ec2-schedule/core/validate.ts)
    expect(body.text).toMatch(/^`u{63}…`: start `web-01` `i-0feed000000000001`: failed, States\.Runtime: boom; x+… \(still stopped\)$/);
    expect(res.body.length).toBeLessThan(600);
  });

  it('says a timed-out or aborted run failed too', async () => {
    const { send } = await chatSetup({ status: 'ABORTED' });
    expect((await send('bob')).body.text).toBe('`bob`: start `web-01` `i-0feed000000000001`: failed, ABORTED (still stopped)');
  });

  it("bounds a bad command's echo of what was typed", async () => {
    const { body } = await (await chatSetup({ status: 'SUCCEEDED' })).send('dave', `start ${'y'.repeat(100_000)}`);
    expect(body.text.length).toBeLessThan(REPLY_CHARS);
    expect(body.text).toContain('start needs one instance id');
  });
});

describe('chat start/stop: why nothing happened', () => {
  const settle = async (store: Awaited<ReturnType<typeof chatSetup>>['store'], sk: 'entries' | 'batch', entry: Record<string, unknown>) => {
    if (sk === 'entries')
      await store.putEntries('run-1', 0, [
        { instanceId: id, name: 'web-01', from: 'stopped', to: 'stopped', outcome: 'skipped', reason: '', ...entry } as never,
      ]);
    else
      await store.putBatches('run-1', [
        {
          wave: 0,
          n: 0,
          batch: { kind: 'ec2', action: 'start', dryRun: false, group: '', entries: [{ instanceId: id, name: 'web-01', from: 'stopped', ...entry } as never] },
        },
      ]);
  };

  it('says the instance was already there, not "running -> running"', async () => {
    const { send, store } = await chatSetup({ status: 'SUCCEEDED' }, undefined, 'running');
    await settle(store, 'entries', { from: 'running', to: 'running', outcome: 'skipped', reason: 'already running' });
    expect((await send('carol')).body.text).toBe('`carol`: start `web-01` `i-0feed000000000001`: not started: already running');
  });

  it('says EC2 had no capacity and that the workflow tries again', async () => {
    const { send, store } = await chatSetup({ status: 'RUNNING' });
    await settle(store, 'batch', {
      status: 'capacity',
      reason: 'We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (us-east-1a).',
    });
    expect((await send('carol')).body.text).toBe(
      '`carol`: start `web-01` `i-0feed000000000001`: not started yet: EC2 has no capacity for this instance type now (InsufficientInstanceCapacity), ' +
        'so the start is retried after 1, 2, 4 and 8 minutes: We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (us-east-1a). (still stopped)',
    );
  });

  it('says IAM refused the call', async () => {
    const { send, store } = await chatSetup({ status: 'RUNNING' });
    await settle(store, 'batch', {
      status: 'failed',
      to: 'stopped',
      reason:
        'not permitted (only instances tagged Schedule, or allowed by ec2Schedule.control, may be started or stopped; encrypted volumes need a configured KMS key): You are not authorized to perform this operation.',
    });
    expect((await send('carol')).body.text).toMatch(
      /: not started: not permitted \(only instances tagged Schedule.*You are not authorized to perform this operation\. \(still stopped\)$/,
    );
  });

  it("says the instance fell back to stopped because of its volume's KMS key", async () => {
    const { send, store } = await chatSetup({ status: 'FAILED', error: 'Ec2.PartialFailure', cause: '0 of 1 moved' });
    await settle(store, 'batch', {
      status: 'failed',
      to: 'stopped',
      reason:
        'fell back to stopped: EC2 could not attach a volume at launch: typically an encrypted EBS volume whose KMS key EC2 cannot use (key disabled or pending deletion, or no kms:CreateGrant for the caller on that key) (Client.InternalError)',
    });
    const { body } = await send('carol');
    expect(body.text).toMatch(/: not started: fell back to stopped: .*KMS key.*\(Client\.InternalError\) \(still stopped\)$/);
    expect(body.text).not.toContain('Ec2.PartialFailure');
  });

  it('reports the transition when the instance moves', async () => {
    const states = ['stopped', 'pending']; // as the command finds it, then after the workflow's call
    const { send, store } = await chatSetup({ status: 'RUNNING' }, undefined, () => (states.length > 1 ? states.shift()! : states[0]));
    await settle(store, 'batch', { status: 'acted' });
    expect((await send('carol')).body.text).toBe('`carol`: start `web-01` `i-0feed000000000001`: stopped -> pending');
  });

  it('never says "stopped -> stopped" when the run ends with nothing recorded', async () => {
    const { send } = await chatSetup({ status: 'SUCCEEDED' });
    expect((await send('carol')).body.text).toBe(
      '`carol`: start `web-01` `i-0feed000000000001`: no change yet (stopped): the workflow is still running and reports when it is done',
    );
  });
});

describe('chat markup: echoed names are text, never mentions, links or formatting', () => {
  const evilUser = '<!channel> @here *boss* _x_ ~y~ `z` <http://e.example|hi>';
  const evilName = 'web | <!here> [a](http://evil.example) **b** `c`\n# heading';

  it('Mattermost (Markdown): in code spans, backticks replaced, table pipes escaped', async () => {
    const { send } = await chatSetup({ status: 'ABORTED' }, { Name: evilName, Schedule: 'office-hours' });
    const { body } = await send(evilUser);
    expect(body.text).toBe(
      "`<!channel> @here *boss* _x_ ~y~ 'z' <http://e.example|hi>`: start " +
        "`web | <!here> [a](http://evil.example) **b** 'c' # heading` `i-0feed000000000001`: failed, ABORTED (still stopped)",
    );
    const outside = outsideCode(body.text);
    for (const bad of ['@', '<', '>', '*', '_', '~', '[', 'http', '\n']) expect(outside).not.toContain(bad);

    const ls = (await send('alice', 'ls')).body.text;
    const row = ls.split('\n')[2];
    expect(row).toBe("| `web \\| <!here> [a](http://evil.example) **b** 'c' # heading` | `i-0feed000000000001` | stopped | `office-hours` |");
    expect(row.replace(/\\\|/g, '').split('|').slice(1, -1)).toHaveLength(4); // four cells, whatever the Name tag holds
  });

  it('Slack (mrkdwn, the payload has api_app_id): &, < and > as entities, in code spans', async () => {
    const { send } = await chatSetup({ status: 'ABORTED' }, { Name: evilName, Schedule: 'office-hours' });
    const slack = { api_app_id: 'A0123456789' };
    const { body } = await send(evilUser, `start ${id}`, slack);
    expect(body.text).toBe(
      "`&lt;!channel&gt; @here *boss* _x_ ~y~ 'z' &lt;http://e.example|hi&gt;`: start " +
        "`web | &lt;!here&gt; [a](http://evil.example) **b** 'c' # heading` `i-0feed000000000001`: failed, ABORTED (still stopped)",
    );
    expect(body.text).not.toMatch(/[<>]/);
    expect(outsideCode(body.text)).not.toMatch(/[@*_~]/);
    const ls = (await send('alice', 'ls', slack)).body.text;
    expect(ls).toBe("`web | &lt;!here&gt; [a](http://evil.example) **b** 'c' # heading` `i-0feed000000000001` stopped `office-hours`");
  });

  it('echoes a bad command and an ls filter as text too', async () => {
    const { send } = await chatSetup({ status: 'SUCCEEDED' });
    expect((await send('alice', '<!channel>')).body.text).toMatch(/^unknown command `<!channel>`\n```/);
    expect((await send('alice', 'ls Team=<!here>')).body.text).toBe('No resource you may control has `Team=<!here>`.');
    expect((await send('alice', 'ls Team=<!here>', { api_app_id: 'A1' })).body.text).toBe('No resource you may control has `Team=&lt;!here&gt;`.');
  });
});
