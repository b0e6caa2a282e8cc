/**
 * Mattermost's markup (Markdown, https://docs.mattermost.com/collaborate/format-messages.html), for everything
 * opsflow sends to Mattermost: slash command replies, notifications, approvals. Text from outside (an instance tag,
 * an execution input, an error, a user name) is shown literally, never as markup: no mention (`@channel`, `@here`,
 * `@all`, `@someone`), no link, no formatting, no table cell broken by a pipe.
 *
 * - Text from outside goes in an inline code span (`literal`): inside one nothing is formatted, nothing is linked and
 *   HTML entities are not decoded (CommonMark), and Mattermost looks for @-mentions only after removing code spans
 *   ("Strips pre-formatted text and code blocks from a Markdown string", removeCodeFromMessage in mattermost-server
 *   app/notification.go). Mattermost turns Slack's `<!channel>` and `<http://..|..>` into `@channel` and links (its
 *   Slack compatibility), but inside the span they stay text.
 * - A pipe ends a table cell even inside a code span unless escaped as `\|` (GitHub Flavored Markdown, which
 *   Mattermost's tables follow: https://github.github.com/gfm/#tables-extension-).
 * - Our own words are written with Markdown's punctuation backslash-escaped (CommonMark: "Any ASCII punctuation
 *   character may be backslash-escaped", https://spec.commonmark.org/0.31.2/#backslash-escapes) and an `@` followed
 *   by a word joiner, so that even a word of ours cannot format, link or mention.
 */
import { clip, safeUrl, singleLine } from './chat-text';

/** Our own words, as Markdown: punctuation escaped, `@` unable to start a mention. */
export function escape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|~<>&:]/g, (c) => `\\${c}`).replace(/@/g, '@\u2060');
}

/** Text from outside as an inline code span that shows it literally; '-' for an empty value. Cut at `max` characters. */
export function literal(value: string, max = Number.MAX_SAFE_INTEGER): string {
  let text = clip(singleLine(value).replace(/`/g, "'").trim(), max);
  if (text === '') text = '-';
  return `\`${text}\``;
}

/** `literal`, safe inside a Markdown table cell too. */
export function cell(value: string, max?: number): string {
  return literal(value, max).replace(/\|/g, '\\|');
}

/** Bold, for our own words only. */
export function bold(text: string): string {
  return `**${escape(text)}**`;
}

/** `[label](url)`: the URL percent-encoded where it could end the link. */
export function link(url: string, label: string): string {
  return `[${escape(label)}](${safeUrl(url)})`;
}
