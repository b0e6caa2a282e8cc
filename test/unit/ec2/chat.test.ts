import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { isAllowed } from '../../../tasks/ec2/core/allow';
import { handleChat, parseCommand, REPLY_CHARS } from '../../../tasks/ec2/core/chat';
import { ec2Fleet, instance, memoryStore, recordingLog } from './fakes';
import { parseArgs } from '../../../infra/control-link';

describe('slash command parsing', () => {
  it.each([
    ['', { kind: 'help' }],
    ['help', { kind: 'help' }],
    ['ls', { kind: 'ls' }],
    ['ls Schedule=office-hours', { kind: 'ls', tag: { key: 'Schedule', value: 'office-hours' } }],
    ['ls -r us-west-2', { kind: 'ls' }],
    ['status i-0feed000000000001', { kind: 'status', instanceId: 'i-0feed000000000001' }],
    ['START i-0feed000000000001', { kind: 'act', action: 'start', instanceId: 'i-0feed000000000001' }],
    ['stop -i i-0feed000000000001', { kind: 'act', action: 'stop', instanceId: 'i-0feed000000000001' }],
    ['  stop   i-0feed000000000001  ', { kind: 'act', action: 'stop', instanceId: 'i-0feed000000000001' }],
  ])('parses %j', (text, expected) => {
    expect(parseCommand(text)).toEqual(expected);
  });

  it.each([
    ['reboot i-0feed000000000001', "unknown command 'reboot'"],
    ['start web-01', "start needs one instance id (i-...), got 'web-01'"],
    ['stop', "stop needs one instance id (i-...), got ''"],
    ['ls a b', 'ls takes one Key=Value filter'],
  ])('refuses %j', (text, problem) => {
    expect(parseCommand(text)).toEqual({ kind: 'bad', problem: expect.stringContaining(problem) });
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
  it('parses a link request, rotation, revocation and the chat token', () => {
    expect(parseArgs(['i-0feed000000000001', 'start', '--days', '7']).command).toEqual({ kind: 'link', instanceId: 'i-0feed000000000001', action: 'start', days: 7 });
    expect(parseArgs(['rotate']).command).toEqual({ kind: 'rotate' });
    expect(parseArgs(['revoke', 'abc123def']).command).toEqual({ kind: 'revoke', linkId: 'abc123def' });
    expect(parseArgs(['chat-token']).command).toEqual({ kind: 'chat-token', token: undefined });
  });

  it('refuses bad arguments with the usage', () => {
    expect(() => parseArgs(['web-01', 'start'])).toThrow('usage:');
    expect(() => parseArgs(['i-0feed000000000001', 'reboot'])).toThrow('usage:');
    expect(() => parseArgs(['i-0feed000000000001', 'start', '--aws'])).toThrow('--aws needs --table');
  });
});

describe('chat start/stop whose run fails', () => {
  const id = 'i-0feed000000000001';
  const setup = async (execution: { status: string; error?: string; cause?: string }) => {
    const { store } = memoryStore();
    await store.putChatToken('chat-token-1234567890');
    const fleet = ec2Fleet(() => [instance(id, 'stopped', { Name: 'web-01', Schedule: 'office-hours' })]);
    const sfnMock = mockClient(SFNClient);
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn:aws:states:us-east-1:123456789012:execution:Ec2Schedule:run-1', startDate: new Date() });
    sfnMock.on(DescribeExecutionCommand).resolves(execution as never);
    const deps = {
      store,
      ec2: fleet.ec2,
      allow: { tags: ['Schedule'], instanceIds: [] },
      trigger: { sfn: new SFNClient({ region: 'us-east-1' }), stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:Ec2Schedule', sleep: async () => {} },
      log: recordingLog(),
    };
    const send = async (user: string, text = `start ${id}`) => {
      const res = await handleChat(new URLSearchParams({ token: 'chat-token-1234567890', user_name: user, text }), deps);
      return { res, body: JSON.parse(res.body) as { response_type: string; text: string } };
    };
    return { send, sfnMock };
  };

  it('reports the failure by name and cause instead of "stopped -> stopped"', async () => {
    const { send } = await setup({ status: 'FAILED', error: 'Input.Invalid', cause: 'requestedBy: must be at most 200 characters' });
    const { res, body } = await send('alice');
    expect(res.statusCode).toBe(200);
    expect(body).toEqual({ response_type: 'in_channel', text: '@alice: start **web-01** `i-0feed000000000001`: failed, Input.Invalid: requestedBy: must be at most 200 characters (still stopped)' });
  });

  it('never echoes a huge user name or cause back: the reply stays small', async () => {
    const { send, sfnMock } = await setup({ status: 'FAILED', error: 'Input.Invalid', cause: `requestedBy: must be at most 200 characters; ${'x'.repeat(100_000)}` });
    const user = 'u'.repeat(200_000);
    const { res, body } = await send(user);
    // The workflow got the whole name and refused it: the chat handler does not hide what was asked.
    expect(JSON.parse(sfnMock.commandCalls(StartExecutionCommand)[0].args[0].input.input!).requestedBy).toBe(`chat:${user}`);
    expect(body.text).toMatch(/^@u{63}…: start \*\*web-01\*\* `i-0feed000000000001`: failed, Input\.Invalid: requestedBy: must be at most 200 characters; x+… \(still stopped\)$/);
    expect(res.body.length).toBeLessThan(600);
  });

  it('says a timed-out or aborted run failed too', async () => {
    const { send } = await setup({ status: 'ABORTED' });
    expect((await send('bob')).body.text).toBe('@bob: start **web-01** `i-0feed000000000001`: failed, ABORTED (still stopped)');
  });

  it('reports the transition when the run succeeds', async () => {
    const { send } = await setup({ status: 'SUCCEEDED' });
    expect((await send('carol')).body.text).toBe('@carol: start **web-01** `i-0feed000000000001`: stopped -> stopped');
  });

  it('bounds a bad command\'s echo of what was typed', async () => {
    const { body } = await (await setup({ status: 'SUCCEEDED' })).send('dave', `start ${'y'.repeat(100_000)}`);
    expect(body.text.length).toBeLessThan(REPLY_CHARS);
    expect(body.text).toContain('start needs one instance id');
  });
});
