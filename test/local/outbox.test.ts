import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Clock, StateDir } from '../../local/kernel';
import { extractLinks, FileOutbox } from '../../local/outbox';

function setup() {
  const state = new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-outbox-')));
  const clock = new Clock({ start: Date.parse('2024-04-02T08:30:00Z') });
  return { state, clock, outbox: new FileOutbox(state, clock) };
}

/** Minimal decoders so the test checks what a mail client would show. */
const decodeQp = (s: string) =>
  Buffer.from(
    s
      .replace(/=\r\n/g, '')
      .replace(/\r\n/g, '\n')
      .replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  ).toString('utf8');
const decodeSubject = (s: string) =>
  s.replace(/\r\n /g, '').replace(/=\?UTF-8\?B\?([^?]*)\?=/g, (_m, b64: string) => Buffer.from(b64, 'base64').toString('utf8'));

describe('FileOutbox', () => {
  it('assigns id, virtual sentAt and links, and keeps entries oldest first across restarts', () => {
    // Prepare
    const { state, clock, outbox } = setup();

    // Act
    const first = outbox.add({ service: 'ses', from: 'ops@example.com', to: ['a@example.com'], subject: 'one', text: 'Approve: https://h/approve?t=1&x=2.' });
    outbox.add({
      service: 'sns',
      to: ['arn:aws:sns:us-east-1:000000000000:t'],
      subject: 'two',
      text: 'hello',
      topicArn: 'arn:aws:sns:us-east-1:000000000000:t',
    });
    const reloaded = new FileOutbox(state, clock);
    const third = reloaded.add({ service: 'ses', to: ['b@example.com'], subject: 'three', text: 'x' });

    // Assess
    expect(first.id).toBe('msg-000001');
    expect(first.sentAt).toMatch(/^2024-04-02T08:30/);
    expect(first.links).toEqual(['https://h/approve?t=1&x=2']);
    expect(third.id).toBe('msg-000003');
    expect(reloaded.list().map((e) => e.subject)).toEqual(['one', 'two', 'three']);
  });

  it('writes a multipart/alternative .eml with encoded subject and quoted-printable parts', () => {
    // Prepare
    const { state, outbox } = setup();
    const subject = 'Approbation requise : arrêt des instances de développement — équipe données';
    const text = `Bonjour,\nune demande attend votre décision.   \nhttps://example.test/approve?token=${'a'.repeat(120)}\nMerci = thanks`;
    const html = '<p>Décidez&nbsp;: <a href="https://example.test/approve?token=1&amp;d=yes">Approuver</a></p>';

    // Act
    const entry = outbox.add({ service: 'ses', from: 'ops@example.com', to: ['a@example.com', 'b@example.com'], subject, text, html });
    const eml = readFileSync(state.path('outbox', `${entry.id}.eml`), 'utf8');

    // Assess
    const [head, body] = [eml.slice(0, eml.indexOf('\r\n\r\n')), eml.slice(eml.indexOf('\r\n\r\n'))];
    expect(head).toContain('From: ops@example.com\r\nTo: a@example.com, b@example.com\r\n');
    expect(head).toContain('Date: Tue, 02 Apr 2024 08:30:00 +0000');
    expect(head).toContain(`Message-ID: <${entry.id}@opsflow.local>`);
    expect(head).toMatch(/Content-Type: multipart\/alternative; boundary="([^"]+)"/);
    const subjectHeader = /Subject: ((?:.|\r\n )*)/.exec(head)![1];
    expect(subjectHeader.split('\r\n ').every((w) => w.length <= 75 && w.startsWith('=?UTF-8?B?'))).toBe(true);
    expect(decodeSubject(subjectHeader)).toBe(subject);
    expect(eml.split('\r\n').every((line) => line.length <= 998)).toBe(true);
    expect(
      body
        .split('\r\n')
        .filter((l) => !l.startsWith('--'))
        .every((line) => line.length <= 76),
    ).toBe(true);
    const boundary = /boundary="([^"]+)"/.exec(head)![1];
    const parts = body
      .split(`--${boundary}`)
      .slice(1, 3)
      .map((p) => p.slice(p.indexOf('\r\n\r\n') + 4).replace(/\r\n$/, ''));
    expect(decodeQp(parts[0])).toBe(text);
    expect(decodeQp(parts[1])).toBe(html);
    expect(entry.links).toEqual([`https://example.test/approve?token=${'a'.repeat(120)}`, 'https://example.test/approve?token=1&d=yes']);
  });

  it('writes a single text part when there is no html, with the SNS sender for notifications', () => {
    const { state, outbox } = setup();
    const entry = outbox.add({ service: 'sns', to: ['ops@example.com'], subject: 'Alarm', text: 'plain', topicArn: 'arn:aws:sns:us-east-1:000000000000:t' });
    const eml = readFileSync(state.path('outbox', `${entry.id}.eml`), 'utf8');
    expect(eml).toContain('From: AWS Notifications <no-reply@sns.amazonaws.com>');
    expect(eml).toContain('Content-Type: text/plain; charset=UTF-8');
    expect(eml).not.toContain('multipart');
  });
});

describe('extractLinks', () => {
  it('finds text URLs and html hrefs in order, decoded and de-duplicated', () => {
    const links = extractLinks(
      'See https://a.test/x, and (https://b.test/y) or http://a.test/x',
      '<a href="https://a.test/x">x</a><a href=\'https://c.test/?a=1&amp;b=&#50;\'>c</a><a href="mailto:x@y">m</a>',
    );
    expect(links).toEqual(['https://a.test/x', 'https://b.test/y', 'http://a.test/x', 'https://c.test/?a=1&b=2']);
  });
});
