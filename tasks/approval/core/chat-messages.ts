/**
 * An approval request's chat messages: posted by the worker with Approve / Reject buttons, and updated whenever the
 * record no longer matches what a message shows (a vote, the decision, expiry, closure), whoever changed it: a chat
 * click (core/chat.ts), the email page (core/decide.ts) or the sweep. What a message shows is remembered per message
 * (`shows`, `messageState`), so each change updates each message once, and a failed update is tried again next time.
 *
 * Buttons: Slack sends a click to the app's Request URL, signed (core/chat.ts verifies it), with the button's `value`
 * (the request id). Mattermost POSTs a click to the button's `integration.url` with its `context`, unsigned; the
 * context carries a secret made for this request (32 random bytes; the record keeps its sha256), which Mattermost
 * keeps on the server: a post's integration settings are not sent to clients. Teams incoming webhooks carry no
 * buttons that call back: its message says how to vote by mentioning the outgoing webhook.
 */
import type { ChatClient, ChatMessage, ChatTarget } from '../../shared/chat-post';
import { errorName, type Log } from '../../shared/logger';
import { detailsText, formatUtc } from './format';
import { hashSecret, newSecret } from './links';
import type { ApprovalStore } from './store';
import type { ApprovalRecord, ChatPost } from './types';

export interface ApprovalChatDeps {
  /** The chat client with the deployment's current secrets. */
  client(): Promise<ChatClient>;
  /** Where Mattermost buttons and dialogs call back (the stack output ApprovalChatCallbackUrl). */
  callbackUrl: string;
}

export interface ChatMessagesDeps {
  store: ApprovalStore;
  chat: ApprovalChatDeps;
  log: Log;
}

/** The button ids (Slack `action_id`, Mattermost action `id` and context `action`). */
export const APPROVE = 'approve';
export const REJECT = 'reject';
/** Details beyond this are cut in chat (the email and page show them whole). */
const DETAILS_CHARS = 1500;

/** What a message should show for the record now: the status, and while pending how many votes it has seen. */
export function messageState(record: ApprovalRecord): string {
  return record.status === 'pending' ? `pending:${record.votes.length}` : record.status;
}

/** The message for `record` on `platform`; `secret` goes in Mattermost buttons' context. */
export function requestMessage(record: ApprovalRecord, platform: ChatTarget['platform'], callbackUrl: string, secret: string): ChatMessage {
  const approvedBy = [...new Set(record.votes.filter((v) => v.decision === 'approved').map((v) => v.approver))];
  const d = record.decision;
  const who = (email: string) => {
    const via = record.votes.find((v) => v.approver === email)?.via?.platform;
    return via ? `${email} (${via})` : email;
  };
  const fields = [
    ...(record.requestedBy ? [{ label: 'Requested by', value: record.requestedBy }] : []),
    { label: 'Deadline', value: formatUtc(record.deadline) },
    { label: 'Approvals', value: `${approvedBy.length} of ${record.quorum}${approvedBy.length ? `: ${approvedBy.map(who).join(', ')}` : ''}` },
  ];
  const details = detailsText(record.details);
  const lines = details ? [details.length > DETAILS_CHARS ? `${details.slice(0, DETAILS_CHARS)}…` : details] : [];
  switch (record.status) {
    case 'approved':
      return {
        title: `Approved: ${record.title}`,
        lines: [`Approved by ${d!.approvers.map(who).join(', ')} at ${formatUtc(d!.decidedAt)}.`, ...(d!.comment ? [`Comment: ${d!.comment}`] : [])],
        fields,
      };
    case 'rejected':
      return {
        title: `Rejected: ${record.title}`,
        lines: [`Rejected by ${who(d!.approver)} at ${formatUtc(d!.decidedAt)}.`, ...(d!.comment ? [`Comment: ${d!.comment}`] : [])],
        fields,
      };
    case 'expired':
      return { title: `Expired: ${record.title}`, lines: [`Nobody decided before ${formatUtc(record.deadline)}.`], fields };
    case 'closed':
      return { title: `Closed: ${record.title}`, lines: [`This request is closed: ${record.closedReason ?? 'the workflow stopped waiting'}.`], fields };
    case 'pending':
      break;
  }
  const title = `Approval requested: ${record.title}`;
  if (platform === 'teams') {
    return { title, lines: [...lines, `To vote, mention the opsflow outgoing webhook: "approve ${record.id}" or "reject ${record.id} <comment>".`], fields };
  }
  const callback = (action: string) => ({ url: callbackUrl, context: { action, ref: record.id, secret } });
  return {
    title,
    lines,
    fields,
    buttons: [
      { id: APPROVE, label: 'Approve', style: 'primary', value: record.id, callback: callback(APPROVE) },
      { id: REJECT, label: 'Reject', style: 'danger', value: record.id, callback: callback(REJECT) },
    ],
  };
}

/** The chat part of a new record: the targets to post to, and the hash of the secret its Mattermost buttons carry. */
export function newChatRecord(targets: readonly ChatTarget[] | undefined): { chat?: ApprovalRecord['chat']; secret: string } {
  const secret = newSecret();
  if (!targets?.length) return { secret };
  return { chat: { secretHashes: [hashSecret(secret)], posts: targets.map((t) => ({ ...t, id: null, shows: null })) }, secret };
}

/**
 * Posts the request to each of its channels not posted yet (the worker, right after storing the record whose chat
 * secret is `secret`). A channel that refuses is recorded with its error and the others still get theirs; nothing
 * here fails the approval: the emails went out, and the request can be decided by email.
 */
export async function postRequest(deps: ChatMessagesDeps, record: ApprovalRecord, secret: string, which: 'failed' | 'all' = 'all'): Promise<ApprovalRecord> {
  const todo = record.chat?.posts.filter((p) => p.id === null && (which === 'all' || p.error !== undefined)) ?? [];
  if (todo.length === 0) return record;
  const results = new Map<ChatPost, { id: string } | { error: string }>();
  let client: ChatClient | undefined;
  for (const post of todo) {
    try {
      client ??= await deps.chat.client();
      const posted = await client.post(post, requestMessage(record, post.platform, deps.chat.callbackUrl, secret));
      results.set(post, { id: posted.id, ...(posted.channel !== post.channel ? { channel: posted.channel } : {}) });
    } catch (error) {
      const message = `${errorName(error)}: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300);
      deps.log.warn('approval not posted to chat', { requestId: record.id, platform: post.platform, error: errorName(error) });
      results.set(post, { error: message });
    }
  }
  const stored = await deps.store.update(record.id, (current) => {
    for (const [post, result] of results) {
      const p = current.chat?.posts.find((x) => x.platform === post.platform && x.channel === post.channel && x.id === null);
      if (!p) continue;
      if ('error' in result) p.error = result.error;
      else {
        Object.assign(p, result);
        delete p.error;
        p.shows = `pending:0`;
      }
    }
    return current;
  });
  deps.log.info('approval posted to chat', {
    requestId: record.id,
    posted: [...results.values()].filter((r) => 'id' in r).length,
    failed: [...results.values()].filter((r) => 'error' in r).length,
  });
  // A vote may have come in while posting: show it.
  return refreshPosts(deps, stored);
}

/**
 * Posts to the channels a record has not reached yet, under a new secret (the first one is not kept): `failed` only
 * those a post was tried for and refused (the sweep: a worker may be posting the others right now), `all` every
 * unposted one (a retried delivery of the task).
 */
export async function postMissing(deps: ChatMessagesDeps, record: ApprovalRecord, which: 'failed' | 'all'): Promise<ApprovalRecord> {
  if (!record.chat?.posts.some((p) => p.id === null && (which === 'all' || p.error !== undefined))) return record;
  const secret = newSecret();
  const stored = await deps.store.update(record.id, (current) => {
    current.chat?.secretHashes.push(hashSecret(secret));
    return current;
  });
  return postRequest(deps, stored, secret, which);
}

/**
 * Updates every posted message that shows something other than the record's state; returns the record as stored.
 * Teams messages are not edited (a webhook cannot): they get one follow-up when the request is decided or ends.
 */
export async function refreshPosts(deps: ChatMessagesDeps, record: ApprovalRecord): Promise<ApprovalRecord> {
  const want = messageState(record);
  const stale = (record.chat?.posts ?? []).filter((p) => p.id !== null && p.shows !== want && !(p.platform === 'teams' && record.status === 'pending'));
  if (stale.length === 0) return record;
  // A pending Mattermost message is replaced whole, buttons and their context included, so its buttons need a secret
  // again; the record keeps only hashes, so a new one is made and its hash stored before the message carries it.
  let secret = '';
  if (record.status === 'pending' && stale.some((p) => p.platform === 'mattermost')) {
    secret = newSecret();
    record = await deps.store.update(record.id, (current) => {
      current.chat?.secretHashes.push(hashSecret(secret));
      return current;
    });
  }
  const done: ChatPost[] = [];
  let client: ChatClient | undefined;
  for (const post of stale) {
    try {
      client ??= await deps.chat.client();
      await client.update(
        { platform: post.platform, channel: post.channel, id: post.id! },
        requestMessage(record, post.platform, deps.chat.callbackUrl, secret),
      );
      done.push(post);
    } catch (error) {
      deps.log.warn('approval chat message not updated', { requestId: record.id, platform: post.platform, error: errorName(error) });
    }
  }
  if (done.length === 0) return record;
  return deps.store.update(record.id, (current) => {
    let changed = false;
    for (const post of done) {
      const p = current.chat?.posts.find((x) => x.platform === post.platform && x.channel === post.channel && x.id === post.id);
      if (p && p.shows !== want) {
        p.shows = want;
        changed = true;
      }
    }
    return changed ? current : undefined;
  });
}
