/**
 * The tag-policy part of opsflow's config (`tagPolicy`): where the policy file is, when the fleet is scanned,
 * how launches are checked, who gets reports. The policy file itself is validated here, at synth, against
 * tag-policy.schema.json and the rules EC2 imposes; every problem names the field, e.g.
 * `tagPolicy.policyFile (tag-policy.json): rules[1].pattern: not a valid regular expression: ...`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseChatDestination, type ChatDestination } from '../../tasks/shared/chat-target';
import { isValidEmail } from '../../tasks/shared/email';
import { PolicyInvalidError } from '../../tasks/shared/errors';
import { destructiveActionsOf, parsePolicy } from '../../tasks/tag-policy/core/policy';
import { DESTRUCTIVE, type ActionName, type Policy } from '../../tasks/tag-policy/core/types';
import defaultPolicy from '../../tag-policy.json';
import { emails } from '../shared/config';
import { parseTargetsOverride, type TargetsOverride } from '../shared/targets';

export interface TagPolicyConfig {
  /** The policy file, relative to the working directory. @default 'tag-policy.json' */
  readonly policyFile: string;
  /** The policy read from `policyFile`, validated. */
  readonly policy: Policy;
  /** EventBridge Scheduler expression of the whole-fleet scan. @default 'cron(0 6 * * ? *)' */
  readonly scanSchedule: string;
  /** IANA time zone of `scanSchedule`. @default 'UTC' */
  readonly scanTimezone: string;
  /** @default true */
  readonly scanEnabled: boolean;
  /** Check instances after RunInstances. @default true */
  readonly launchEnabled: boolean;
  /** Wait after a launch before reading tags. @default 120 */
  readonly settleSeconds: number;
  /** Stop/terminate the workflow may ever take (IAM). @default the ones the policy file uses */
  readonly destructiveActions: ActionName[];
  /** Subscribed to the report topic. @default [] */
  readonly reportEmails: string[];
  /** A chat channel that also gets every run's report (tasks/shared/chat-target.ts): `{ slack?, mattermost?, teams?, mattermostUrl? }`. @default none */
  readonly reportChat?: ChatDestination;
  /**
   * Who a principal is, as an approver email, by ARN (IAM user, role, or assumed-role session): the person who starts
   * a run is never asked to approve it (tasks/tag-policy/core/requester.ts). @default {}
   */
  readonly requesterEmails: Record<string, string>;
  /** The accounts and regions the policy applies in, over the top-level `targets` (workflows/shared/targets.ts). @default the top level's */
  readonly targets?: TargetsOverride;
}

const SETTINGS = [
  'policyFile',
  'scanSchedule',
  'scanTimezone',
  'scanEnabled',
  'launchEnabled',
  'settleSeconds',
  'destructiveActions',
  'reportEmails',
  'reportChat',
  'requesterEmails',
  'targets',
];
/** IAM user and role ARNs, and STS assumed-role session ARNs (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns). */
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:(iam::\d{12}:(user|role)\/\S+|sts::\d{12}:assumed-role\/[^/\s]+\/\S+)$/;

export const DEFAULT_TAG_POLICY: TagPolicyConfig = {
  policyFile: 'tag-policy.json',
  policy: parsePolicy(defaultPolicy),
  scanSchedule: 'cron(0 6 * * ? *)',
  scanTimezone: 'UTC',
  scanEnabled: true,
  launchEnabled: true,
  settleSeconds: 120,
  destructiveActions: destructiveActionsOf(parsePolicy(defaultPolicy)),
  reportEmails: [],
  requesterEmails: {},
};

/** Parses `tagPolicy` (may be absent), pushing problems that name their field. */
export function parseTagPolicy(raw: unknown, problems: string[]): TagPolicyConfig {
  const d = DEFAULT_TAG_POLICY;
  if (raw === undefined) raw = {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push('tagPolicy must be an object');
    return d;
  }
  const t = raw as Record<string, unknown>;
  for (const k of Object.keys(t)) if (!SETTINGS.includes(k)) problems.push(`tagPolicy.${k} is not a known setting`);

  const policyFile =
    typeof t.policyFile === 'string' && t.policyFile !== ''
      ? t.policyFile
      : t.policyFile === undefined
        ? d.policyFile
        : bad(problems, 'tagPolicy.policyFile must be a non-empty string', d.policyFile);
  const destructiveActions = parseDestructive(t.destructiveActions, problems);
  const policy = readPolicy(policyFile, destructiveActions ?? DESTRUCTIVE, problems);

  const scanSchedule = t.scanSchedule === undefined ? d.scanSchedule : String(t.scanSchedule);
  if (!/^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\)|at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\))$/.test(scanSchedule)) {
    problems.push(
      `tagPolicy.scanSchedule must be an EventBridge Scheduler expression (rate(...), cron(6 fields) or at(...)), got ${JSON.stringify(t.scanSchedule)}`,
    );
  }
  const scanTimezone = t.scanTimezone === undefined ? d.scanTimezone : String(t.scanTimezone);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: scanTimezone });
  } catch {
    problems.push(`tagPolicy.scanTimezone: unknown time zone '${scanTimezone}'`);
  }
  const scanEnabled = bool(t.scanEnabled, d.scanEnabled, 'tagPolicy.scanEnabled', problems);
  const launchEnabled = bool(t.launchEnabled, d.launchEnabled, 'tagPolicy.launchEnabled', problems);
  const settleSeconds = t.settleSeconds ?? d.settleSeconds;
  if (typeof settleSeconds !== 'number' || !Number.isInteger(settleSeconds) || settleSeconds < 0 || settleSeconds > 86_400) {
    problems.push(`tagPolicy.settleSeconds must be a whole number of seconds from 0 to 86400, got ${JSON.stringify(t.settleSeconds)}`);
  }
  const reportEmails = emails(t.reportEmails ?? [], 'tagPolicy.reportEmails', problems);
  const reportChat = t.reportChat === undefined ? undefined : parseChatDestination(t.reportChat, 'tagPolicy.reportChat', problems);
  const requesterEmails = parseRequesterEmails(t.requesterEmails, problems);
  const targets = t.targets === undefined ? undefined : parseTargetsOverride(t.targets, 'tagPolicy.targets', problems);

  return {
    policyFile,
    policy: policy ?? d.policy,
    scanSchedule,
    scanTimezone,
    scanEnabled,
    launchEnabled,
    settleSeconds: settleSeconds as number,
    destructiveActions: destructiveActions ?? (policy ? destructiveActionsOf(policy) : []),
    reportEmails,
    ...(reportChat && { reportChat }),
    requesterEmails,
    ...(targets && { targets }),
  };
}

function parseRequesterEmails(v: unknown, problems: string[]): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return bad(problems, 'tagPolicy.requesterEmails must be an object of principal ARN to email address', {});
  const out: Record<string, string> = {};
  for (const [arn, email] of Object.entries(v)) {
    if (!PRINCIPAL_ARN.test(arn)) problems.push(`tagPolicy.requesterEmails: '${arn}' is not an IAM user, role or assumed-role session ARN`);
    if (!isValidEmail(email)) problems.push(`tagPolicy.requesterEmails['${arn}'] must be an email address, got ${JSON.stringify(email)}`);
    else out[arn] = email.toLowerCase();
  }
  return out;
}

function readPolicy(file: string, destructiveActions: readonly ActionName[], problems: string[]): Policy | undefined {
  const where = `tagPolicy.policyFile (${file})`;
  const path = resolve(file);
  if (!existsSync(path)) {
    problems.push(`${where}: file does not exist`);
    return undefined;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    problems.push(`${where}: not valid JSON: ${(err as Error).message}`);
    return undefined;
  }
  try {
    return parsePolicy(raw, { destructiveActions });
  } catch (err) {
    if (!(err instanceof PolicyInvalidError)) throw err;
    problems.push(...err.problems.map((p) => `${where}: ${p}`));
    return undefined;
  }
}

function parseDestructive(v: unknown, problems: string[]): ActionName[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((a) => DESTRUCTIVE.includes(a))) {
    problems.push(`tagPolicy.destructiveActions must list some of ${DESTRUCTIVE.join(', ')}, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return [...new Set(v as ActionName[])];
}

function bool(v: unknown, fallback: boolean, field: string, problems: string[]): boolean {
  if (v === undefined) return fallback;
  if (typeof v === 'boolean') return v;
  problems.push(`${field} must be true or false`);
  return fallback;
}

function bad<T>(problems: string[], message: string, fallback: T): T {
  problems.push(message);
  return fallback;
}
