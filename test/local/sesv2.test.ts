import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendEmailCommand, SESv2Client, GetAccountCommand } from '@aws-sdk/client-sesv2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock, StateDir } from '../../local/kernel';
import { FileOutbox } from '../../local/outbox';
import { createServer, listen } from '../../local/server';
import { SesV2Service } from '../../local/services/sesv2';

describe('SesV2Service', () => {
  const outbox = new FileOutbox(new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-ses-'))), new Clock());
  const faults = { sesFailRate: 0 };
  let server: Server;
  let ses: SESv2Client;
  beforeAll(async () => {
    server = createServer([new SesV2Service({ outbox, faults, random: () => 0.5 })], async () => ({ status: 404, body: '' }));
    const port = await listen(server, 0);
    ses = new SESv2Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' }, maxAttempts: 1 });
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('stores a simple email in the outbox and returns its id', async () => {
    // Act
    const out = await ses.send(
      new SendEmailCommand({
        FromEmailAddress: 'approvals@example.com',
        Destination: { ToAddresses: ['alice@example.com'], CcAddresses: ['bob@example.com'] },
        ReplyToAddresses: ['ops@example.com'],
        Content: {
          Simple: {
            Subject: { Data: 'Approval needed: stop i-123' },
            Body: { Text: { Data: 'Approve: https://local/approve?t=abc' }, Html: { Data: '<a href="https://local/approve?t=abc&amp;d=1">Approve</a>' } },
          },
        },
      }),
    );

    // Assess
    const entry = outbox.list().find((e) => e.id === out.MessageId);
    expect(entry).toMatchObject({
      service: 'ses',
      from: 'approvals@example.com',
      to: ['alice@example.com', 'bob@example.com'],
      subject: 'Approval needed: stop i-123',
      links: ['https://local/approve?t=abc', 'https://local/approve?t=abc&d=1'],
    });
  });

  it('stores a raw message with its subject', async () => {
    const raw = 'From: a@example.com\r\nTo: b@example.com\r\nSubject: Raw hello\r\n\r\nbody https://x.test/1\r\n';
    const out = await ses.send(new SendEmailCommand({ Content: { Raw: { Data: Buffer.from(raw) } } }));
    expect(outbox.list().find((e) => e.id === out.MessageId)).toMatchObject({ from: 'a@example.com', to: ['b@example.com'], subject: 'Raw hello', text: raw, links: ['https://x.test/1'] });
  });

  it.each([
    ['a missing FromEmailAddress', { Destination: { ToAddresses: ['a@example.com'] } }, /FromEmailAddress/],
    ['no destination', { FromEmailAddress: 'a@example.com', Destination: {} }, /Destination/],
    ['an invalid address', { FromEmailAddress: 'a@example.com', Destination: { ToAddresses: ['not-an-address'] } }, /not-an-address/],
    ['a missing subject', { FromEmailAddress: 'a@example.com', Destination: { ToAddresses: ['b@example.com'] }, Content: { Simple: { Body: { Text: { Data: 'x' } } } } }, /subject/i],
  ])('rejects %s with BadRequestException naming the field', async (_name, input, message) => {
    const simple = { Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 't' } } } } };
    const before = outbox.list().length;
    await expect(ses.send(new SendEmailCommand({ ...simple, ...(input as object) }))).rejects.toMatchObject({ name: 'BadRequestException', message: expect.stringMatching(message), $metadata: { httpStatusCode: 400 } });
    expect(outbox.list()).toHaveLength(before);
  });

  it('injects throttling when the fault rate says so', async () => {
    // Prepare
    faults.sesFailRate = 0.9;
    const before = outbox.list().length;

    // Act
    const sending = ses.send(new SendEmailCommand({ FromEmailAddress: 'a@example.com', Destination: { ToAddresses: ['b@example.com'] }, Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 't' } } } } }));

    // Assess
    await expect(sending).rejects.toMatchObject({ name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } });
    expect(outbox.list()).toHaveLength(before);
    faults.sesFailRate = 0;
  });

  it('answers other operations with NotFoundException', async () => {
    await expect(ses.send(new GetAccountCommand({}))).rejects.toMatchObject({ name: 'NotFoundException' });
  });
});
