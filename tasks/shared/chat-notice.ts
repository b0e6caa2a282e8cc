/**
 * A notification as a chat message a person reads on a phone: a short headline, a few counts, the few lines that
 * matter most, and a link to the execution. The same `Notice` is rendered for each platform by a pure function:
 * Slack (Block Kit with mrkdwn), Mattermost (Markdown with one message attachment), Teams (an Adaptive Card).
 *
 * Text from outside (an instance tag, an execution input, an error, a cause) is a `{ literal }` piece and goes
 * through the platform's escaper (slack-text.ts, mattermost-text.ts, teams-text.ts): it is shown, never read as
 * markup. A notice's own words (`title`, labels, `more`) are escaped too, in case one ever carries outside text.
 *
 * Phone-readable: at most MAX_FACTS counts, MAX_LINES lines, each outside value cut at MAX_LITERAL_CHARS; the rest is
 * behind the link. The platforms' own limits are far above that: Slack's section text "maximum length is 3000
 * characters" and a header's 150 (https://docs.slack.dev/reference/block-kit/blocks/section-block,
 * https://docs.slack.dev/reference/block-kit/blocks/header-block); Mattermost posts 16383 characters
 * (https://docs.mattermost.com/configure/environment-configuration-settings.html, "Maximum post length");
 * Teams messages 28 KB (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook,
 * "The size limit for a message is 28 KB").
 */
import { clip, singleLine } from './chat-text';
import * as mattermost from './mattermost-text';
import * as slack from './slack-text';
import * as teams from './teams-text';
import type { ChatPlatform } from './chat-auth';

/** Our own words (a string), or text from outside (`{ literal }`), shown literally. */
export type Piece = string | { literal: string };

export interface Notice {
  /** Colours the message: red, amber, green, grey. */
  tone: 'failure' | 'warning' | 'success' | 'info';
  /** The headline, also the phone's notification text: our own words, e.g. "TagPolicy failed". */
  title: string;
  /** Counts and short facts, `label: value`. */
  facts: { label: string; value: Piece[] }[];
  /** The few lines that matter most (failures first), each a list of pieces. */
  lines: Piece[][];
  /** What is left out, in our words: "and 12 more: open the execution". */
  more?: string;
  /** The execution's console page. */
  link: { url: string; label: string };
}

export const MAX_TITLE_CHARS = 100;
export const MAX_FACTS = 6;
export const MAX_LINES = 5;
export const MAX_LITERAL_CHARS = 120;

/** What each platform's client posts: Slack's chat.postMessage fields, Mattermost's post fields, Teams' webhook body. */
export type SlackMessage = { text: string; blocks: Record<string, unknown>[] };
export type MattermostMessage = { message: string; props: { attachments: Record<string, unknown>[] } };
export type TeamsMessage = { type: 'message'; attachments: { contentType: string; contentUrl: null; content: Record<string, unknown> }[] };
export type RenderedNotice =
  | { platform: 'slack'; body: SlackMessage }
  | { platform: 'mattermost'; body: MattermostMessage }
  | { platform: 'teams'; body: TeamsMessage };

const EMOJI: Record<Notice['tone'], string> = { failure: '🔴', warning: '🟠', success: '🟢', info: '🔵' };
const COLOR: Record<Notice['tone'], string> = { failure: '#d0312d', warning: '#e8a317', success: '#2e8540', info: '#6b7785' };
const TEAMS_COLOR: Record<Notice['tone'], teams.TextRun['color'] | undefined> = {
  failure: 'Attention',
  warning: 'Warning',
  success: 'Good',
  info: undefined,
};

/** The notice within the phone-readable bounds: what is cut is counted in `more`. */
export function bounded(n: Notice): Notice {
  const cutLines = Math.max(0, n.lines.length - MAX_LINES);
  const more = n.more ?? (cutLines ? `and ${cutLines} more: open the execution` : undefined);
  return {
    ...n,
    title: clip(singleLine(n.title), MAX_TITLE_CHARS),
    facts: n.facts.slice(0, MAX_FACTS),
    lines: n.lines.slice(0, MAX_LINES),
    ...(more !== undefined && { more }),
  };
}

export function renderNotice(platform: ChatPlatform, notice: Notice): RenderedNotice {
  switch (platform) {
    case 'slack':
      return { platform, body: renderSlack(notice) };
    case 'mattermost':
      return { platform, body: renderMattermost(notice) };
    case 'teams':
      return { platform, body: renderTeams(notice) };
  }
}

const isLiteral = (p: Piece): p is { literal: string } => typeof p !== 'string';

/**
 * Block Kit: a header (plain text), the facts as fields, the lines as one section, the link in a context block;
 * `text` is what the phone's notification shows. The link is a mrkdwn link, not a button: a button with a URL
 * still sends an interaction payload to the app (https://docs.slack.dev/reference/block-kit/block-elements/button-element).
 */
export function renderSlack(notice: Notice): SlackMessage {
  const n = bounded(notice);
  const piece = (p: Piece) => (isLiteral(p) ? slack.literal(p.literal, MAX_LITERAL_CHARS) : slack.escapeText(singleLine(p)));
  const mrkdwn = (text: string) => ({ type: 'mrkdwn', text, verbatim: true });
  const blocks: Record<string, unknown>[] = [{ type: 'header', text: { type: 'plain_text', text: `${EMOJI[n.tone]} ${n.title}`, emoji: true } }];
  if (n.facts.length) blocks.push({ type: 'section', fields: n.facts.map((f) => mrkdwn(`${slack.bold(f.label)}\n${f.value.map(piece).join('')}`)) });
  const lines = n.lines.map((l) => `• ${l.map(piece).join('')}`);
  if (n.more) lines.push(`_${slack.escapeText(n.more)}_`);
  if (lines.length) blocks.push({ type: 'section', text: mrkdwn(lines.join('\n')) });
  blocks.push({ type: 'context', elements: [mrkdwn(slack.link(n.link.url, n.link.label))] });
  return { text: slack.escapeText(`${EMOJI[n.tone]} ${n.title}`), blocks };
}

/**
 * A post: the headline as `message` (what notifications show), and one attachment with the tone's colour, the
 * facts as short fields, the lines and the link. Attachment text and fields are Markdown and "Supports @mentions"
 * (https://developers.mattermost.com/integrate/reference/message-attachments/), so every piece is escaped there too;
 * `fallback` is plain text, "used in notifications", and holds only the headline.
 */
export function renderMattermost(notice: Notice): MattermostMessage {
  const n = bounded(notice);
  const piece = (p: Piece) => (isLiteral(p) ? mattermost.literal(p.literal, MAX_LITERAL_CHARS) : mattermost.escapeText(singleLine(p)));
  const lines = n.lines.map((l) => `- ${l.map(piece).join('')}`);
  if (n.more) lines.push(`_${mattermost.escapeText(n.more)}_`);
  lines.push(mattermost.link(n.link.url, n.link.label));
  return {
    message: `${EMOJI[n.tone]} ${mattermost.bold(n.title)}`,
    props: {
      attachments: [
        {
          fallback: `${EMOJI[n.tone]} ${n.title}`,
          color: COLOR[n.tone],
          fields: n.facts.map((f) => ({ title: f.label, value: f.value.map(piece).join(''), short: true })),
          text: lines.join('\n'),
        },
      ],
    },
  };
}

/**
 * An Adaptive Card (1.4) in the envelope an incoming webhook takes
 * (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook):
 * every text a RichTextBlock of TextRuns (no Markdown), the link an Action.OpenUrl; `summary`-like notification text
 * is the card's `fallbackText`.
 */
export function renderTeams(notice: Notice): TeamsMessage {
  const n = bounded(notice);
  const runs = (pieces: Piece[]) => pieces.map((p) => (isLiteral(p) ? teams.literal(p.literal, MAX_LITERAL_CHARS) : teams.words(p)));
  const block = (inlines: teams.TextRun[]) => ({ type: 'RichTextBlock', inlines });
  const body: Record<string, unknown>[] = [
    block([teams.words(`${EMOJI[n.tone]} ${n.title}`, { weight: 'Bolder', size: 'Medium', color: TEAMS_COLOR[n.tone] })]),
  ];
  for (const f of n.facts) body.push(block([teams.words(`${f.label}: `, { weight: 'Bolder' }), ...runs(f.value)]));
  for (const l of n.lines) body.push(block([teams.words('• '), ...runs(l)]));
  if (n.more) body.push(block([teams.words(n.more)]));
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          fallbackText: `${EMOJI[n.tone]} ${n.title}`,
          body,
          actions: [teams.link(n.link.url, n.link.label)],
        },
      },
    ],
  };
}
