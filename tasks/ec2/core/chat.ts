/**
 * Slash command endpoint, compatible with Mattermost and Slack (seed 001 did Mattermost only, with the token
 * in a Lambda environment variable and every instance of the account controllable):
 * form-encoded POST with `token`, `text`, `user_name`; answers `{response_type, text}` JSON, which both
 * chats render. The verification token lives in the Ec2Schedule table (`npm run control-link -- chat-token
 * <token>` sets or rotates it); only instances allowed by `ec2Schedule.control` are listed or controlled.
 *
 *   ls [Key=Value]   status <id>   start <id>   stop <id>   help      (seed style `start -i <id>` works too)
 */
import type { EC2Client, Filter } from '@aws-sdk/client-ec2';
import { timingSafeEqual } from 'node:crypto';
import type { Log } from '../../shared/logger';
import { isAllowed, type AllowRules } from './allow';
import { describe } from './instances';
import type { HttpResult } from './control';
import type { Ec2Store } from './store';
import { describeOne, shorten, trigger, type TriggerDeps } from './trigger';
import type { Ec2Action, InstanceFacts } from './types';
import { INSTANCE_ID } from './validate';
import { explainStateReason } from './verify';

export type Command =
  | { kind: 'help' }
  | { kind: 'ls'; tag?: { key: string; value: string } }
  | { kind: 'status'; instanceId: string }
  | { kind: 'act'; action: Ec2Action; instanceId: string }
  | { kind: 'bad'; problem: string };

const LIST_LIMIT = 50;

export const HELP = [
  'Usage:',
  '  ls [Key=Value]   list the instances you may control (optionally with a tag)',
  '  status <id>      state of one instance, and why it stopped',
  '  start <id>       start an instance (the workflow verifies and reports)',
  '  stop <id>        stop an instance',
  '  help             this text',
].join('\n');

export function parseCommand(text: string): Command {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const [verb = 'help', ...rest] = words;
  const args = rest.filter((w, i) => w !== '-i' && !(w === '-r' || rest[i - 1] === '-r'));
  switch (verb.toLowerCase()) {
    case 'help':
    case '-h':
    case '--help':
      return { kind: 'help' };
    case 'ls':
    case 'list': {
      if (args.length === 0) return { kind: 'ls' };
      const m = /^([^=]+)=(.*)$/.exec(args[0]);
      if (args.length > 1 || !m) return { kind: 'bad', problem: `ls takes one Key=Value filter, got '${args.join(' ')}'` };
      return { kind: 'ls', tag: { key: m[1], value: m[2] } };
    }
    case 'status':
    case 'start':
    case 'stop': {
      const id = args[0];
      if (args.length !== 1 || !INSTANCE_ID.test(id)) return { kind: 'bad', problem: `${verb.toLowerCase()} needs one instance id (i-...), got '${args.join(' ')}'` };
      return verb.toLowerCase() === 'status' ? { kind: 'status', instanceId: id } : { kind: 'act', action: verb.toLowerCase() as Ec2Action, instanceId: id };
    }
    default:
      return { kind: 'bad', problem: `unknown command '${verb}'` };
  }
}

export interface ChatDeps {
  store: Ec2Store;
  ec2: EC2Client;
  allow: AllowRules;
  trigger: Omit<TriggerDeps, 'ec2'>;
  log: Log;
}

export async function handleChat(form: URLSearchParams, deps: ChatDeps): Promise<HttpResult> {
  if (form.get('ssl_check') === '1') return { statusCode: 200, headers: {}, body: '' }; // Slack's periodic certificate check
  const expected = await deps.store.chatToken();
  const given = form.get('token') ?? '';
  if (!expected || !sameSecret(given, expected)) {
    deps.log.warn('chat command refused: bad verification token', { configured: expected !== undefined });
    return answer(401, 'ephemeral', 'Unauthorized: wrong verification token.');
  }
  const user = form.get('user_name') || 'someone';
  const command = parseCommand(form.get('text') ?? '');
  switch (command.kind) {
    case 'help':
      return answer(200, 'ephemeral', '```\n' + HELP + '\n```');
    case 'bad':
      return answer(200, 'ephemeral', `${shorten(command.problem, 300)}\n\`\`\`\n${HELP}\n\`\`\``);
    case 'ls':
      return answer(200, 'ephemeral', await list(deps, command.tag));
    case 'status': {
      const i = await allowedInstance(deps, command.instanceId);
      if (typeof i === 'string') return answer(200, 'ephemeral', i);
      const why = i.state === 'stopped' && i.stateReason ? `\nWhy: ${explainStateReason(i.stateReason)}` : '';
      return answer(200, 'ephemeral', `**${i.name || i.instanceId}** \`${i.instanceId}\` ${i.instanceType}: **${i.state}**${why}`);
    }
    case 'act': {
      const i = await allowedInstance(deps, command.instanceId);
      if (typeof i === 'string') return answer(200, 'ephemeral', i);
      const done = await trigger({ ...deps.trigger, ec2: deps.ec2 }, i, command.action, `chat:${user}`);
      const who = shorten(user, USER_NAME_CHARS);
      deps.log.info('chat command', { user: who, action: command.action, instanceId: i.instanceId, from: done.from, to: done.to, failure: done.failure });
      const what = `@${who}: ${command.action} **${shorten(i.name || i.instanceId, 128)}** \`${i.instanceId}\``;
      if (done.failure) {
        const cause = done.failure.cause ? `: ${done.failure.cause}` : '';
        return answer(200, 'in_channel', `${what}: failed, ${done.failure.error}${cause} (still ${done.to})`);
      }
      return answer(200, 'in_channel', `${what}: ${done.from} -> ${done.to}`);
    }
  }
}

async function allowedInstance(deps: ChatDeps, instanceId: string): Promise<InstanceFacts | string> {
  const i = await describeOne(deps.ec2, instanceId);
  // Not found and not allowed read the same, so the command cannot probe the account for instances.
  if (!i || !isAllowed(i, deps.allow)) return `Instance ${instanceId} is not one you may control here.`;
  return i;
}

async function list(deps: ChatDeps, tag?: { key: string; value: string }): Promise<string> {
  const filters: Filter[] = [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }];
  if (tag) filters.push({ Name: `tag:${tag.key}`, Values: [tag.value] });
  // Narrow the scan server-side when the allow rules are tag keys only.
  if (deps.allow.instanceIds.length === 0 && deps.allow.tags.every((t) => !t.includes('='))) filters.push({ Name: 'tag-key', Values: deps.allow.tags });
  const rows: InstanceFacts[] = [];
  let more = 0;
  for await (const i of describe(deps.ec2, filters)) {
    if (!isAllowed(i, deps.allow)) continue;
    if (rows.length < LIST_LIMIT) rows.push(i);
    else more++;
  }
  if (rows.length === 0) return tag ? `No instance you may control has ${tag.key}=${tag.value}.` : 'No instance you may control.';
  rows.sort((a, b) => a.name.localeCompare(b.name));
  const table = ['| Name | Instance | State | Schedule |', '|:--|:--|:--|:--|', ...rows.map((i) => `| ${i.name || '-'} | \`${i.instanceId}\` | ${i.state} | ${i.tags.Schedule ?? ''} |`)];
  if (more > 0) table.push('', `... and ${more} more; narrow with ls Key=Value.`);
  return table.join('\n');
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** How much of the caller's user name a reply repeats: chat servers send what they like, a reply must stay small. */
const USER_NAME_CHARS = 64;
/** Longest reply text: far below what Slack and Mattermost accept, and nothing the caller sent is repeated at length. */
export const REPLY_CHARS = 4000;

function answer(statusCode: number, responseType: 'ephemeral' | 'in_channel', text: string): HttpResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ response_type: responseType, text: shorten(text, REPLY_CHARS) }) };
}
