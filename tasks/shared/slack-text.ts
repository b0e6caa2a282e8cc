/**
 * Slack's markup (mrkdwn), for everything opsflow sends to Slack: slash command replies, notifications, approvals.
 * Text from outside (an instance tag, an execution input, an error, a user name) is shown literally, never as
 * markup: no mention (`<!channel>`, `<!here>`, `<@U…>`), no link (`<http://evil|click here>`), no formatting.
 *
 * - "Slack uses &, <, and > as control characters for special parsing in text objects, so they must be converted to
 *   HTML entities": & → &amp;, < → &lt;, > → &gt; (https://api.slack.com/reference/surfaces/formatting#escaping).
 *   Every mention and link in mrkdwn is written between < and >, so with them escaped none can be made.
 * - mrkdwn has no escape for `*`, `_`, `~` or a backtick, but formats nothing inside an inline code span, so text
 *   from outside goes in one (`literal`), its own backticks replaced.
 * - Block Kit text objects are sent with `verbatim: true`: "When set to true, Slack will continue to process all
 *   markdown formatting and manual parsing strings, but it won't modify any plain-text content. For example, channel
 *   names will not be hyperlinked" (https://docs.slack.dev/reference/block-kit/composition-objects/text-object), so
 *   no bare URL or #channel in the text becomes a link.
 */
import { clip, safeUrl, singleLine } from './chat-text';

/** Our own words, as mrkdwn: only Slack's three control characters are escaped. */
export function escape(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

/** Text from outside as an inline code span that shows it literally; '-' for an empty value. Cut at `max` characters. */
export function literal(value: string, max = Number.MAX_SAFE_INTEGER): string {
  let text = clip(singleLine(value).replace(/`/g, "'").trim(), max);
  if (text === '') text = '-';
  return `\`${escape(text)}\``;
}

/** `literal`, for a table cell: Slack draws no tables, so it is the same. */
export const cell = literal;

/** Bold, for our own words only. */
export function bold(text: string): string {
  return `*${escape(text)}*`;
}

/** `<url|label>`: the URL percent-encoded where it could end the link, the label our own words. */
export function link(url: string, label: string): string {
  return `<${escape(safeUrl(url))}|${escape(label)}>`;
}
