/**
 * What every chat platform's escaper (slack-text.ts, mattermost-text.ts, teams-text.ts) does first to text from
 * outside (an instance tag, an execution input, an error, a user name): one line, and short, so that it can neither
 * start a block of the chat's markup (a heading, a quote, a table row, a list) nor fill a phone's screen.
 */

/** Control characters, and Unicode's line and paragraph separators, become spaces. */
export function singleLine(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
}

/** At most `max` characters (code points, so no emoji is cut in half), the last one `…` when cut. */
export function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/**
 * A link target that no chat's link syntax can end early: every character but letters, digits and `-._~:/?#=%&@+,;`
 * is percent-encoded (RFC 3986 lets any octet be), so neither `|` nor `>` (the end of a Slack link), `)`, `]` or a
 * space (the end of a Markdown link), nor `<` (an HTML tag) survives. Only http(s) URLs are accepted: a link is
 * never `javascript:` or `mailto:`.
 */
export function safeUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error(`chat links must be http(s), got ${parsed.protocol}`);
  return parsed.href.replace(/[^A-Za-z0-9\-._~:/?#=%&@+,;]/g, (c) =>
    [...Buffer.from(c)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}
