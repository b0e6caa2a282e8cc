/**
 * opsflow's one configuration: typed, documented, validated at synth. Values come from `opsflow.config.json`
 * (or the file named by `-c config=<path>`), merged over the defaults. The app's own settings are here; each
 * workflow's section (`approval`, `ec2Schedule`, ...) belongs to its registration (workflows/<name>/config.ts), and
 * this file knows them only through the registry. Every problem fails `cdk synth` with a message naming the
 * field, e.g. `opsflow config: approval.timeoutSeconds must be ...`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseChatDestination, type ChatDestination } from '../tasks/shared/chat-target';
import { isValidEmail as isEmail } from '../tasks/shared/email';
import { organizationProblems, type OrganizationSpec } from '../local/org/organization';
import { WORKFLOWS } from '../workflows';
import { asObject, emails, isDomain, str, unknownKeys } from '../workflows/shared/config';
import { type NetworkConfig, parseNetworkConfig } from '../workflows/shared/network';
import { configKey, type WorkflowRegistration } from '../workflows/shared/registration';
import { hubRoleName, isOuId, parseTargets, type TargetsConfig } from '../workflows/shared/targets';

export interface AlertsConfig {
  /** Email addresses subscribed to the failure-notification topic. @default [] */
  readonly emails: string[];
  /** Chat channels that also get every failure alert (tasks/shared/chat-target.ts): `{ slack?, mattermost?, teams?, mattermostUrl? }`. @default none */
  readonly chat?: ChatDestination;
}

export interface LocalConfig {
  /**
   * The EC2 fleet the local runtime simulates: a JSON file of instances (format: `FleetSeed` in
   * local/services/fleet.ts), relative to the app's directory. Only `npm start` reads it. @default none (an empty fleet)
   */
  readonly fleet?: string;
  /**
   * The SES identities (domains or addresses) the local runtime's simulated account has verified, as the account you
   * deploy to must have them (README "Deploy"). Its SES is in the sandbox unless told otherwise, so recipients must be
   * verified too. @default the identities the workflows send from (`approval.sesIdentity`)
   */
  readonly sesIdentities: string[];
  /** The local chat server's workspace (README "The local chat server"). */
  readonly chat: LocalChatConfig;
  /**
   * A simulated AWS Organization for the local runtime (README "A simulated organization"): member accounts (id, name,
   * OU path), regions, and a fleet file per account and region. Only `npm start` reads it. @default none (one account, one region)
   */
  readonly organization?: OrganizationSpec;
}

/** The local Slack / Mattermost / Teams workspace: `local.chat` in the config file, plus what the rest of the config names. */
export interface LocalChatConfig {
  /**
   * The Mattermost server's host (`local.chat.mattermostHost`), with the hosts of every Mattermost URL elsewhere in the
   * config (a key containing `mattermost`). @default ['mattermost.example.com']
   */
  readonly mattermostHosts: string[];
  /**
   * The channels that exist: `local.chat.channels`, every value of a config key containing `channel`, and every
   * channel a chat destination (`approval.chat`, `alerts.chat`, `*.reportChat`: keys `slack`, `mattermost`, `teams`) names.
   */
  readonly channels: string[];
  /**
   * The people: everyone a key ending in `approvers` names (named after their address), `local.chat.people`, and
   * one person who approves nothing (visitor@example.com), to see a refusal.
   */
  readonly people: Array<{ name: string; email: string }>;
}

/** The settings of the app itself, not of one workflow. */
export interface AppConfig {
  /** Prefix of every stack name; must start with `Opsflow`. @default 'Opsflow' */
  readonly stackName: string;
  readonly alerts: AlertsConfig;
  /** What the local runtime needs from the app beyond the template. @default {} */
  readonly local: LocalConfig;
  /** Where the functions' calls leave from (`staticEgress`, README "Static egress"). @default static egress off */
  readonly network: NetworkConfig;
  /**
   * The accounts and regions of an AWS Organization the workflows act in, through a member role in each account
   * (README "Accounts and regions"). @default none: the hub's own account and region only
   */
  readonly targets?: TargetsConfig;
}

type Registry = typeof WORKFLOWS;
type SectionOf<W> = W extends WorkflowRegistration<string, infer C> ? C : never;

/** Each registered workflow's section, under its config key. */
export type WorkflowSections = { readonly [W in Registry[number] as Uncapitalize<W['name']>]: SectionOf<W> };

export type OpsflowConfig = AppConfig & WorkflowSections;

const APP_KEYS = ['$schema', 'stackName', 'alerts', 'local', 'network', 'targets'];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`opsflow config: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the config file (if any) and validates it; throws ConfigError listing every problem. */
export function loadConfig(path = 'opsflow.config.json'): OpsflowConfig {
  const file = resolve(path);
  if (!existsSync(file)) {
    if (path !== 'opsflow.config.json') throw new ConfigError([`file ${path} does not exist`]);
    return parseConfig({});
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError([`${path} is not valid JSON: ${(err as Error).message}`]);
  }
  return parseConfig(raw);
}

/** Merges `raw` over the defaults and validates the result. */
export function parseConfig(raw: unknown): OpsflowConfig {
  const problems: string[] = [];
  const root = asObject(raw, '(root)', problems);
  if (root.schedules !== undefined) {
    problems.push('schedules is a setting of the Ec2Schedule workflow: move it into ec2Schedule.schedules');
    delete root.schedules;
  }
  unknownKeys(root, [...APP_KEYS, ...WORKFLOWS.map((w) => configKey(w.name))], '', problems);

  const sections: Record<string, unknown> = {};
  const sesIdentitiesUsed: string[] = [];
  for (const w of WORKFLOWS as readonly WorkflowRegistration[]) {
    const section = w.parseConfig(root[configKey(w.name)], problems);
    sections[configKey(w.name)] = section;
    sesIdentitiesUsed.push(...(w.sesIdentities?.(section) ?? []));
  }

  const stackName = str(root.stackName ?? 'Opsflow', 'stackName', problems);
  if (stackName && !/^Opsflow[A-Za-z0-9-]*$/.test(stackName)) {
    problems.push(`stackName must start with 'Opsflow' and use only letters, digits and '-', got '${stackName}'`);
  }
  const al = asObject(root.alerts ?? {}, 'alerts', problems);
  unknownKeys(al, ['emails', 'chat'], 'alerts', problems);
  const alertEmails = emails(al.emails ?? [], 'alerts.emails', problems);
  const alertChat = al.chat === undefined ? undefined : parseChatDestination(al.chat, 'alerts.chat', problems);
  const lo = asObject(root.local ?? {}, 'local', problems);
  unknownKeys(lo, ['fleet', 'sesIdentities', 'chat', 'organization'], 'local', problems);
  const chat = localChat(root, asObject(lo.chat ?? {}, 'local.chat', problems), problems);
  const fleet = lo.fleet === undefined ? undefined : str(lo.fleet, 'local.fleet', problems);
  if (fleet && !existsSync(resolve(fleet))) problems.push(`local.fleet: file ${fleet} does not exist`);
  const organization = lo.organization === undefined ? undefined : (lo.organization as OrganizationSpec);
  if (organization !== undefined) {
    const orgProblems = organizationProblems(organization, 'local.organization');
    problems.push(...orgProblems);
    if (!orgProblems.length)
      [...organization.accounts, ...(organization.outside ?? [])].forEach((a) => {
        for (const [region, file] of Object.entries(a.fleets ?? {}))
          if (!existsSync(resolve(file))) problems.push(`local.organization: account ${a.id}'s fleet in ${region}, file ${file}, does not exist`);
      });
  }
  const sesIdentities =
    lo.sesIdentities === undefined ? [...new Set(sesIdentitiesUsed.filter(Boolean))] : identities(lo.sesIdentities, 'local.sesIdentities', problems);

  const network = parseNetworkConfig(root.network, problems);
  const targets = parseTargets(root.targets, problems);
  if (targets?.deploy === 'stackset' && ![targets.accounts, ...overridesOf(sections)].some((list) => list.some(isOuId)))
    problems.push('targets.deploy: a service-managed StackSet deploys to OUs: name at least one OU (ou-…) in targets.accounts, or deploy "stacks"');
  for (const w of WORKFLOWS as readonly WorkflowRegistration[]) {
    const section = sections[configKey(w.name)];
    if (!targets)
      for (const { field } of w.targetOverrides?.(section) ?? [])
        problems.push(`${field}: needs the top-level targets (organizationId, externalId, accounts, regions), which set up the member role it uses`);
    // The acting roles' names (IAM: at most 64 characters, https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html).
    const longest = targets && stackName && (w.actingTasks ?? []).map((t) => hubRoleName(stackName, w.name, t)).find((n) => n.length > 64);
    if (longest) problems.push(`stackName: with targets, the hub role ${longest} must be at most 64 characters; shorten stackName`);
  }

  if (problems.length) throw new ConfigError(problems);
  return {
    network,
    ...(targets && { targets }),
    stackName,
    alerts: { emails: alertEmails, ...(alertChat && { chat: alertChat }) },
    local: { ...(fleet ? { fleet } : {}), sesIdentities, chat, ...(organization && { organization }) },
    ...(sections as WorkflowSections),
  };
}

/** The accounts of every workflow's own `targets`. */
function overridesOf(sections: Record<string, unknown>): string[][] {
  return (WORKFLOWS as readonly WorkflowRegistration[]).flatMap((w) =>
    (w.targetOverrides?.(sections[configKey(w.name)]) ?? []).map((o) => o.override.accounts ?? []),
  );
}

const NON_APPROVER = { name: 'Visitor', email: 'visitor@example.com' };

function localChat(root: Record<string, unknown>, chat: Record<string, unknown>, problems: string[]): LocalChatConfig {
  unknownKeys(chat, ['mattermostHost', 'channels', 'people'], 'local.chat', problems);
  const host = chat.mattermostHost === undefined ? 'mattermost.example.com' : str(chat.mattermostHost, 'local.chat.mattermostHost', problems);
  if (host && !/^[a-z0-9.-]+$/i.test(host)) problems.push(`local.chat.mattermostHost must be a host name (no scheme, port or path), got '${host}'`);
  const channels =
    chat.channels === undefined
      ? []
      : Array.isArray(chat.channels) && chat.channels.every((c) => typeof c === 'string' && c)
        ? (chat.channels as string[])
        : [];
  if (chat.channels !== undefined && !channels.length) problems.push('local.chat.channels must be a list of channel names');
  const people: Array<{ name: string; email: string }> = [];
  for (const [i, p] of (Array.isArray(chat.people) ? chat.people : chat.people === undefined ? [] : [null]).entries()) {
    const o = p as { name?: unknown; email?: unknown } | null;
    if (!o || typeof o.name !== 'string' || typeof o.email !== 'string' || !isEmail(o.email))
      problems.push(`local.chat.people[${i}] must be {"name": text, "email": address}`);
    else people.push({ name: o.name, email: o.email });
  }
  // What the rest of the config names: Mattermost URLs, channels, approvers.
  const hosts = new Set(host ? [host.toLowerCase()] : []);
  const named = new Set(channels);
  const approvers = new Set<string>();
  const walk = (v: unknown, key: string): void => {
    if (Array.isArray(v)) return v.forEach((x) => walk(x, key));
    if (v && typeof v === 'object') return Object.entries(v).forEach(([k, x]) => k !== 'local' && walk(x, k));
    if (typeof v !== 'string') return;
    if (/mattermost/i.test(key) && /^https?:\/\//.test(v)) hosts.add(new URL(v).hostname.toLowerCase());
    else if (/channel/i.test(key) || /^(slack|mattermost|teams)$/.test(key)) named.add(v);
    if (/approvers$/i.test(key) && isEmail(v)) approvers.add(v.toLowerCase());
  };
  walk(root, '');
  const known = new Set(people.map((p) => p.email.toLowerCase()));
  for (const email of approvers) if (!known.has(email)) people.push({ name: nameOf(email), email }), known.add(email);
  if (!known.has(NON_APPROVER.email)) people.push(NON_APPROVER);
  return { mattermostHosts: [...hosts], channels: [...named], people };
}

/** `duty-manager@example.com` → `Duty Manager`. */
function nameOf(email: string): string {
  return email
    .split('@')[0]
    .split(/[._-]+/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

/** A list of SES identities: each a domain or an email address. */
function identities(v: unknown, field: string, problems: string[]): string[] {
  if (!Array.isArray(v)) {
    problems.push(`${field} must be a list of domains or email addresses`);
    return [];
  }
  v.forEach((x, i) => {
    if (typeof x !== 'string' || (!isEmail(x) && !isDomain(x))) problems.push(`${field}[${i}] must be a domain or an email address, got ${JSON.stringify(x)}`);
  });
  return v.filter((x): x is string => typeof x === 'string');
}
