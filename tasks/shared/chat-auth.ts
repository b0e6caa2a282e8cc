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

/**
 * What the deployment's one chat secret holds (Secrets Manager, JSON; tasks/shared/chat-secrets.ts reads it,
 * `control-link chat-secret <field> <value>` sets one field). An unset field configures nothing: requests it would
 * verify are refused, calls it would authorize fail with Chat.NotConfigured.
 */
export interface ChatSecrets {
  /** Slack app → Basic Information → Signing Secret: verifies every request from Slack (v0 signature). */
  slackSigningSecret?: string;
  /** Slack app → OAuth & Permissions → Bot User OAuth Token (`xoxb-...`): posts, updates, looks up users. */
  slackBotToken?: string;
  /** Mattermost slash command's token: verifies the slash command's requests. */
  mattermostToken?: string;
  /** Mattermost bot account's access token: posts, updates, opens dialogs, looks up users. */
  mattermostBotToken?: string;
  /** Teams outgoing webhook's security token (base64, as Teams shows it): verifies `Authorization: HMAC ...`. */
  teamsHmacKey?: string;
  /** Teams incoming webhook URLs by channel name (each URL is a credential: whoever has it can post). */
  teamsWebhooks?: Record<string, string>;
}

/** Slack: "more than five minutes from local time". */
export const SLACK_MAX_SKEW_SECONDS = 5 * 60;

export type ChatPlatform = 'slack' | 'mattermost' | 'teams';

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

/**
 * Teams outgoing webhooks (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-outgoing-webhook):
 * the request carries `Authorization: HMAC <base64>`, the HMAC-SHA256 of the request body keyed with the
 * base64-decoded security token Teams showed when the webhook was created. Teams sends no timestamp: a replayed request
 * verifies, so whatever it asks must be idempotent (an approval vote is: a second vote is refused).
 */
export function verifyTeamsRequest(request: ChatRequest, hmacKey: string | undefined): ChatAuth {
  const refuse = (reason: string): ChatAuth => ({ ok: false, platform: 'teams', reason });
  const header = request.headers.authorization ?? '';
  const m = /^HMAC ([A-Za-z0-9+/]+={0,2})$/.exec(header.trim());
  if (!m) return refuse('a Teams request needs Authorization: HMAC <base64 signature>');
  if (!hmacKey) return refuse('no Teams HMAC key is configured for this deployment');
  return sameSecret(m[1], teamsSignature(hmacKey, request.body)) ? { ok: true, platform: 'teams' } : refuse('the Teams HMAC does not match the request');
}

/** Base64 HMAC-SHA256 of `body` under the base64-decoded `hmacKey`: how Teams signs, and how the local stand-in does. */
export function teamsSignature(hmacKey: string, body: string): string {
  return createHmac('sha256', Buffer.from(hmacKey, 'base64')).update(body, 'utf8').digest('base64');
}

/** Constant time for equal lengths; lengths differ only for a malformed guess, which learns nothing from it. */
export function sameSecret(given: string, expected: string): boolean {
  const x = Buffer.from(given);
  const y = Buffer.from(expected);
  return x.length === y.length && timingSafeEqual(x, y);
}
