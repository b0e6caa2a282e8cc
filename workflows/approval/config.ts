/**
 * The Approval section of opsflow's config (`approval`): who sends, who approves, how long an approval waits.
 * Every problem names the field, e.g. `approval.reminderIntervalSeconds (86400) must be shorter than
 * approval.timeoutSeconds (3600)`.
 */
import { checkChatTargets } from '../../tasks/approval/core/validate';
import type { ChatTarget } from '../../tasks/shared/chat-post';
import { isValidEmail as isEmail } from '../../tasks/shared/email';
import { asObject, emails, int, isDomain, str, unknownKeys } from '../shared/config';

/** `approval.chat`: where requests are posted with Approve / Reject buttons, and who is who in chat. */
export interface ApprovalChatConfig {
  /** Posted to when an execution gives no `chat`; each platform optional. @default [] (no chat) */
  readonly targets: ChatTarget[];
  /** The Mattermost server's base URL (`https://mattermost.example.com`); needed for any Mattermost channel. */
  readonly mattermostUrl?: string;
  /**
   * Chat users to approver addresses, `"<platform>:<user id>": "address"` (`slack:U0123ABCD`, `mattermost:<id>`,
   * `teams:<AAD object id>`). It wins over the address the chat profile gives; Teams users need it. @default {}
   */
  readonly approverMap: Record<string, string>;
}

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
  /** Approvals in chat. @default no chat */
  readonly chat: ApprovalChatConfig;
}

export const DEFAULT_APPROVAL: ApprovalConfig = {
  sender: 'opsflow@example.com',
  sesIdentity: 'example.com',
  approvers: [],
  timeoutSeconds: 86_400,
  maxTimeoutSeconds: 604_800,
  reminderIntervalSeconds: 14_400,
  escalationApprovers: [],
  escalateAfterSeconds: 43_200,
  chat: { targets: [], approverMap: {} },
};

/** Step Functions activity tasks live at most a year. */
const MIN_TIMEOUT = 60;
const MAX_TIMEOUT = 31_536_000;

/** Parses `approval`, merged over the defaults; pushes one problem per bad field. */
export function parseApproval(raw: unknown, problems: string[]): ApprovalConfig {
  const a = asObject(raw ?? {}, 'approval', problems);
  unknownKeys(a, Object.keys(DEFAULT_APPROVAL).concat('linkBaseUrl', 'allowedRecipientDomains'), 'approval', problems);
  const d = DEFAULT_APPROVAL;
  const sender = str(a.sender ?? d.sender, 'approval.sender', problems);
  if (sender && !isEmail(sender)) problems.push(`approval.sender must be an email address, got '${sender}'`);
  const sesIdentity = str(a.sesIdentity ?? sender.split('@')[1] ?? d.sesIdentity, 'approval.sesIdentity', problems);
  if (sesIdentity && !isEmail(sesIdentity) && !isDomain(sesIdentity)) {
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
  const reminderIntervalSeconds = seconds(
    a.reminderIntervalSeconds ?? d.reminderIntervalSeconds,
    'approval.reminderIntervalSeconds',
    300,
    MAX_TIMEOUT,
    problems,
  );
  if (reminderIntervalSeconds && timeoutSeconds && reminderIntervalSeconds >= timeoutSeconds) {
    problems.push(`approval.reminderIntervalSeconds (${reminderIntervalSeconds}) must be shorter than approval.timeoutSeconds (${timeoutSeconds})`);
  }
  const escalateAfterSeconds = seconds(a.escalateAfterSeconds ?? d.escalateAfterSeconds, 'approval.escalateAfterSeconds', 300, MAX_TIMEOUT, problems);
  if (escalationApprovers.length && escalateAfterSeconds && timeoutSeconds && escalateAfterSeconds >= timeoutSeconds) {
    problems.push(`approval.escalateAfterSeconds (${escalateAfterSeconds}) must be shorter than approval.timeoutSeconds (${timeoutSeconds})`);
  }
  const allowedRecipientDomains = recipientDomains(a.allowedRecipientDomains, { approvers, escalationApprovers }, problems);
  const chat = parseChat(a.chat, problems);
  return {
    chat,
    sender,
    sesIdentity,
    approvers,
    linkBaseUrl,
    timeoutSeconds,
    maxTimeoutSeconds,
    reminderIntervalSeconds,
    escalationApprovers,
    escalateAfterSeconds,
    ...(allowedRecipientDomains ? { allowedRecipientDomains } : {}),
  };
}

const CHAT_KEYS = ['slack', 'mattermost', 'teams', 'mattermostUrl', 'approverMap'];
const MAP_KEY = /^(slack:[UW][A-Z0-9]{2,20}|mattermost:[a-z0-9]{26}|teams:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** `approval.chat`: `{ slack?, mattermost?, teams?, mattermostUrl?, approverMap? }`. */
function parseChat(raw: unknown, problems: string[]): ApprovalChatConfig {
  if (raw === undefined) return DEFAULT_APPROVAL.chat;
  const c = asObject(raw, 'approval.chat', problems);
  unknownKeys(c, CHAT_KEYS, 'approval.chat', problems);
  const mattermostUrl = c.mattermostUrl === undefined ? undefined : str(c.mattermostUrl, 'approval.chat.mattermostUrl', problems);
  if (mattermostUrl && !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(mattermostUrl)) {
    problems.push(`approval.chat.mattermostUrl must be an http(s) URL without query or fragment, got '${mattermostUrl}'`);
  }
  const { slack, mattermost, teams } = c;
  const channels = Object.fromEntries(Object.entries({ slack, mattermost, teams }).filter(([, v]) => v !== undefined));
  const before = problems.length;
  const targets = checkChatTargets(channels, 'chat', mattermostUrl !== undefined, problems);
  // checkChatTargets names the input's field: here it is the config's.
  for (let i = before; i < problems.length; i++) problems[i] = `approval.${problems[i]}`;
  const approverMap: Record<string, string> = {};
  for (const [user, email] of Object.entries(asObject(c.approverMap ?? {}, 'approval.chat.approverMap', problems))) {
    if (!MAP_KEY.test(user)) problems.push(`approval.chat.approverMap: '${user}' is not slack:<user id>, mattermost:<user id> or teams:<AAD object id>`);
    else if (typeof email !== 'string' || !isEmail(email))
      problems.push(`approval.chat.approverMap.${user} must be an email address, got ${JSON.stringify(email)}`);
    else approverMap[user] = email.toLowerCase();
  }
  return { targets, ...(mattermostUrl ? { mattermostUrl: mattermostUrl.replace(/\/+$/, '') } : {}), approverMap };
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
    if (typeof d !== 'string' || !/^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$/.test(d))
      problems.push(`${field}[${i}] must be a lower-case domain name such as example.com, got ${JSON.stringify(d)}`);
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
  return int(v, field, min, max, problems, { unit: 'seconds', fallback: 0 });
}
