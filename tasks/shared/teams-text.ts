/**
 * Microsoft Teams' markup, for everything opsflow sends to Teams as an Adaptive Card: notifications and approvals.
 * Text from outside (an instance tag, an execution input, an error) is shown literally, never as markup: no mention,
 * no link, no formatting.
 *
 * - Text goes in `TextRun`s of a `RichTextBlock`, never in a `TextBlock` or a `FactSet`: a TextRun's text is "Text to
 *   display. Markdown is not supported" (https://learn.microsoft.com/en-us/adaptive-cards/schema-explorer/text-run),
 *   while Teams reads Markdown in "Adaptive Card Textblock field, and Fact.Title and Fact.Value"
 *   (https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-format).
 * - A mention in a card is an `<at>name</at>` in the text *and* an entry in the card's `msteams.entities`
 *   (https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-format#mention-support-within-adaptive-cards);
 *   opsflow's cards carry no entities, so no text can mention anyone.
 * - Whether Teams turns a bare URL inside a TextRun into a link is not stated; text from outside has the `://` of a
 *   URL and a leading `www.` broken with a word joiner (U+2060, invisible), so it cannot (README, unconfirmed).
 * - Links are `Action.OpenUrl` buttons with our own title, and a percent-encoded http(s) URL.
 */
import { clip, safeUrl, singleLine } from './chat-text';

export interface TextRun {
  type: 'TextRun';
  text: string;
  weight?: 'Bolder';
  size?: 'Medium';
  color?: 'Attention' | 'Good' | 'Warning';
  fontType?: 'Monospace';
}

/** Our own words as a run (no Markdown there either). */
export function words(text: string, style: Omit<TextRun, 'type' | 'text'> = {}): TextRun {
  return { type: 'TextRun', text: singleLine(text), ...style };
}

/** Text from outside as a monospace run that shows it literally; '-' for an empty value. Cut at `max` characters. */
export function literal(value: string, max = Number.MAX_SAFE_INTEGER): TextRun {
  let text = clip(singleLine(value).trim(), max);
  if (text === '') text = '-';
  return { type: 'TextRun', text: text.replace(/:\/\//g, ':\u2060//').replace(/\bwww\./gi, (w) => `${w.slice(0, 3)}\u2060.`), fontType: 'Monospace' };
}

export interface OpenUrl {
  type: 'Action.OpenUrl';
  title: string;
  url: string;
}

/** A button that opens `url`. */
export function link(url: string, title: string): OpenUrl {
  return { type: 'Action.OpenUrl', title: singleLine(title), url: safeUrl(url) };
}
