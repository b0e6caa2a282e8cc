/**
 * Validates the raw execution input of the Approval workflow before any side effect. Every problem is
 * collected (not just the first) so whoever started the execution can fix the input in one go; each
 * problem starts with the field it is about.
 */
import { InputInvalidError } from '../../shared/errors';
import { isValidEmail, normalizeEmail } from '../../shared/email';
import type { ChatTarget } from '../../shared/chat-post';
import type { ApprovalRequest } from './types';

export interface RequestDefaults {
  /** Used when the input has no (or an empty) `approvers`. May be empty. */
  approvers: string[];
  timeoutSeconds: number;
  maxTimeoutSeconds: number;
  /** Lower-case domains every approver's address must be in; empty or absent: any domain. */
  allowedRecipientDomains?: string[];
  /** Where requests are posted when the input has no `chat` (`approval.chat`). @default [] */
  chat?: ChatTarget[];
  /** Whether `approval.chat.mattermostUrl` is set: without it, a Mattermost channel cannot be posted to. */
  mattermostConfigured?: boolean;
}

/**
 * The shape of each platform's channel: a Slack conversation id (channel C/G, DM D) or user id (U/W: the app's DM
 * with them; https://api.slack.com/methods/chat.postMessage#channels), a Mattermost channel id (26 lower-case letters
 * and digits), a Teams channel's name in the chat secret's `teamsWebhooks`.
 */
export const CHAT_CHANNEL: Record<ChatTarget['platform'], { shape: RegExp; what: string }> = {
  slack: { shape: /^[CGDUW][A-Z0-9]{2,20}$/, what: 'a Slack channel id (C…, G…, D…) or user id (U…, W…)' },
  mattermost: { shape: /^[a-z0-9]{26}$/, what: 'a Mattermost channel id (26 lower-case letters and digits)' },
  teams: { shape: /^[A-Za-z0-9_.-]{1,64}$/, what: 'the name of a Teams channel webhook (letters, digits, _ . -; at most 64)' },
};
const PLATFORMS = Object.keys(CHAT_CHANNEL) as ChatTarget['platform'][];

/**
 * `{ "slack": "C0123ABCD", "mattermost": "<channel id>", "teams": "ops" }`: one channel per platform, each optional;
 * `{}` posts nowhere. Pushes one problem per bad entry, each starting with `field`; returns the targets.
 */
export function checkChatTargets(value: unknown, field: string, mattermostConfigured: boolean, problems: string[]): ChatTarget[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${field}: must be an object such as {"slack": "C0123ABCD"}, got ${describe(value)}`);
    return [];
  }
  const targets: ChatTarget[] = [];
  for (const [platform, channel] of Object.entries(value as Record<string, unknown>)) {
    const rule = CHAT_CHANNEL[platform as ChatTarget['platform']];
    if (!PLATFORMS.includes(platform as ChatTarget['platform'])) {
      problems.push(`${field}.${platform}: unknown chat platform (allowed: ${PLATFORMS.join(', ')})`);
    } else if (typeof channel !== 'string' || !rule.shape.test(channel)) {
      problems.push(`${field}.${platform}: must be ${rule.what}, got ${describe(channel)}`);
    } else if (platform === 'mattermost' && !mattermostConfigured) {
      problems.push(`${field}.mattermost: this deployment has no Mattermost server (approval.chat.mattermostUrl)`);
    } else targets.push({ platform: platform as ChatTarget['platform'], channel });
  }
  return targets;
}

/** The domain of an address that may receive approval emails, by `allowedRecipientDomains` (exact domain match). */
export function inAllowedDomain(email: string, domains: readonly string[] | undefined): boolean {
  if (!domains || domains.length === 0) return true;
  return domains.includes(email.slice(email.lastIndexOf('@') + 1).toLowerCase());
}

export const LIMITS = {
  titleChars: 200,
  detailsBytes: 8 * 1024,
  approvers: 20,
  requestedByChars: 200,
  minTimeoutSeconds: 60,
} as const;

const FIELDS = ['title', 'details', 'approvers', 'requestedBy', 'timeoutSeconds', 'quorum', 'chat'] as const;

export function validateRequest(input: unknown, defaults: RequestDefaults): ApprovalRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InputInvalidError([`input: must be a JSON object, got ${describe(input)}`]);
  }
  const raw = input as Record<string, unknown>;
  const problems: string[] = [];

  for (const key of Object.keys(raw)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      problems.push(`${key}: unknown field (allowed: ${FIELDS.join(', ')})`);
    }
  }

  const title = checkTitle(raw.title, problems);
  const details = checkDetails(raw.details, problems);
  const approvers = checkApprovers(raw.approvers, defaults.approvers, problems);
  const domains = defaults.allowedRecipientDomains;
  (approvers ?? []).forEach((email, i) => {
    if (!inAllowedDomain(email, domains)) {
      problems.push(`approvers[${i}]: ${email} is not in an allowed recipient domain (${domains!.join(', ')})`);
    }
  });
  const requestedBy = checkRequestedBy(raw.requestedBy, problems);
  // The requester never approves their own request (decide.ts refuses the vote): they are not asked, and the others
  // must be able to reach the quorum without them.
  const requester = requestedBy !== null && isValidEmail(requestedBy) ? normalizeEmail(requestedBy) : undefined;
  const asked = approvers?.filter((a) => a !== requester);
  if (approvers && asked && asked.length === 0)
    problems.push(`approvers: the requester ${requester} cannot approve their own request, and there is no other approver`);
  const timeoutSeconds = checkTimeout(raw.timeoutSeconds, defaults, problems);
  const excluded = requester !== undefined && asked!.length < approvers!.length ? `, not counting the requester ${requester}` : '';
  const quorum = checkQuorum(raw.quorum, asked?.length === 0 ? undefined : asked, excluded, problems);
  const chat = raw.chat === undefined ? (defaults.chat ?? []) : checkChatTargets(raw.chat, 'chat', defaults.mattermostConfigured ?? false, problems);

  if (problems.length > 0) throw new InputInvalidError(problems);
  return {
    title: title!,
    details,
    approvers: asked!,
    requestedBy,
    timeoutSeconds,
    quorum,
    ...(chat.length ? { chat } : {}),
  };
}

function checkTitle(value: unknown, problems: string[]): string | undefined {
  if (value === undefined) {
    problems.push('title: is required');
    return undefined;
  }
  if (typeof value !== 'string') {
    problems.push(`title: must be a string, got ${describe(value)}`);
    return undefined;
  }
  const title = value.trim();
  if (title === '') problems.push('title: must not be empty');
  if (chars(title) > LIMITS.titleChars) {
    problems.push(`title: must be at most ${LIMITS.titleChars} characters, got ${chars(title)}`);
  }
  return title;
}

function checkDetails(value: unknown, problems: string[]): ApprovalRequest['details'] {
  if (value === undefined || value === null) return null;
  const isObject = typeof value === 'object' && !Array.isArray(value);
  if (typeof value !== 'string' && !isObject) {
    problems.push(`details: must be a string or a JSON object, got ${describe(value)}`);
    return null;
  }
  const bytes = Buffer.byteLength(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
  if (bytes > LIMITS.detailsBytes) {
    problems.push(`details: must be at most ${LIMITS.detailsBytes} bytes serialized, got ${bytes}`);
  }
  return value as ApprovalRequest['details'];
}

function checkApprovers(value: unknown, defaults: string[], problems: string[]): string[] | undefined {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    if (defaults.length === 0) {
      problems.push('approvers: at least one approver is required (no default approvers are configured)');
      return undefined;
    }
    return defaults;
  }
  if (!Array.isArray(value)) {
    problems.push(`approvers: must be an array of email addresses, got ${describe(value)}`);
    return undefined;
  }
  let valid = true;
  if (value.length > LIMITS.approvers) {
    problems.push(`approvers: at most ${LIMITS.approvers} approvers, got ${value.length}`);
    valid = false;
  }
  value.forEach((entry, i) => {
    if (typeof entry !== 'string' || !isValidEmail(entry.trim())) {
      problems.push(`approvers[${i}]: not a valid email address: ${describe(entry)}`);
      valid = false;
    }
  });
  return valid ? [...new Set((value as string[]).map(normalizeEmail))] : undefined;
}

function checkRequestedBy(value: unknown, problems: string[]): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') {
    problems.push(`requestedBy: must be a string, got ${describe(value)}`);
    return null;
  }
  const requestedBy = value.trim();
  if (chars(requestedBy) > LIMITS.requestedByChars) {
    problems.push(`requestedBy: must be at most ${LIMITS.requestedByChars} characters, got ${chars(requestedBy)}`);
  }
  return requestedBy === '' ? null : requestedBy;
}

function checkTimeout(value: unknown, defaults: RequestDefaults, problems: string[]): number {
  if (value === undefined) return defaults.timeoutSeconds;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    problems.push(`timeoutSeconds: must be an integer, got ${describe(value)}`);
    return defaults.timeoutSeconds;
  }
  if (value < LIMITS.minTimeoutSeconds) {
    problems.push(`timeoutSeconds: must be at least ${LIMITS.minTimeoutSeconds}, got ${value}`);
  }
  if (value > defaults.maxTimeoutSeconds) {
    problems.push(`timeoutSeconds: must be at most ${defaults.maxTimeoutSeconds}, got ${value}`);
  }
  return value;
}

function checkQuorum(value: unknown, approvers: string[] | undefined, excluded: string, problems: string[]): number {
  if (value === undefined) return 1;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    problems.push(`quorum: must be an integer, got ${describe(value)}`);
    return 1;
  }
  if (value < 1) problems.push(`quorum: must be at least 1, got ${value}`);
  // Only comparable when the approver list itself is valid; otherwise its problem is already reported.
  if (approvers && value > approvers.length) {
    problems.push(`quorum: must be at most the number of approvers (${approvers.length}${excluded}), got ${value}`);
  }
  return value;
}

/** A short, safe rendering of an offending value for a problem message. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(value) ?? String(value);
  const shown = json.length > 80 ? `${json.slice(0, 77)}...` : json;
  return Array.isArray(value) ? `array ${shown}` : value === null ? 'null' : `${typeof value} ${shown}`;
}

/** Characters as people count them (code points): an emoji is one, not two UTF-16 units. */
function chars(text: string): number {
  return [...text].length;
}
