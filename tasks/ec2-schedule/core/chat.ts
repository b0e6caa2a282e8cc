/**
 * Slash command endpoint, compatible with Mattermost and Slack: form-encoded POST with `text`, `user_name`;
 * answers `{response_type, text}` JSON, which both chats render. Every request is authenticated first as its
 * platform specifies (Slack's signature, Mattermost's token: tasks/shared/chat-auth.ts) with the secrets of the
 * deployment's Secrets Manager secret (`npm run control-link -- chat-secret slack|mattermost <value>` sets or
 * rotates them); only resources allowed by `ec2Schedule.control` are listed or controlled. `status`, `start` and `stop`
 * take a resource of any scheduled kind (`ec2Schedule.kinds`), by id (`start db-1`) or as `<kind>:<id>` when an id
 * names resources of several kinds (resolve.ts); `ls` lists the resources of every scheduled kind.
 *
 * With config `targets` (tasks/shared/targets.ts), `ls` lists every account and region of the organisation the
 * deployment reaches, each resource as `<id>@<account>/<region>`, and a target it cannot reach as one line with its
 * reason; `status`, `start` and `stop` take that qualified name and act there (an unqualified one is the hub's own).
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
import { allowedOne, clientsFor, nounOf, parseName, refusal, whereSuffix, type ResourceName } from './resolve';
import { describeOutcome, shorten, trigger, type TriggerDeps } from './trigger';
import { KINDS, type Ec2Action, type InstanceFacts, type Kind, type Where } from './types';
import { forEachTarget, targetReason, TargetUnreachable, type Reach, type Target } from '../../shared/targets';
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
  "  <id> is an EC2 instance id, or any scheduled resource's (db-1); <kind>:<id> (asg:web) when several kinds share it;",
  '       <id>@<account>/<region> (as ls prints it) for one in another account or region of the organisation',
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
  /** The hub's own account and region: a command's unqualified name. */
  clients: Clients;
  /** With `TARGETS` (config `targets`): the clients of the organisation's other accounts and regions. */
  reach?: Reach<Clients>;
  /** How long `ls` waits for the targets, real ms, before naming the ones that did not answer. @default 2500 */
  listMs?: number;
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
      const found = await allowedResource(deps, command.target, d);
      if (typeof found === 'string') return answer(200, 'ephemeral', found);
      const i = found.resource;
      if (!isInstance(i)) return answer(200, 'ephemeral', `${label(i, d)}: ${bold(i.state, d)}`);
      const why = i.state === 'stopped' && i.stateReason ? `\nWhy: ${explainStateReason(i.stateReason)}` : '';
      return answer(200, 'ephemeral', `${label(i, d)} ${i.instanceType}: ${bold(i.state, d)}${why}`);
    }
    case 'act': {
      const found = await allowedResource(deps, command.target, d);
      if (typeof found === 'string') return answer(200, 'ephemeral', found);
      const i = found.resource;
      const done = await trigger({ ...deps.trigger, clients: found.clients, store: deps.store }, i, command.action, `chat:${user}`);
      deps.log.info('chat command', {
        user,
        action: command.action,
        ...(i.kind === 'ec2' ? { instanceId: i.id } : { kind: i.kind, id: i.id }),
        ...(i.account && { account: i.account, region: i.region }),
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

/**
 * The resource as `name` `id` (both literal: the Name tag is anyone's text), another kind's led by its noun; one in
 * another account or region with its id as commands name it there (`i-…@<account>/<region>`).
 */
function label(r: Resource & Where, d: Dialect): string {
  const id = literal(r.id + whereSuffix(r), d);
  const named = r.name && r.name !== r.id ? `${literal(shorten(r.name, 128), d)} ${id}` : id;
  return r.kind === 'ec2' ? named : `${nounOf(r)} ${named}`;
}

/**
 * The one allowed resource a command names, with the clients of its account and region, or the reply saying why
 * not: a target the deployment does not reach is refused before any AssumeRole, one whose role cannot be assumed
 * says so (the caller is an operator of the deployment; the reason says which stack to deploy).
 */
async function allowedResource(deps: ChatDeps, target: ResourceName, d: Dialect): Promise<{ resource: Resource & Where; clients: Clients } | string> {
  const where: Where = target.account ? { account: target.account, region: target.region } : {};
  const reach = await clientsFor(deps, where);
  if (!reach.ok) return `${reach.reason}.`;
  let found: Awaited<ReturnType<typeof allowedOne>>;
  try {
    found = await allowedOne({ ...deps, clients: reach.clients }, target);
  } catch (e) {
    if (!(e instanceof TargetUnreachable) || !where.account) throw e;
    return literal(shorten(targetReason({ account: where.account, region: where.region! }, e), 300), d);
  }
  // An EC2 id is plain text (the reply it always was); any other id is literal (a group's name is anyone's text).
  if (found.ok) return { resource: { ...found.resource, ...where }, clients: reach.clients };
  return refusal(target, found.kinds, (t) => (INSTANCE_ID.test(t) ? t : literal(shorten(t, 120), d)));
}

/** EC2 lists an instance for a while after it is terminated; `ls` shows only what can still be started or stopped. */
const GONE = new Set(['terminated', 'shutting-down']);

/**
 * The resources of every scheduled kind one may control, as a command names them (`<kind>:<id>` but for EC2, then
 * `@<account>/<region>` in a spoke), in every target the deployment reaches (config `targets`), or in its own account
 * and region. Kinds and targets are listed at once (targets `LIST_TARGETS_AT_ONCE` at a time), not one after another,
 * and a target that has not answered after `listMs` is named as such: Slack wants a reply "within 3000 milliseconds"
 * (https://api.slack.com/interactivity/slash-commands, "Delayed responses and multiple responses"). A target that
 * cannot be reached is one line with its reason; the others are listed.
 */
async function list(deps: ChatDeps, d: Dialect, tag?: TagFilter): Promise<string> {
  const budget = deps.listMs ?? LIST_MS;
  const deadline = performance.now() + budget; // real time: Slack's limit, whatever the clock
  const kinds = KINDS.filter((k) => deps.kinds.includes(k));
  const listIn = async (clients: Clients, where: Where) =>
    (
      await Promise.all(
        kinds.map(async (kind) => {
          const out: Array<Resource & Where> = [];
          for await (const r of kindOf(kind).list(clients, tag)) if (!GONE.has(r.state) && isAllowed(r, deps.allow)) out.push({ ...r, ...where });
          return out;
        }),
      )
    ).flat();
  let targets: Array<Target | undefined>;
  try {
    targets = deps.reach ? await deps.reach.targets() : [undefined];
  } catch (e) {
    // The OUs of `targets` resolve through Organizations at every request; without them there is nothing to list.
    return `Could not list the organisation's accounts: ${literal(shorten(e instanceof Error ? `${e.name}: ${e.message}` : String(e), 300), d)}`;
  }
  const listed = deps.reach
    ? await forEachTarget(targets as Target[], LIST_TARGETS_AT_ONCE, (t) => inTime(deadline, budget, () => listIn(deps.reach!.for(t), t)))
    : [{ ok: true as const, value: await listIn(deps.clients, {}) }];
  const all = listed.flatMap((l) => (l.ok ? l.value : [])).sort((a, b) => a.name.localeCompare(b.name));
  const unreachable = listed.flatMap((l) => (l.ok ? [] : [`Not listed: ${literal(shorten(l.reason, 300), d)}`]));
  if (all.length === 0) {
    const none = tag ? `No resource you may control has ${literal(shorten(`${tag.key}=${tag.value}`, 100), d)}.` : 'No resource you may control.';
    return [none, ...unreachable].join('\n');
  }
  const rows = all.slice(0, LIST_LIMIT);
  const more = all.length - rows.length;
  const v = (text: string) => cell(shorten(text, 128), d);
  const ref = (r: Resource & Where) => v(`${r.kind === 'ec2' ? r.id : `${r.kind}:${r.id}`}${whereSuffix(r)}`);
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
  if (unreachable.length > 0) lines.push('', ...unreachable);
  return lines.join('\n');
}

/** Targets `ls` lists side by side: each lists its kinds at once too, so this bounds the calls in flight (8 × kinds). */
const LIST_TARGETS_AT_ONCE = 8;
/** Real ms `ls` waits for the targets: inside Slack's 3000, with room for the function's own work and the network. */
const LIST_MS = 2500;

/** `fn`'s answer, or a failure saying it did not come before `deadline` (real ms); not started at all once it is past. */
async function inTime<T>(deadline: number, budget: number, fn: () => Promise<T>): Promise<T> {
  const late = () => Object.assign(new Error(`no answer within ${budget / 1000} s; ask again`), { name: 'Timeout' });
  if (performance.now() >= deadline) throw late();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** How much of the caller's user name a reply repeats: chat servers send what they like, a reply must stay small. */
const USER_NAME_CHARS = 64;
/** Longest reply text: far below what Slack and Mattermost accept, and nothing the caller sent is repeated at length. */
export const REPLY_CHARS = 4000;

function answer(statusCode: number, responseType: 'ephemeral' | 'in_channel', reply: string): HttpResponse {
  return json(statusCode, { response_type: responseType, text: shorten(reply, REPLY_CHARS) });
}
