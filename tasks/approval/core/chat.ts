/**
 * Votes from chat (`POST /chat/approvals`, the stack output ApprovalChatCallbackUrl): a click on Approve or Reject
 * in Slack or Mattermost, the Reject form's submission, or a mention of the Teams outgoing webhook. Every request is
 * authenticated first, as its platform specifies, and then counted by the same rule as the email page (`openFor` and
 * `castVote` in core/decide.ts): quorum, replays, expired and closed requests behave the same, and email and chat
 * votes count together.
 *
 * - Slack: the v0 signature over the raw body, at most 5 minutes old (tasks/shared/chat-auth.ts). The body is
 *   `payload=<JSON>` (https://api.slack.com/interactivity/handling#payloads): `block_actions` for a button (the
 *   button's `value` is the request id; Reject opens a modal, views.open with the click's `trigger_id`),
 *   `view_submission` for the modal (answered `{"response_action": "errors", ...}` to keep it open with the reason:
 *   https://api.slack.com/surfaces/modals#displaying_errors). Answers to the clicker go through the click's
 *   `response_url`, ephemeral; Slack shows nothing of a button click's HTTP answer.
 * - Mattermost: a JSON body with the button's `context` (`{action, ref, secret}`) and the clicker's `user_id`, set
 *   by the server (https://developers.mattermost.com/integrate/plugins/interactive-messages/); Mattermost signs
 *   nothing, so the context's secret, made for this request and kept only as a hash, proves the click came through
 *   the post Mattermost holds. Reject opens an interactive dialog whose `state` carries the same ref and secret back
 *   (https://developers.mattermost.com/integrate/plugins/interactive-dialogs/). Answers are `ephemeral_text` (the
 *   clicker alone) and, for the dialog, `errors`.
 * - Teams: `Authorization: HMAC ...` (chat-auth.ts), a message activity whose text is `approve <id>` or
 *   `reject <id> <comment>` after the mention; the clicker is `from.aadObjectId`, mapped in `approval.chat.approverMap`.
 *   The answer is the webhook's reply (`{"type": "message", "text": ...}`), shown in the thread: Teams webhooks cannot
 *   answer privately.
 *
 * Who votes: `approval.chat.approverMap["<platform>:<user id>"]`, else the address the platform gives for the user
 * (Slack users.info, Mattermost GET /users/{id}), only if the platform says it was confirmed. Someone who is not an
 * approver of this request (or asked for it) is told so privately and nothing is recorded.
 */
import { timingSafeEqual } from 'node:crypto';
import { verifyChatRequest, verifyTeamsRequest, type ChatPlatform, type ChatSecrets } from '../../shared/chat-auth';
import type { ChatClient } from '../../shared/chat-post';
import type { ChatSecretSource } from '../../shared/chat-secrets';
import { normalizeEmail } from '../../shared/email';
import { json, text, type HttpRequest, type HttpResponse } from '../../shared/http';
import { errorName } from '../../shared/logger';
import { APPROVE, REJECT } from './chat-messages';
import { castVote, isRequester, openFor, type CastResult, type DecideDeps, type Settled } from './decide';
import { formatUtc } from './format';
import { hashSecret } from './links';
import { COMMENT_MAX_CHARS } from './pages';
import type { ApprovalRecord, Verdict } from './types';

export interface ChatCallbackDeps extends DecideDeps {
  secrets: ChatSecretSource;
  /** A chat client over the given secrets (tasks/shared/chat-post.ts `chatClient`). */
  chatClient(secrets: ChatSecrets): ChatClient;
  /** `"<platform>:<user id>"` → approver address (`approval.chat.approverMap`). */
  approverMap: Readonly<Record<string, string>>;
  /** This endpoint's own URL (ApprovalChatCallbackUrl): where Mattermost's dialog submits. */
  callbackUrl: string;
}

/** The Slack modal's and Mattermost dialog's id, and the comment field's. */
const REJECT_FORM = 'opsflow-reject';
const COMMENT = 'comment';
const REQUEST_ID = /^[A-Za-z0-9_-]{22}$/;

export async function handleChatCallback(request: HttpRequest, deps: ChatCallbackDeps): Promise<HttpResponse> {
  if (request.method !== 'POST') return text(405, 'Method not allowed: chat servers POST here.');
  const h = request.headers;
  try {
    if (h['x-slack-signature'] !== undefined || h['x-slack-request-timestamp'] !== undefined) return await slack(request, deps);
    if (h.authorization !== undefined) return await teams(request, deps);
    return await mattermost(request, deps);
  } catch (error) {
    deps.log.error('chat vote failed', { requestId: request.requestId, error: errorName(error) });
    return json(200, {
      text: 'Your vote could not be recorded just now. Please try again in a minute.',
      ephemeral_text: 'Your vote could not be recorded just now. Please try again in a minute.',
    });
  }
}

/** Verifies with the cached secrets, then once more with a fresh read (a rotation takes effect at once). */
async function verified<T extends { ok: boolean }>(deps: ChatCallbackDeps, check: (s: ChatSecrets) => T): Promise<{ auth: T; secrets: ChatSecrets }> {
  let secrets = await deps.secrets.get();
  let auth = check(secrets);
  if (!auth.ok) {
    secrets = await deps.secrets.get(true);
    auth = check(secrets);
  }
  return { auth, secrets };
}

function unauthorized(deps: ChatCallbackDeps, platform: ChatPlatform, reason: string): HttpResponse {
  deps.log.warn('chat vote refused', { platform, reason });
  return json(401, { text: `Unauthorized: ${reason}.`, ephemeral_text: `Unauthorized: ${reason}.` });
}

// ---- Slack ------------------------------------------------------------------------------------------------------

interface SlackPayload {
  type?: string;
  user?: { id?: string };
  trigger_id?: string;
  response_url?: string;
  actions?: Array<{ action_id?: string; value?: string }>;
  view?: { callback_id?: string; private_metadata?: string; state?: { values?: Record<string, Record<string, { value?: string | null }>> } };
}

async function slack(request: HttpRequest, deps: ChatCallbackDeps): Promise<HttpResponse> {
  const { auth, secrets } = await verified(deps, (s) => verifyChatRequest(request, s, deps.now().getTime()));
  if (!auth.ok) return unauthorized(deps, 'slack', auth.reason);
  let payload: SlackPayload;
  try {
    payload = JSON.parse(new URLSearchParams(request.body).get('payload') ?? '') as SlackPayload;
  } catch {
    return text(400, 'Bad request: a Slack interaction carries payload=<JSON>.');
  }
  const client = deps.chatClient(secrets);
  const user = payload.user?.id ?? '';
  if (payload.type === 'block_actions') {
    const action = payload.actions?.[0];
    const say = async (words: string) => {
      if (payload.response_url) await client.respond(payload.response_url, words);
    };
    if (action?.action_id !== APPROVE && action?.action_id !== REJECT) return text(200, ''); // not one of ours
    const voter = await voterFor(deps, client, 'slack', user, action.value ?? '');
    if ('refusal' in voter) {
      await say(voter.refusal);
      return text(200, '');
    }
    if (action.action_id === REJECT) {
      await client.openModal(payload.trigger_id ?? '', slackRejectModal(voter.record));
      return text(200, '');
    }
    await say((await vote(deps, voter, 'approved', null, { platform: 'slack', user })).text);
    return text(200, '');
  }
  if (payload.type === 'view_submission' && payload.view?.callback_id === REJECT_FORM) {
    const comment = (payload.view.state?.values?.[COMMENT]?.[COMMENT]?.value ?? '').trim();
    const voter = await voterFor(deps, client, 'slack', user, payload.view.private_metadata ?? '');
    const problem = 'refusal' in voter ? voter.refusal : commentProblem(comment);
    if (problem) return json(200, { response_action: 'errors', errors: { [COMMENT]: problem } });
    if ('refusal' in voter) return text(200, '');
    const result = await vote(deps, voter, 'rejected', comment || null, { platform: 'slack', user });
    // Counted: the modal closes and the message shows the decision; refused: the modal says why.
    return result.counted ? text(200, '') : json(200, { response_action: 'errors', errors: { [COMMENT]: result.text } });
  }
  return text(200, '');
}

function slackRejectModal(record: ApprovalRecord): unknown {
  const plain = (t: string) => ({ type: 'plain_text', text: t });
  return {
    type: 'modal',
    callback_id: REJECT_FORM,
    private_metadata: record.id,
    title: plain('Reject'),
    submit: plain('Reject'),
    close: plain('Cancel'),
    blocks: [
      { type: 'section', text: { ...plain(record.title.slice(0, 3000)), emoji: false } },
      {
        type: 'input',
        block_id: COMMENT,
        optional: true,
        label: plain('Why? The requester sees this.'),
        element: { type: 'plain_text_input', action_id: COMMENT, multiline: true, max_length: COMMENT_MAX_CHARS },
      },
    ],
  };
}

// ---- Mattermost -------------------------------------------------------------------------------------------------

interface MattermostPayload {
  type?: string;
  user_id?: string;
  trigger_id?: string;
  context?: { action?: string; ref?: string; secret?: string };
  callback_id?: string;
  state?: string;
  cancelled?: boolean;
  submission?: Record<string, unknown>;
}

async function mattermost(request: HttpRequest, deps: ChatCallbackDeps): Promise<HttpResponse> {
  let payload: MattermostPayload;
  try {
    payload = JSON.parse(request.body) as MattermostPayload;
  } catch {
    return unauthorized(deps, 'mattermost', 'neither a Slack signature, a Teams HMAC, nor a Mattermost button');
  }
  const isDialog = payload.type === 'dialog_submission';
  let context: MattermostPayload['context'];
  try {
    context = isDialog ? (JSON.parse(payload.state ?? '') as MattermostPayload['context']) : payload.context;
  } catch {
    context = undefined;
  }
  const ref = context?.ref ?? '';
  const record = REQUEST_ID.test(ref) ? await deps.store.get(ref) : undefined;
  // Same answer for an unknown request and a wrong secret: a forger learns nothing about which requests exist.
  if (!record || !sameHash(record.chat?.secretHashes ?? [], context?.secret ?? ''))
    return unauthorized(deps, 'mattermost', 'not a button of an opsflow request');
  if (isDialog && payload.cancelled) return text(200, '');
  const client = deps.chatClient(await deps.secrets.get());
  const user = payload.user_id ?? '';
  const voter = await voterFor(deps, client, 'mattermost', user, record.id, record);
  if ('refusal' in voter) return json(200, isDialog ? { error: voter.refusal } : { ephemeral_text: voter.refusal });
  if (isDialog) {
    const comment = (typeof payload.submission?.[COMMENT] === 'string' ? (payload.submission[COMMENT] as string) : '').trim();
    const problem = commentProblem(comment);
    if (problem) return json(200, { errors: { [COMMENT]: problem } });
    const result = await vote(deps, voter, 'rejected', comment || null, { platform: 'mattermost', user });
    return json(200, result.counted ? {} : { error: result.text });
  }
  if (context?.action === REJECT) {
    await client.openDialog(payload.trigger_id ?? '', deps.callbackUrl, {
      callback_id: REJECT_FORM,
      title: 'Reject',
      submit_label: 'Reject',
      state: JSON.stringify({ ref: record.id, secret: context.secret }),
      elements: [{ display_name: 'Why? The requester sees this.', name: COMMENT, type: 'textarea', optional: true, max_length: COMMENT_MAX_CHARS }],
    });
    return json(200, {});
  }
  if (context?.action !== APPROVE) return json(200, { ephemeral_text: 'Unknown action.' });
  return json(200, { ephemeral_text: (await vote(deps, voter, 'approved', null, { platform: 'mattermost', user })).text });
}

/** Whether `secret` hashes to one of `hashes`, each compared in constant time. */
function sameHash(hashes: readonly string[], secret: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  let found = false;
  for (const hash of hashes) {
    const stored = Buffer.from(hash, 'hex');
    if (stored.length === presented.length && timingSafeEqual(stored, presented)) found = true;
  }
  return found;
}

// ---- Teams ------------------------------------------------------------------------------------------------------

async function teams(request: HttpRequest, deps: ChatCallbackDeps): Promise<HttpResponse> {
  const { auth, secrets } = await verified(deps, (s) => verifyTeamsRequest(request, s.teamsHmacKey));
  if (!auth.ok) return unauthorized(deps, 'teams', auth.reason);
  const reply = (words: string) => json(200, { type: 'message', text: words });
  let activity: { text?: string; from?: { aadObjectId?: string } };
  try {
    activity = JSON.parse(request.body) as typeof activity;
  } catch {
    return text(400, 'Bad request: a Teams activity is JSON.');
  }
  // "<at>opsflow</at> approve <id>" or "... reject <id> <comment>"; Teams may wrap the text in HTML.
  const words = (activity.text ?? '')
    .replace(/<at>[^<]*<\/at>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .trim();
  const m = /^(approve|reject)\s+([A-Za-z0-9_-]{22})(?:\s+([\s\S]*))?$/i.exec(words);
  if (!m) return reply('Say "approve <request id>" or "reject <request id> <comment>".');
  const user = activity.from?.aadObjectId ?? '';
  const voter = await voterFor(deps, deps.chatClient(secrets), 'teams', user, m[2]);
  if ('refusal' in voter) return reply(voter.refusal);
  const comment = (m[3] ?? '').trim();
  const problem = commentProblem(comment);
  if (problem) return reply(problem);
  const verdict: Verdict = m[1].toLowerCase() === 'approve' ? 'approved' : 'rejected';
  return reply((await vote(deps, voter, verdict, comment || null, { platform: 'teams', user })).text);
}

// ---- shared -----------------------------------------------------------------------------------------------------

type Voter = { record: ApprovalRecord; email: string } | { refusal: string };

/** The approver behind a chat user, for the request `id`, if they may vote on it now. */
async function voterFor(deps: ChatCallbackDeps, client: ChatClient, platform: ChatPlatform, user: string, id: string, known?: ApprovalRecord): Promise<Voter> {
  const record = known ?? (REQUEST_ID.test(id) ? await deps.store.get(id) : undefined);
  if (!record) return { refusal: 'This approval request does not exist.' };
  let email = deps.approverMap[`${platform}:${user}`];
  if (!email) {
    if (platform === 'teams') return { refusal: 'Your Teams account is not mapped to an approver address (approval.chat.approverMap): nothing was recorded.' };
    const found = await client.userEmail(platform, user);
    if (!found.email) return { refusal: 'Your chat profile shows no email address, so you cannot vote here: nothing was recorded.' };
    if (!found.verified) return { refusal: `Your chat address ${found.email} is not verified, so you cannot vote here: nothing was recorded.` };
    email = normalizeEmail(found.email);
  }
  if (!record.approvers.some((a) => a.email === email)) {
    deps.log.info('chat vote from a non-approver refused', { requestId: record.id, platform });
    return { refusal: `You (${email}) are not an approver of "${record.title}": nothing was recorded.` };
  }
  if (isRequester(record, email)) return { refusal: `You asked for "${record.title}": you cannot approve your own request. Nothing was recorded.` };
  const open = await openFor(deps, record, email);
  if (open.kind === 'settled') return { refusal: settledText(open.record, open.state) };
  return { record, email };
}

/** Casts the vote (core/decide.ts, which also updates the request's chat messages) and says what happened. */
async function vote(
  deps: ChatCallbackDeps,
  voter: { record: ApprovalRecord; email: string },
  verdict: Verdict,
  comment: string | null,
  via: { platform: ChatPlatform; user: string },
): Promise<{ counted: boolean; text: string }> {
  const cast = await castVote(deps, voter.record, { approver: voter.email, decision: verdict, comment, via });
  return { counted: cast.kind === 'recorded' || cast.kind === 'decided', text: castText(cast, voter.record) };
}

function castText(cast: CastResult, record: ApprovalRecord): string {
  switch (cast.kind) {
    case 'recorded': {
      const approvals = new Set(cast.record.votes.filter((v) => v.decision === 'approved').map((v) => v.approver)).size;
      return `Your approval of "${record.title}" is recorded: ${approvals} of ${cast.record.quorum} approvals.`;
    }
    case 'decided':
      return `${cast.record.decision!.decision === 'approved' ? 'Approved' : 'Rejected'}: your vote decided "${record.title}".`;
    case 'gone':
      return cast.expired
        ? `"${record.title}" expired: your vote was not counted.`
        : `"${record.title}" is closed${cast.reason ? `: ${cast.reason}` : ''}. Your vote was not counted.`;
    case 'settled':
      return settledText(cast.record, cast.state);
  }
}

/** Why a request cannot take this vote: what the email page answers with 409 (decided, voted) or 410 (expired, closed). */
function settledText(record: ApprovalRecord, state: Settled): string {
  switch (state.kind) {
    case 'decided':
      return `"${record.title}" was already ${state.decision.decision} by ${state.decision.approver} at ${formatUtc(state.decision.decidedAt)}: your vote was not counted.`;
    case 'voted':
      return `You already voted on "${record.title}" (${state.vote.decision} at ${formatUtc(state.vote.at)}): nothing changed.`;
    case 'expired':
      return `"${record.title}" expired at ${formatUtc(record.deadline)}: your vote was not counted.`;
    case 'closed':
      return `"${record.title}" is closed${state.reason ? `: ${state.reason}` : ''}. Your vote was not counted.`;
  }
}

function commentProblem(comment: string): string | undefined {
  return comment.length > COMMENT_MAX_CHARS ? `The comment is ${comment.length} characters long; at most ${COMMENT_MAX_CHARS} are allowed.` : undefined;
}
