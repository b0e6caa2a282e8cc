/**
 * Text the slash command echoes from outside (the caller's user name, an instance's Name tag, what was typed) is
 * shown literally, never as the chat's markup: no mention (`<!channel>`, `@here`, `@channel`), no link
 * (`<http://evil|click here>`), no formatting, no table cell broken by a pipe. Both chats render a reply's `text`:
 *
 * - Slack (its payload carries `api_app_id`) reads mrkdwn. "Slack uses &, <, and > as control characters for special
 *   parsing in text objects, so they must be converted to HTML entities": & → &amp;, < → &lt;, > → &gt;
 *   (https://api.slack.com/reference/surfaces/formatting#escaping). mrkdwn has no escape for `*`, `_`, `~` or a
 *   backtick, but formats nothing inside an inline code span, so echoed text goes in one, with its own backticks
 *   replaced. Slack has no tables.
 * - Mattermost (and anything else) reads Markdown (https://docs.mattermost.com/collaborate/format-messages.html).
 *   Inside an inline code span nothing is formatted and HTML entities are not decoded (CommonMark), and Mattermost
 *   looks for @-mentions only after removing code spans ("Strips pre-formatted text and code blocks from a Markdown
 *   string", removeCodeFromMessage in mattermost-server app/notification.go), so echoed text goes in a code span
 *   too; Mattermost turns Slack's `<!channel>` and `<http://..|..>` into `@channel` and links (its Slack
 *   compatibility), but inside the span they stay text. A pipe ends a table cell even inside a code span unless
 *   escaped as `\|` (GitHub Flavored Markdown, which Mattermost's tables follow: https://github.github.com/gfm/#tables-extension-).
 */

export type Dialect = 'slack' | 'markdown';

/** Slack sends `api_app_id` with every slash command (https://api.slack.com/interactivity/slash-commands); Mattermost does not. */
export function dialectOf(form: URLSearchParams): Dialect {
  return form.has('api_app_id') ? 'slack' : 'markdown';
}

/** Control characters (a newline would start a new block: a heading, a quote, a table row) become spaces. */
export function singleLine(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
}

/** `value` as an inline code span that shows it literally in the dialect; '-' for an empty value. */
export function literal(value: string, dialect: Dialect): string {
  let text = singleLine(value).replace(/`/g, "'").trim();
  if (text === '') text = '-';
  if (dialect === 'slack') text = text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
  return `\`${text}\``;
}

/** `literal`, safe inside a Markdown table cell too. */
export function cell(value: string, dialect: Dialect): string {
  const code = literal(value, dialect);
  return dialect === 'markdown' ? code.replace(/\|/g, '\\|') : code;
}

/** Bold, in the dialect's syntax (for the reply's own words only, never for echoed text). */
export function bold(text: string, dialect: Dialect): string {
  return dialect === 'slack' ? `*${text}*` : `**${text}**`;
}
