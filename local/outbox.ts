/**
 * The mail outbox: every email SES "sends" and every SNS notification lands here instead of a mailbox.
 * The list lives in the state store 'outbox' (one record per message); each message is also written as an RFC 5322 `.eml` file that any
 * mail client opens, so an approver can click the real links exactly as in production.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Clock, Outbox, OutboxEntry, StateDir, Store } from './kernel';

const SNS_SENDER = 'AWS Notifications <no-reply@sns.amazonaws.com>';
const DEFAULT_SENDER = 'opsflow-local@localhost';

export class FileOutbox implements Outbox {
  private readonly entries: Store<OutboxEntry>;
  private counter: number;

  constructor(
    private readonly state: StateDir,
    private readonly clock: Clock,
  ) {
    this.entries = state.store<OutboxEntry>('outbox');
    this.counter = 0;
    for (const e of this.entries.values()) this.counter = Math.max(this.counter, Number(/^msg-(\d+)$/.exec(e.id)?.[1] ?? 0));
  }

  add(entry: Omit<OutboxEntry, 'id' | 'sentAt' | 'links'> & { links?: string[] }): OutboxEntry {
    this.counter += 1;
    const stored: OutboxEntry = {
      ...entry,
      id: `msg-${String(this.counter).padStart(6, '0')}`,
      sentAt: this.clock.now().toISOString(),
      links: dedupe([...(entry.links ?? []), ...extractLinks(entry.text, entry.html)]),
    };
    this.entries.put(stored.id, stored);
    // Message and link secrets: readable by this user only.
    mkdirSync(this.state.path('outbox'), { recursive: true, mode: 0o700 });
    writeFileSync(this.state.path('outbox', `${stored.id}.eml`), toEml(stored), { mode: 0o600 });
    return stored;
  }

  /** Oldest first. */
  list(): OutboxEntry[] {
    return [...this.entries.values()];
  }
}

/** http(s) URLs in the text body, then in the html hrefs (entities decoded), de-duplicated, in order. */
export function extractLinks(text: string, html?: string): string[] {
  const links = (text.match(/https?:\/\/[^\s<>"'`]+/g) ?? []).map(trimTrailingPunctuation);
  for (const m of (html ?? '').matchAll(/\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)) {
    const href = decodeEntities((m[1] ?? m[2] ?? m[3]).trim());
    if (/^https?:\/\//i.test(href)) links.push(href);
  }
  return dedupe(links);
}

/** A sentence ending right after a URL ("open https://x/y.") must not put the full stop in the link. */
function trimTrailingPunctuation(url: string): string {
  let out = url.replace(/[.,;:!?]+$/, '');
  // Keep a closing parenthesis only when the URL itself opened one (Wikipedia-style links).
  while (out.endsWith(')') && (out.match(/\(/g)?.length ?? 0) < (out.match(/\)/g)?.length ?? 0)) out = out.slice(0, -1);
  return out;
}

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') return String.fromCodePoint(name[1].toLowerCase() === 'x' ? parseInt(name.slice(2), 16) : Number(name.slice(1)));
    return NAMED_ENTITIES[name.toLowerCase()] ?? whole;
  });
}

function dedupe(items: string[]): string[] {
  return [...new Set(items)];
}

// ---------------------------------------------------------------------------------------------------------
// RFC 5322 / MIME rendering

export function toEml(e: OutboxEntry): string {
  const from = e.from ?? (e.service === 'sns' ? SNS_SENDER : DEFAULT_SENDER);
  const headers = [
    `From: ${from}`,
    `To: ${e.to.join(', ')}`,
    `Subject: ${encodeHeader(e.subject)}`,
    `Date: ${new Date(e.sentAt).toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${e.id}@opsflow.local>`,
    'MIME-Version: 1.0',
  ];
  if (e.topicArn) headers.push(`X-Opsflow-Topic-Arn: ${e.topicArn}`);
  const textPart = ['Content-Type: text/plain; charset=UTF-8', 'Content-Transfer-Encoding: quoted-printable', '', quotedPrintable(e.text)];
  if (e.html === undefined) return [...headers, ...textPart, ''].join('\r\n');
  const boundary = `=_opsflow_${e.id}`;
  const htmlPart = ['Content-Type: text/html; charset=UTF-8', 'Content-Transfer-Encoding: quoted-printable', '', quotedPrintable(e.html)];
  return [
    ...headers,
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    ...textPart,
    `--${boundary}`,
    ...htmlPart,
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

/** RFC 2047 B-encoding for non-ASCII subjects, split into encoded words of at most 75 characters. */
export function encodeHeader(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  const words: string[] = [];
  let chunk = '';
  for (const ch of value) {
    // 45 bytes of UTF-8 make 60 base64 characters, plus 12 for "=?UTF-8?B?" and "?=".
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}

/** RFC 2045 quoted-printable: CRLF line breaks, soft breaks keep lines within 76 characters. */
export function quotedPrintable(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => {
      const bytes = Buffer.from(line, 'utf8');
      const tokens: string[] = [];
      bytes.forEach((b, i) => {
        const last = i === bytes.length - 1;
        const literal = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last);
        tokens.push(literal ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`);
      });
      const out: string[] = [];
      let current = '';
      for (const token of tokens) {
        if (current.length + token.length > 75) {
          out.push(`${current}=`);
          current = '';
        }
        current += token;
      }
      out.push(current);
      return out.join('\r\n');
    })
    .join('\r\n');
}
