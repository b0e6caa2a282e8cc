/**
 * opsflow's one configuration: typed, documented, validated at synth. Values come from `opsflow.config.json`
 * (or the file named by `-c config=<path>`), merged over the defaults below. Every problem fails `cdk synth`
 * with a message naming the field, e.g. `opsflow config: approval.timeoutSeconds must be ...`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isValidEmail as isEmail } from '../tasks/shared/email';
import { asObject, emails, int as whole, str, unknownKeys } from './config-helpers';
import type { SchedulesConfig } from '../tasks/ec2/core/schedules';
import { DEFAULT_EC2_SCHEDULE, DEFAULT_SCHEDULES, parseEc2Schedule, parseSchedules, type Ec2ScheduleConfig } from './config-schedules';
import { DEFAULT_TAG_POLICY, parseTagPolicy, type TagPolicyConfig } from './config-tag-policy';

export interface ApprovalConfig {
  /** From address of approval emails; must be verified in SES (or belong to `sesIdentity`). */
  readonly sender: string;
  /** The SES identity the sender belongs to: a domain or an email address. @default the sender's domain */
  readonly sesIdentity: string;
  /** Who approves when an execution names no approvers. @default [] (executions must name approvers) */
  readonly approvers: string[];
  /** Base URL of the approval links. @default the deployed HTTP API's URL */
  readonly linkBaseUrl?: string;
  /** Domains approval emails may go to; enforced by input validation and IAM (ses:Recipients). @default any */
  readonly allowedRecipientDomains?: string[];
  /** How long an approval waits for a decision, unless the execution says otherwise. @default 86400 (24 h) */
  readonly timeoutSeconds: number;
  /** Longest timeout an execution may ask for. @default 604800 (7 days) */
  readonly maxTimeoutSeconds: number;
  /** Reminders go to approvers who have not decided, this often. @default 14400 (4 h) */
  readonly reminderIntervalSeconds: number;
  /** Approvers added (and emailed) when no decision has come in `escalateAfterSeconds`. @default [] */
  readonly escalationApprovers: string[];
  /** When to escalate. @default 43200 (12 h) */
  readonly escalateAfterSeconds: number;
}

export interface AlertsConfig {
  /** Email addresses subscribed to the failure-notification topic. @default [] */
  readonly emails: string[];
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
   * verified too. @default [approval.sesIdentity]
   */
  readonly sesIdentities: string[];
}

export interface OpsflowConfig {
  /** Prefix of every stack name; must start with `Opsflow`. @default 'Opsflow' */
  readonly stackName: string;
  readonly approval: ApprovalConfig;
  readonly alerts: AlertsConfig;
  /** Named EC2 schedules (see infra/config-schedules.ts). @default {} */
  readonly schedules: SchedulesConfig;
  readonly ec2Schedule: Ec2ScheduleConfig;
  /** EC2 tag-policy remediation (see infra/config-tag-policy.ts). */
  readonly tagPolicy: TagPolicyConfig;
  /** What the local runtime needs from the app beyond the template. @default {} */
  readonly local: LocalConfig;
}

export const DEFAULT_CONFIG: OpsflowConfig = {
  stackName: 'Opsflow',
  approval: {
    sender: 'opsflow@example.com',
    sesIdentity: 'example.com',
    approvers: [],
    timeoutSeconds: 86_400,
    maxTimeoutSeconds: 604_800,
    reminderIntervalSeconds: 14_400,
    escalationApprovers: [],
    escalateAfterSeconds: 43_200,
  },
  alerts: { emails: [] },
  schedules: DEFAULT_SCHEDULES,
  ec2Schedule: DEFAULT_EC2_SCHEDULE,
  tagPolicy: DEFAULT_TAG_POLICY,
  local: { sesIdentities: [] },
};

const DOMAIN = /^(?!-)[a-z0-9-]+(\.[a-z0-9-]+)+$/i;

/** Step Functions activity tasks live at most a year. */
const MIN_TIMEOUT = 60;
const MAX_TIMEOUT = 31_536_000;

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
  unknownKeys(root, ['$schema', 'stackName', 'approval', 'alerts', 'schedules', 'ec2Schedule', 'tagPolicy', 'local'], '', problems);
  const a = asObject(root.approval ?? {}, 'approval', problems);
  unknownKeys(a, Object.keys(DEFAULT_CONFIG.approval).concat('linkBaseUrl', 'allowedRecipientDomains'), 'approval', problems);
  const al = asObject(root.alerts ?? {}, 'alerts', problems);
  unknownKeys(al, ['emails'], 'alerts', problems);

  const d = DEFAULT_CONFIG.approval;
  const sender = str(a.sender ?? d.sender, 'approval.sender', problems);
  if (sender && !isEmail(sender)) problems.push(`approval.sender must be an email address, got '${sender}'`);
  const sesIdentity = str(a.sesIdentity ?? sender.split('@')[1] ?? d.sesIdentity, 'approval.sesIdentity', problems);
  if (sesIdentity && !isEmail(sesIdentity) && !DOMAIN.test(sesIdentity)) {
    problems.push(`approval.sesIdentity must be a domain or an email address, got '${sesIdentity}'`);
  }
  if (sender && sesIdentity && sender !== sesIdentity && !sender.toLowerCase().endsWith(`@${sesIdentity.toLowerCase()}`)) {
    problems.push(`approval.sender '${sender}' does not belong to approval.sesIdentity '${sesIdentity}'`);
  }
  const approvers = emails(a.approvers ?? d.approvers, 'approval.approvers', problems);
  const escalationApprovers = emails(a.escalationApprovers ?? d.escalationApprovers, 'approval.escalationApprovers', problems);
  const linkBaseUrl = a.linkBaseUrl === undefined ? undefined : str(a.linkBaseUrl, 'approval.linkBaseUrl', problems);
  if (linkBaseUrl !== undefined && !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(linkBaseUrl)) {
    problems.push(`approval.linkBaseUrl must be an http(s) URL without query or fragment, got '${linkBaseUrl}'`);
  }
  const maxTimeoutSeconds = seconds(a.maxTimeoutSeconds ?? d.maxTimeoutSeconds, 'approval.maxTimeoutSeconds', MIN_TIMEOUT, MAX_TIMEOUT, problems);
  const timeoutSeconds = seconds(a.timeoutSeconds ?? d.timeoutSeconds, 'approval.timeoutSeconds', MIN_TIMEOUT, maxTimeoutSeconds || MAX_TIMEOUT, problems);
  const reminderIntervalSeconds = seconds(a.reminderIntervalSeconds ?? d.reminderIntervalSeconds, 'approval.reminderIntervalSeconds', 300, MAX_TIMEOUT, problems);
  if (reminderIntervalSeconds && timeoutSeconds && reminderIntervalSeconds >= timeoutSeconds) {
    problems.push(`approval.reminderIntervalSeconds (${reminderIntervalSeconds}) must be shorter than approval.timeoutSeconds (${timeoutSeconds})`);
  }
  const escalateAfterSeconds = seconds(a.escalateAfterSeconds ?? d.escalateAfterSeconds, 'approval.escalateAfterSeconds', 300, MAX_TIMEOUT, problems);
  if (escalationApprovers.length && escalateAfterSeconds && timeoutSeconds && escalateAfterSeconds >= timeoutSeconds) {
    problems.push(`approval.escalateAfterSeconds (${escalateAfterSeconds}) must be shorter than approval.timeoutSeconds (${timeoutSeconds})`);
  }
  const allowedRecipientDomains = recipientDomains(a.allowedRecipientDomains, { approvers, escalationApprovers }, problems);
  const stackName = str(root.stackName ?? DEFAULT_CONFIG.stackName, 'stackName', problems);
  if (stackName && !/^Opsflow[A-Za-z0-9-]*$/.test(stackName)) {
    problems.push(`stackName must start with 'Opsflow' and use only letters, digits and '-', got '${stackName}'`);
  }
  const alertEmails = emails(al.emails ?? [], 'alerts.emails', problems);
  const schedules = parseSchedules(root.schedules, problems);
  const ec2Schedule = parseEc2Schedule(root.ec2Schedule, problems);
  const tagPolicy = parseTagPolicy(root.tagPolicy, problems);
  const lo = asObject(root.local ?? {}, 'local', problems);
  unknownKeys(lo, ['fleet', 'sesIdentities'], 'local', problems);
  const fleet = lo.fleet === undefined ? undefined : str(lo.fleet, 'local.fleet', problems);
  if (fleet && !existsSync(resolve(fleet))) problems.push(`local.fleet: file ${fleet} does not exist`);
  const sesIdentities = lo.sesIdentities === undefined ? [sesIdentity] : identities(lo.sesIdentities, 'local.sesIdentities', problems);

  if (problems.length) throw new ConfigError(problems);
  return {
    stackName,
    approval: {
      sender, sesIdentity, approvers, linkBaseUrl, timeoutSeconds, maxTimeoutSeconds,
      reminderIntervalSeconds, escalationApprovers, escalateAfterSeconds,
      ...(allowedRecipientDomains ? { allowedRecipientDomains } : {}),
    },
    alerts: { emails: alertEmails },
    schedules,
    ec2Schedule,
    tagPolicy,
    local: { ...(fleet ? { fleet } : {}), sesIdentities },
  };
}

/** A list of SES identities: each a domain or an email address. */
function identities(v: unknown, field: string, problems: string[]): string[] {
  if (!Array.isArray(v)) {
    problems.push(`${field} must be a list of domains or email addresses`);
    return [];
  }
  v.forEach((x, i) => {
    if (typeof x !== 'string' || (!isEmail(x) && !DOMAIN.test(x))) problems.push(`${field}[${i}] must be a domain or an email address, got ${JSON.stringify(x)}`);
  });
  return v.filter((x): x is string => typeof x === 'string');
}

/** `approval.allowedRecipientDomains`: lower-case domain names; the configured approvers must be in them. */
function recipientDomains(v: unknown, lists: Record<string, string[]>, problems: string[]): string[] | undefined {
  if (v === undefined) return undefined;
  const field = 'approval.allowedRecipientDomains';
  if (!Array.isArray(v)) {
    problems.push(`${field} must be an array of domain names, got ${JSON.stringify(v)}`);
    return undefined;
  }
  const domains: string[] = [];
  v.forEach((d, i) => {
    if (typeof d !== 'string' || !/^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$/.test(d)) problems.push(`${field}[${i}] must be a lower-case domain name such as example.com, got ${JSON.stringify(d)}`);
    else domains.push(d);
  });
  for (const [name, list] of Object.entries(lists)) {
    const outside = list.filter((e) => !domains.includes(e.slice(e.lastIndexOf('@') + 1).toLowerCase()));
    if (domains.length && outside.length) problems.push(`approval.${name} ${outside.join(', ')} not in ${field} (${domains.join(', ')})`);
  }
  return domains;
}

/** Durations in this section: a problem says "seconds", and an invalid value counts as 0 in later comparisons. */
function seconds(v: unknown, field: string, min: number, max: number, problems: string[]): number {
  return whole(v, field, min, max, problems, { unit: 'seconds', fallback: 0 });
}
