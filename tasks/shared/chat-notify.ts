/**
 * Sends a notice to its chat target, after the email/SNS delivery it accompanies: a chat that cannot be reached
 * (unset secret, wrong channel, the chat service down, no route out) never fails the task and never costs the
 * email. The outcome is logged with a reason a person can act on, and returned, so the execution shows it too.
 */
import { renderNotice, type Notice, type RenderedNotice } from './chat-notice';
import type { ChatTarget } from './chat-target';
import { errorName } from './logger';
import type { Log } from './logger';

/** Posts one rendered notice to a target (tasks/shared/chat-post.ts behind it). */
export type PostNotice = (target: ChatTarget, message: RenderedNotice) => Promise<void>;

export interface ChatNotifier {
  target: ChatTarget;
  post: PostNotice;
}

export type ChatDelivery = { delivered: true; platform: ChatTarget['platform'] } | { delivered: false; platform: ChatTarget['platform']; reason: string };

/** The longest reason kept: it goes into the log and the execution's output. */
const REASON_CHARS = 300;
/**
 * How long a post may take before the notice is given up: well inside the posting functions' 30 s timeout, so that a
 * chat that hangs cannot time the task out (and, for Ec2Schedule, stop the SNS report published after it).
 */
export const CHAT_POST_TIMEOUT_MS = 10_000;

export class ChatPostTimeoutError extends Error {
  override name = 'ChatPostTimeout';
}

export async function notifyChat(notice: Notice, chat: ChatNotifier, log: Log, context: Record<string, unknown>): Promise<ChatDelivery> {
  const platform = chat.target.platform;
  try {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ChatPostTimeoutError(`no answer within ${CHAT_POST_TIMEOUT_MS / 1000} s`)), CHAT_POST_TIMEOUT_MS);
    });
    try {
      await Promise.race([chat.post(chat.target, renderNotice(platform, notice)), timeout]);
    } finally {
      clearTimeout(timer);
    }
    log.info('chat notification posted', { ...context, platform });
    return { delivered: true, platform };
  } catch (err) {
    const reason = `${errorName(err)}: ${err instanceof Error ? err.message : String(err)}`.slice(0, REASON_CHARS);
    log.warn('chat notification not delivered (the email/SNS message was sent)', { ...context, platform, reason });
    return { delivered: false, platform, reason };
  }
}
