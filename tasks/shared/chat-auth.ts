/**
 * Is this inbound chat request from the chat server it claims to be from? A pure function of the request, the
 * deployment's chat secrets and the clock, so the slash command (and later the approval buttons) share one rule.
 *
 * - Slack signs every request (https://api.slack.com/authentication/verifying-requests-from-slack): "concatenate
 *   the version number, the timestamp, and the body of the request to form a basestring. Use a colon as the
 *   delimiter", `v0:{X-Slack-Request-Timestamp}:{raw body}`, then "hash the resulting string, using the signing
 *   secret as a key" with HMAC-SHA256, sent as `X-Slack-Signature: v0=<hex>`. A timestamp "more than five minutes
 *   from local time ... could be a replay attack", so it is refused, in either direction. Slack's verification token
 *   ("deprecated" on the same page) is not accepted: a request carrying Slack's headers is judged by its signature
 *   alone.
 * - Mattermost sends the slash command's token in the form body
 *   (https://developers.mattermost.com/integrate/slash-commands/custom/: "token" ... "use this to verify the
 *   request came from Mattermost").
 *
 * Secrets and signatures are compared in constant time (`timingSafeEqual`), so the time of a refusal says nothing
 * about how much of a guess was right.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What the deployment's chat secret holds (Secrets Manager, JSON); an unset platform accepts nothing. */
export interface ChatSecrets {
  slackSigningSecret?: string;
  mattermostToken?: string;
}

/** Slack: "more than five minutes from local time". */
export const SLACK_MAX_SKEW_SECONDS = 5 * 60;

export type ChatPlatform = 'slack' | 'mattermost';

export type ChatAuth =
  | { ok: true; platform: ChatPlatform }
  /** `reason` is safe to show the caller: it names what was wrong, never a secret or the expected value. */
  | { ok: false; platform: ChatPlatform; reason: string };

export interface ChatRequest {
  /** Header names lower-case (tasks/shared/http.ts `HttpRequest`). */
  headers: Readonly<Record<string, string>>;
  /** The body exactly as the chat server sent it (UTF-8 text of the raw bytes). */
  body: string;
}

/**
 * Slack when the request carries either of Slack's signature headers, else Mattermost. A request with Slack's
 * headers is never tried as Mattermost, so a Slack request cannot fall back to a token.
 */
export function verifyChatRequest(request: ChatRequest, secrets: ChatSecrets, nowMs: number): ChatAuth {
  const signature = request.headers['x-slack-signature'];
  const timestamp = request.headers['x-slack-request-timestamp'];
  if (signature !== undefined || timestamp !== undefined) return verifySlack(request.body, signature, timestamp, secrets.slackSigningSecret, nowMs);
  return verifyMattermost(request.body, secrets.mattermostToken);
}

function verifySlack(body: string, signature: string | undefined, timestamp: string | undefined, secret: string | undefined, nowMs: number): ChatAuth {
  const refuse = (reason: string): ChatAuth => ({ ok: false, platform: 'slack', reason });
  if (!signature || !timestamp) return refuse('a Slack request needs both X-Slack-Signature and X-Slack-Request-Timestamp');
  if (!/^\d{1,12}$/.test(timestamp)) return refuse('X-Slack-Request-Timestamp is not a Unix time in seconds');
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > SLACK_MAX_SKEW_SECONDS)
    return refuse('X-Slack-Request-Timestamp is more than 5 minutes from now (a replay?)');
  if (!secret) return refuse('no Slack signing secret is configured for this deployment');
  return sameSecret(signature, slackSignature(secret, timestamp, body))
    ? { ok: true, platform: 'slack' }
    : refuse('X-Slack-Signature does not match the request');
}

function verifyMattermost(body: string, expected: string | undefined): ChatAuth {
  const refuse = (reason: string): ChatAuth => ({ ok: false, platform: 'mattermost', reason });
  const token = new URLSearchParams(body).get('token');
  if (!token) return refuse('neither a Slack signature nor a Mattermost token');
  if (!expected) return refuse('no Mattermost token is configured for this deployment');
  return sameSecret(token, expected) ? { ok: true, platform: 'mattermost' } : refuse('wrong Mattermost token');
}

/** `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`: how Slack signs, and how the local chat stand-in will. */
export function slackSignature(signingSecret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`, 'utf8').digest('hex')}`;
}

/** Constant time for equal lengths; lengths differ only for a malformed guess, which learns nothing from it. */
export function sameSecret(given: string, expected: string): boolean {
  const x = Buffer.from(given);
  const y = Buffer.from(expected);
  return x.length === y.length && timingSafeEqual(x, y);
}
