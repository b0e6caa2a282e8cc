import { describe, expect, it } from 'vitest';
import { isAllowed } from '../../../tasks/ec2/core/allow';
import { parseCommand } from '../../../tasks/ec2/core/chat';
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
