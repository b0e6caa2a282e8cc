import { describe, expect, it } from 'vitest';
import { MAX_FACTS, MAX_LINES, MAX_LITERAL_CHARS, renderMattermost, renderSlack, renderTeams, type Notice } from '../../../tasks/shared/chat-notice';
import { safeUrl } from '../../../tasks/shared/chat-text';

/** What anyone can put in a tag, an execution input or an error, to ping, link or format in one of the three chats. */
const ATTACKS = [
  '<!channel> <!here> <!everyone>',
  '@channel @here @all @someone',
  '<@U0123ABCD> <#C0123ABCD> <!subteam^S0123>',
  '<http://evil.example|click here>',
  '[click here](http://evil.example)',
  'https://evil.example/login www.evil.example',
  '*bold* _italic_ ~strike~ `code` **strong**',
  '# Heading\n> quote\n- item\n| a | b |',
  '<at>Everyone</at> <b>html</b>',
  '&lt;!here&gt; &amp;',
  ':rotating_light: ~town-square',
];

const CONSOLE =
  'https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:123456789012:execution:Opsflow-TagPolicy:run-1';

function notice(attack: string): Notice {
  return {
    tone: 'failure',
    title: 'TagPolicy failed',
    facts: [
      { label: 'Error', value: [{ literal: attack }] },
      { label: 'Ran', value: ['2 min 3 s'] },
    ],
    lines: [[{ literal: 'i-0123456789abcdef0' }, ': ', { literal: attack }]],
    link: { url: CONSOLE, label: 'Open the execution' },
  };
}

/** Words of the attacks that must never appear outside a literal (code span / monospace run). */
const TELLTALES = ['evil', 'channel', 'here', 'everyone', 'someone', 'click', 'bold', 'Heading', 'quote', 'U0123', 'Everyone', 'rotating', 'town'];

describe('chat notices: text from outside is shown, never read as markup', () => {
  describe.each(ATTACKS)('%j', (attack) => {
    it('Slack: only inside code spans, with &, < and > escaped, in verbatim mrkdwn', () => {
      const m = renderSlack(notice(attack));
      const mrkdwn: { text: string; verbatim?: boolean }[] = [];
      const walk = (v: unknown) => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object') {
          const o = v as Record<string, unknown>;
          if (o.type === 'mrkdwn') mrkdwn.push(o as never);
          Object.values(o).forEach(walk);
        }
      };
      walk(m.blocks);
      expect(mrkdwn.length).toBeGreaterThan(0);
      for (const t of mrkdwn) {
        expect(t.verbatim).toBe(true);
        // Our one link is the only <...> left; every mention and link in mrkdwn needs < and >.
        const outside = t.text.replace(/`[^`\n]*`/g, '').replace(/<https:\/\/[^|>]+\|Open the execution>/, '');
        expect(outside).not.toMatch(/[<>]/);
        for (const w of TELLTALES) expect(outside).not.toContain(w);
        // A literal never leaves its code span: it has no backtick or newline of its own.
        for (const span of t.text.match(/`[^`]*`/g) ?? []) expect(span).not.toMatch(/[<>\n]/);
      }
      expect(m.text).not.toMatch(/[<>]/);
      expect(JSON.stringify(m.blocks[0])).not.toMatch(/evil|channel/); // the header is our words only
    });

    it('Mattermost: only inside code spans, everywhere Markdown is read (message, attachment text, fields)', () => {
      const m = renderMattermost(notice(attack));
      const a = m.props.attachments[0] as { text: string; fields: { value: string }[]; fallback: string };
      for (const text of [m.message, a.text, ...a.fields.map((f) => f.value)]) {
        const outside = text.replace(/`[^`\n]*`/g, '').replace(/\[Open the execution\]\(https:\/\/[^)\s]+\)/, '');
        for (const w of TELLTALES) expect(outside).not.toContain(w);
        expect(outside).not.toMatch(/@\w/);
        expect(outside).not.toMatch(/[<\]]/);
        expect((text.match(/`/g) ?? []).length % 2).toBe(0);
      }
      // Notifications show `fallback` as plain text: our words only.
      expect(a.fallback).toBe('🔴 TagPolicy failed');
      // Lines stay lines: a newline from outside cannot start a heading, quote or table row.
      expect(a.text.split('\n')).toHaveLength(2);
    });

    it('Teams: only in monospace TextRuns of RichTextBlocks, never Markdown, no mention entities', () => {
      const m = renderTeams(notice(attack));
      const card = m.attachments[0].content;
      const types = new Set<string>();
      const runs: { text: string; fontType?: string }[] = [];
      const walk = (v: unknown) => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object') {
          const o = v as Record<string, unknown>;
          if (typeof o.type === 'string') types.add(o.type);
          if (o.type === 'TextRun') runs.push(o as never);
          Object.values(o).forEach(walk);
        }
      };
      walk(card.body);
      expect([...types].sort()).toEqual(['RichTextBlock', 'TextRun']);
      expect(card).not.toHaveProperty('msteams');
      for (const r of runs) {
        if (TELLTALES.some((w) => r.text.includes(w))) expect(r.fontType).toBe('Monospace');
        expect(r.text).not.toMatch(/\n/);
        expect(r.text).not.toMatch(/:\/\/|www\./i); // no bare URL to turn into a link
      }
      expect(card.fallbackText).toBe('🔴 TagPolicy failed');
    });
  });

  it('keeps what was sent readable: the attack text is there, literally', () => {
    const slack = JSON.stringify(renderSlack(notice('<!here> *x*')).blocks);
    expect(slack).toContain('`&lt;!here&gt; *x*`');
    const mm = renderMattermost(notice('@channel *x*')).props.attachments[0] as { text: string };
    expect(mm.text).toContain('`@channel *x*`');
    const teams = JSON.stringify(renderTeams(notice('@channel *x*')));
    expect(teams).toContain('"text":"@channel *x*","fontType":"Monospace"');
  });
});

describe('chat notices: readable on a phone', () => {
  const huge: Notice = {
    tone: 'warning',
    title: `Tag policy: ${'9'.repeat(300)} violating`,
    facts: Array.from({ length: 20 }, (_, i) => ({ label: `Fact ${i}`, value: [{ literal: 'v'.repeat(5000) }] })),
    lines: Array.from({ length: 50 }, (_, i) => [{ literal: `i-${i}` }, ': ', { literal: 'x'.repeat(10_000) }]),
    link: { url: CONSOLE, label: 'Open the execution' },
  };

  it('shows at most a few facts and lines, each value cut, and says what was left out', () => {
    const s = renderSlack(huge);
    const fields = (s.blocks[1] as { fields: unknown[] }).fields;
    expect(fields).toHaveLength(MAX_FACTS);
    const section = (s.blocks[2] as { text: { text: string } }).text.text;
    expect(section.split('\n')).toHaveLength(MAX_LINES + 1);
    expect(section).toContain('and 45 more: open the execution');
    expect(section).toContain(`\`${'x'.repeat(MAX_LITERAL_CHARS - 1)}…\``);
    // Slack: header 150 characters, section text 3000, fields 10 (Block Kit reference pages).
    expect([...(s.blocks[0] as { text: { text: string } }).text.text].length).toBeLessThanOrEqual(150);
    expect(section.length).toBeLessThanOrEqual(3000);
    expect(JSON.stringify(s).length).toBeLessThan(4000);
  });

  it('stays a few KB on Mattermost and Teams (Teams takes 28 KB)', () => {
    expect(JSON.stringify(renderMattermost(huge)).length).toBeLessThan(4000);
    const teams = JSON.stringify(renderTeams(huge));
    expect(Buffer.byteLength(teams)).toBeLessThan(6000);
    expect(renderTeams(huge).attachments[0].content.body).toHaveLength(1 + MAX_FACTS + MAX_LINES + 1);
  });
});

describe('chat notices: the link to the execution', () => {
  it("is the console URL, in each platform's link syntax", () => {
    expect(JSON.stringify(renderSlack(notice('x')).blocks)).toContain(`<${CONSOLE}|Open the execution>`);
    expect((renderMattermost(notice('x')).props.attachments[0] as { text: string }).text).toContain(`[Open the execution](${CONSOLE})`);
    expect(renderTeams(notice('x')).attachments[0].content.actions).toEqual([{ type: 'Action.OpenUrl', title: 'Open the execution', url: CONSOLE }]);
  });

  it("keeps the local console's execution page as it is", () => {
    const local =
      'http://127.0.0.1:4566/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:000000000000:execution:Opsflow-Ec2Schedule:run-2';
    expect(safeUrl(local)).toBe(local);
  });

  it('cannot be ended early by an execution name, nor be anything but http(s)', () => {
    const url = safeUrl(`${CONSOLE}:a)b|c>d]e<f g`);
    expect(url).toBe(`${CONSOLE}:a%29b%7Cc%3Ed%5De%3Cf%20g`);
    expect(() => safeUrl('javascript:alert(1)')).toThrow('chat links must be http(s), got javascript:');
    const s = JSON.stringify(renderSlack({ ...notice('x'), link: { url: `${CONSOLE}|evil>`, label: 'Open' } }).blocks);
    expect(s).toContain('%7Cevil%3E|Open>');
  });
});
