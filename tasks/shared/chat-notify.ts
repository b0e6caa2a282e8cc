/**
 * Sends a notice to its chat channels, after the email/SNS delivery it accompanies: a chat that cannot be reached
 * (unset secret, wrong channel, the chat service down, no route out) never fails the task and never costs the
 * email. Each outcome is logged with a reason a person can act on, and returned, so the execution shows it too.
 */
import { renderNotice, type Notice, type RenderedNotice } from './chat-notice';
import type { ChatTarget } from './chat-post';
import { errorName, type Log } from './logger';

/** Posts one rendered notice to one target: the shared client's `postRendered` (tasks/shared/chat-post.ts). */
export type PostNotice = (target: ChatTarget, message: RenderedNotice) => Promise<unknown>;

export interface ChatNotifier {
  targets: ChatTarget[];
  post: PostNotice;
}

export type ChatDelivery = { platform: ChatTarget['platform']; delivered: true } | { platform: ChatTarget['platform']; delivered: false; reason: string };

/** The longest reason kept: it goes into the log and the execution's output. */
const REASON_CHARS = 300;
/**
 * How long a post may take before the notice is given up: well inside the posting functions' 30 s timeout, so that a
 * chat that hangs cannot time the task out (and, for Ec2Schedule, stop the SNS report published after it). The client
 * gives up on one call at the same bound (CHAT_CALL_TIMEOUT_MS); this one covers reading the secret too.
 */
export const CHAT_POST_TIMEOUT_MS = 10_000;

export class ChatPostTimeoutError extends Error {
  override name = 'ChatPostTimeout';
}

/** Posts `notice` to every target, one after the other; never throws. */
export async function notifyChat(notice: Notice, chat: ChatNotifier, log: Log, context: Record<string, unknown>): Promise<ChatDelivery[]> {
  const out: ChatDelivery[] = [];
  for (const target of chat.targets) out.push(await postOne(notice, target, chat.post, log, context));
  return out;
}

async function postOne(notice: Notice, target: ChatTarget, post: PostNotice, log: Log, context: Record<string, unknown>): Promise<ChatDelivery> {
  const platform = target.platform;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ChatPostTimeoutError(`no answer within ${CHAT_POST_TIMEOUT_MS / 1000} s`)), CHAT_POST_TIMEOUT_MS);
    });
    await Promise.race([post(target, renderNotice(platform, notice)), timeout]);
    log.info('chat notification posted', { ...context, platform, channel: target.channel });
    return { platform, delivered: true };
  } catch (err) {
    // The client's errors name the platform, the method and the chat's error code, never a token or a webhook URL.
    const reason = `${errorName(err)}: ${err instanceof Error ? err.message : String(err)}`.slice(0, REASON_CHARS);
    log.warn('chat notification not delivered (the email/SNS message was sent)', { ...context, platform, channel: target.channel, reason });
    return { platform, delivered: false, reason };
  } finally {
    clearTimeout(timer);
  }
}
