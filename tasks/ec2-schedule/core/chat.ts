/**
 * Slash command endpoint, compatible with Mattermost and Slack: form-encoded POST with `text`, `user_name`;
 * answers `{response_type, text}` JSON, which both chats render. Every request is authenticated first as its
 * platform specifies (Slack's signature, Mattermost's token: tasks/shared/chat-auth.ts) with the secrets of the
 * deployment's Secrets Manager secret (`npm run control-link -- chat-secret slack|mattermost <value>` sets or
 * rotates them); only resources allowed by `ec2Schedule.control` are listed or controlled. `status`, `start` and `stop`
 * take a resource of any scheduled kind (`ec2Schedule.kinds`), by id (`start db-1`) or as `<kind>:<id>` when an id
 * names resources of several kinds (resolve.ts); `ls` lists the resources of every scheduled kind.
 *
 *   ls [Key=Value]   status <id>   start <id>   stop <id>   help      (`start -i <id>` works too)
 */
import { json, text, type HttpRequest, type HttpResponse } from '../../shared/http';
import { INSTANCE_ID } from '../../shared/instance-id';
import { verifyChatRequest } from '../../shared/chat-auth';
import type { ChatSecretSource } from '../../shared/chat-secrets';
import type { Log } from '../../shared/logger';
import { isAllowed, type AllowRules } from './allow';
import { readForm } from './form';
import type { Ec2Store } from './store';
import { singleLine } from '../../shared/chat-text';
import * as mattermost from '../../shared/mattermost-text';
import * as slack from '../../shared/slack-text';
import { kindOf } from './kinds';
import type { Clients, Resource, TagFilter } from './kinds/kind';
import { allowedOne, nounOf, parseName, refusal, type ResourceName } from './resolve';
import { describeOutcome, shorten, trigger, type TriggerDeps } from './trigger';
import { KINDS, type Ec2Action, type InstanceFacts, type Kind } from './types';
import { explainStateReason } from './verify';

export type Command =
  | { kind: 'help' }
  | { kind: 'ls'; tag?: TagFilter }
  | { kind: 'status'; target: ResourceName }
  | { kind: 'act'; action: Ec2Action; target: ResourceName }
  /** `problem` is the reply's own words; `got`, what the caller typed, is echoed only as literal text. */
  | { kind: 'bad'; problem: string; got: string };

const LIST_LIMIT = 50;

/**
 * How the caller's chat reads a reply's `text`: Slack's mrkdwn, or Markdown (Mattermost and anything else). Text
 * from outside (the caller's user name, an instance's Name tag, what was typed) goes through that platform's escaper
 * (tasks/shared/slack-text.ts, mattermost-text.ts), the one notifications and approvals use too.
 */
export type Dialect = 'slack' | 'markdown';

/** Slack sends `api_app_id` with every slash command (https://api.slack.com/interactivity/slash-commands); Mattermost does not. */
export function dialectOf(form: URLSearchParams): Dialect {
  return form.has('api_app_id') ? 'slack' : 'markdown';
}

const markup = (d: Dialect) => (d === 'slack' ? slack : mattermost);
const literal = (value: string, d: Dialect) => markup(d).literal(value);
const cell = (value: string, d: Dialect) => (d === 'slack' ? slack.cell(value) : mattermost.cell(value));
const bold = (text: string, d: Dialect) => markup(d).bold(text);

export const HELP = [
  'Usage:',
  '  ls [Key=Value]   list the resources you may control (optionally with a tag)',
  '  status <id>      state of one resource, and why an instance stopped',
  '  start <id>       start a resource (the workflow verifies and reports)',
  '  stop <id>        stop a resource',
  "  <id> is an EC2 instance id, or any scheduled resource's (db-1); <kind>:<id> (asg:web) when several kinds share it",
  '  help             this text',
].join('\n');

/** `kinds`: the deployment's scheduled kinds (`ec2Schedule.kinds`), the ids a command may name. */
export function parseCommand(text: string, kinds: readonly Kind[]): Command {
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
      if (args.length > 1 || !m) return { kind: 'bad', problem: 'ls takes one Key=Value filter, got', got: args.join(' ') };
      return { kind: 'ls', tag: { key: m[1], value: m[2] } };
    }
    case 'status':
    case 'start':
    case 'stop': {
      const target = args.length === 1 ? parseName(args[0], kinds) : undefined;
      if (!target) {
        const what = kinds.length === 1 && kinds[0] === 'ec2' ? 'instance id (i-...)' : `id of a ${kinds.join(', ')} (or <kind>:<id>)`;
        return { kind: 'bad', problem: `${verb.toLowerCase()} needs one ${what}, got`, got: args.join(' ') };
      }
      return verb.toLowerCase() === 'status' ? { kind: 'status', target } : { kind: 'act', action: verb.toLowerCase() as Ec2Action, target };
    }
    default:
      return { kind: 'bad', problem: 'unknown command', got: verb };
  }
}

export interface ChatDeps {
  store: Ec2Store;
  clients: Clients;
  /** The kinds this deployment schedules (`ec2Schedule.kinds`): the ones a command may name. */
  kinds: readonly Kind[];
  allow: AllowRules;
  trigger: Omit<TriggerDeps, 'clients' | 'store'>;
  /** The deployment's chat secrets (tasks/shared/chat-secrets.ts: cached briefly, read again on a refusal). */
  secrets: ChatSecretSource;
  nowMs: () => number;
  log: Log;
}

export async function handleChat(request: HttpRequest, deps: ChatDeps): Promise<HttpResponse> {
  const form = readForm(request);
  if (!(form instanceof URLSearchParams)) return form;
  if (form.get('ssl_check') === '1') return text(200, ''); // Slack's periodic certificate check
  // The raw body as the chat server sent it: Slack signs its exact bytes (http.ts decodes base64 bodies only).
  let auth = verifyChatRequest(request, await deps.secrets.get(), deps.nowMs());
  if (!auth.ok) auth = verifyChatRequest(request, await deps.secrets.get(true), deps.nowMs()); // perhaps just rotated
  if (!auth.ok) {
    deps.log.warn('chat command refused', { platform: auth.platform, reason: auth.reason });
    return answer(401, 'ephemeral', `Unauthorized: ${auth.reason}.`);
  }
  const d = dialectOf(form);
  // Chat servers send what they like: the name is cut to a length a reply, a log line and the workflow's
  // requestedBy (at most 200 characters) all take, so a long name never fails the action.
  const user = shorten(singleLine(form.get('user_name') ?? '').trim() || 'someone', USER_NAME_CHARS);
  const command = parseCommand(form.get('text') ?? '', deps.kinds);
  switch (command.kind) {
    case 'help':
      return answer(200, 'ephemeral', `\`\`\`\n${HELP}\n\`\`\``);
    case 'bad':
      return answer(200, 'ephemeral', `${command.problem} ${literal(shorten(command.got, 100), d)}\n\`\`\`\n${HELP}\n\`\`\``);
    case 'ls':
      return answer(200, 'ephemeral', await list(deps, d, command.tag));
    case 'status': {
      const i = await allowedResource(deps, command.target, d);
      if (typeof i === 'string') return answer(200, 'ephemeral', i);
      if (!isInstance(i)) return answer(200, 'ephemeral', `${label(i, d)}: ${bold(i.state, d)}`);
      const why = i.state === 'stopped' && i.stateReason ? `\nWhy: ${explainStateReason(i.stateReason)}` : '';
      return answer(200, 'ephemeral', `${label(i, d)} ${i.instanceType}: ${bold(i.state, d)}${why}`);
    }
    case 'act': {
      const i = await allowedResource(deps, command.target, d);
      if (typeof i === 'string') return answer(200, 'ephemeral', i);
      const done = await trigger({ ...deps.trigger, clients: deps.clients, store: deps.store }, i, command.action, `chat:${user}`);
      deps.log.info('chat command', {
        user,
        action: command.action,
        ...(i.kind === 'ec2' ? { instanceId: i.id } : { kind: i.kind, id: i.id }),
        from: done.from,
        to: done.to,
        outcome: done.outcome,
        reason: done.reason,
        failure: done.failure,
      });
      return answer(200, 'in_channel', `${literal(user, d)}: ${command.action} ${label(i, d)}: ${describeOutcome(done, command.action)}`);
    }
  }
}

const isInstance = (r: Resource): r is Resource & InstanceFacts => r.kind === 'ec2';

/** The resource as `name` `id` (both literal: the Name tag is anyone's text), another kind's led by its noun. */
function label(r: Resource, d: Dialect): string {
  const named = r.name && r.name !== r.id ? `${literal(shorten(r.name, 128), d)} ${literal(r.id, d)}` : literal(r.id, d);
  return r.kind === 'ec2' ? named : `${nounOf(r)} ${named}`;
}

async function allowedResource(deps: ChatDeps, target: ResourceName, d: Dialect): Promise<Resource | string> {
  const found = await allowedOne(deps, target);
  // An EC2 id is plain text (the reply it always was); any other id is literal (a group's name is anyone's text).
  return found.ok ? found.resource : refusal(target, found.kinds, (t) => (INSTANCE_ID.test(t) ? t : literal(shorten(t, 120), d)));
}

/** EC2 lists an instance for a while after it is terminated; `ls` shows only what can still be started or stopped. */
const GONE = new Set(['terminated', 'shutting-down']);

/**
 * The resources of every scheduled kind one may control, as a command names them (`<kind>:<id>` but for EC2). The kinds
 * are listed at once, not one after another: Slack wants a reply "within 3000 milliseconds"
 * (https://api.slack.com/interactivity/slash-commands, "Delayed responses and multiple responses").
 */
async function list(deps: ChatDeps, d: Dialect, tag?: TagFilter): Promise<string> {
  const perKind = await Promise.all(
    KINDS.filter((k) => deps.kinds.includes(k)).map(async (kind) => {
      const out: Resource[] = [];
      for await (const r of kindOf(kind).list(deps.clients, tag)) if (!GONE.has(r.state) && isAllowed(r, deps.allow)) out.push(r);
      return out;
    }),
  );
  const all = perKind.flat().sort((a, b) => a.name.localeCompare(b.name));
  if (all.length === 0) return tag ? `No resource you may control has ${literal(shorten(`${tag.key}=${tag.value}`, 100), d)}.` : 'No resource you may control.';
  const rows = all.slice(0, LIST_LIMIT);
  const more = all.length - rows.length;
  const v = (text: string) => cell(shorten(text, 128), d);
  const ref = (r: Resource) => v(r.kind === 'ec2' ? r.id : `${r.kind}:${r.id}`);
  // Slack draws no tables (https://api.slack.com/reference/surfaces/formatting): one line per resource there.
  const lines =
    d === 'slack'
      ? rows.map((r) => `${v(r.name)} ${ref(r)} ${r.state} ${v(r.tags.Schedule ?? '')}`)
      : [
          '| Name | Resource | State | Schedule |',
          '|:--|:--|:--|:--|',
          ...rows.map((r) => `| ${v(r.name)} | ${ref(r)} | ${r.state} | ${v(r.tags.Schedule ?? '')} |`),
        ];
  if (more > 0) lines.push('', `... and ${more} more; narrow with ls Key=Value.`);
  return lines.join('\n');
}

/** How much of the caller's user name a reply repeats: chat servers send what they like, a reply must stay small. */
const USER_NAME_CHARS = 64;
/** Longest reply text: far below what Slack and Mattermost accept, and nothing the caller sent is repeated at length. */
export const REPLY_CHARS = 4000;

function answer(statusCode: number, responseType: 'ephemeral' | 'in_channel', reply: string): HttpResponse {
  return json(statusCode, { response_type: responseType, text: shorten(reply, REPLY_CHARS) });
}
