import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateEmailIdentityCommand,
  DeleteEmailIdentityCommand,
  GetAccountCommand,
  GetEmailIdentityCommand,
  ListConfigurationSetsCommand,
  ListEmailIdentitiesCommand,
  SendEmailCommand,
  SESv2Client,
} from '@aws-sdk/client-sesv2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock, StateDir } from '../../local/kernel';
import { FileOutbox } from '../../local/outbox';
import { createServer, listen } from '../../local/server';
import { SesAccount, SesV2Service } from '../../local/services/sesv2';

describe('SesV2Service', () => {
  const state = new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-ses-')));
  const clock = new Clock();
  const outbox = new FileOutbox(state, clock);
  const faults = { sesFailRate: 0 };
  let sandbox = false;
  const account = new SesAccount(state, clock, () => sandbox);
  account.verify('example.com');
  let server: Server;
  let ses: SESv2Client;
  beforeAll(async () => {
    server = createServer([new SesV2Service({ outbox, account, clock, faults, sendRate: 1, random: () => 0.5 })], async () => ({ status: 404, body: '' }));
    const port = await listen(server, 0);
    ses = new SESv2Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
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
    expect(outbox.list().find((e) => e.id === out.MessageId)).toMatchObject({
      from: 'a@example.com',
      to: ['b@example.com'],
      subject: 'Raw hello',
      text: raw,
      links: ['https://x.test/1'],
    });
  });

  it.each([
    ['a missing FromEmailAddress', { Destination: { ToAddresses: ['a@example.com'] } }, /FromEmailAddress/],
    ['no destination', { FromEmailAddress: 'a@example.com', Destination: {} }, /Destination/],
    ['an invalid address', { FromEmailAddress: 'a@example.com', Destination: { ToAddresses: ['not-an-address'] } }, /not-an-address/],
    [
      'a missing subject',
      { FromEmailAddress: 'a@example.com', Destination: { ToAddresses: ['b@example.com'] }, Content: { Simple: { Body: { Text: { Data: 'x' } } } } },
      /subject/i,
    ],
  ])('rejects %s with BadRequestException naming the field', async (_name, input, message) => {
    const simple = { Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 't' } } } } };
    const before = outbox.list().length;
    await expect(ses.send(new SendEmailCommand({ ...simple, ...(input as object) }))).rejects.toMatchObject({
      name: 'BadRequestException',
      message: expect.stringMatching(message),
      $metadata: { httpStatusCode: 400 },
    });
    expect(outbox.list()).toHaveLength(before);
  });

  it('injects throttling when the fault rate says so', async () => {
    // Prepare
    faults.sesFailRate = 0.9;
    const before = outbox.list().length;

    // Act
    const sending = ses.send(
      new SendEmailCommand({
        FromEmailAddress: 'a@example.com',
        Destination: { ToAddresses: ['b@example.com'] },
        Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 't' } } } },
      }),
    );

    // Assess
    await expect(sending).rejects.toMatchObject({ name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } });
    expect(outbox.list()).toHaveLength(before);
    faults.sesFailRate = 0;
  });

  it('answers other operations with NotFoundException', async () => {
    await expect(ses.send(new ListConfigurationSetsCommand({}))).rejects.toMatchObject({ name: 'NotFoundException' });
  });

  describe('identities and the sandbox', () => {
    const email = (from: string, ...to: string[]) =>
      new SendEmailCommand({
        FromEmailAddress: from,
        Destination: { ToAddresses: to },
        Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 't' } } } },
      });
    const notVerified = (...identities: string[]) => ({
      name: 'MessageRejected',
      message: `Email address is not verified. The following identities failed the check in region US-EAST-1: ${identities.join(', ')}`,
      $metadata: { httpStatusCode: 400 },
    });

    it('creates, reads, lists and deletes email identities (verified at once locally)', async () => {
      // Act
      const created = await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: 'Ops@Partner.example.net' }));
      const read = await ses.send(new GetEmailIdentityCommand({ EmailIdentity: 'ops@partner.example.net' }));
      const listed = await ses.send(new ListEmailIdentitiesCommand({}));
      const again = await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: 'ops@partner.example.net' })).catch((e: Error) => e);
      await ses.send(new DeleteEmailIdentityCommand({ EmailIdentity: 'Ops@Partner.example.net' }));
      const gone = await ses.send(new GetEmailIdentityCommand({ EmailIdentity: 'ops@partner.example.net' })).catch((e: Error) => e);

      // Assess
      expect(created).toMatchObject({ IdentityType: 'EMAIL_ADDRESS', VerifiedForSendingStatus: true });
      expect(read).toMatchObject({ IdentityType: 'EMAIL_ADDRESS', VerifiedForSendingStatus: true, VerificationStatus: 'SUCCESS' });
      expect(listed.EmailIdentities).toEqual(
        expect.arrayContaining([
          { IdentityType: 'DOMAIN', IdentityName: 'example.com', SendingEnabled: true, VerificationStatus: 'SUCCESS' },
          { IdentityType: 'EMAIL_ADDRESS', IdentityName: 'Ops@Partner.example.net', SendingEnabled: true, VerificationStatus: 'SUCCESS' },
        ]),
      );
      expect(again).toMatchObject({ name: 'AlreadyExistsException', $metadata: { httpStatusCode: 400 } });
      expect(gone).toMatchObject({ name: 'NotFoundException', $metadata: { httpStatusCode: 404 } });
      await expect(ses.send(new CreateEmailIdentityCommand({ EmailIdentity: 'not an identity' }))).rejects.toMatchObject({ name: 'BadRequestException' });
    });

    it('refuses a sender no verified identity covers, in or out of the sandbox (MessageRejected)', async () => {
      sandbox = false;
      await expect(ses.send(email('ops@elsewhere.example.org', 'b@example.com'))).rejects.toMatchObject(notVerified('ops@elsewhere.example.org'));
      // A verified domain covers its addresses and subdomains.
      await expect(ses.send(email('Ops <ops@mail.example.com>', 'b@example.com'))).resolves.toMatchObject({ MessageId: expect.any(String) });
    });

    it('out of the sandbox sends to anyone; in the sandbox only to verified identities and the mailbox simulator', async () => {
      // Prepare
      const before = outbox.list().length;
      sandbox = false;
      await ses.send(email('ops@example.com', 'guest@partner.example.net'));

      // Act + Assess
      sandbox = true;
      await expect(ses.send(email('ops@example.com', 'lead@example.com', 'guest@partner.example.net', 'other@partner.example.net'))).rejects.toMatchObject(
        notVerified('guest@partner.example.net', 'other@partner.example.net'),
      );
      await expect(ses.send(email('ops@example.com', 'success@simulator.amazonses.com'))).resolves.toBeDefined();
      await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: 'guest@partner.example.net' }));
      await expect(ses.send(email('ops@example.com', 'guest@partner.example.net'))).resolves.toBeDefined();
      expect(
        outbox
          .list()
          .slice(before)
          .map((e) => e.to),
      ).toEqual([['guest@partner.example.net'], ['success@simulator.amazonses.com'], ['guest@partner.example.net']]);
      sandbox = false;
    });

    it('tells its sandbox status and sending quota (GetAccount)', async () => {
      sandbox = true;
      expect(await ses.send(new GetAccountCommand({}))).toMatchObject({
        ProductionAccessEnabled: false,
        SendQuota: { MaxSendRate: 1, Max24HourSend: 200, SentLast24Hours: expect.any(Number) },
      });
      sandbox = false;
      expect(await ses.send(new GetAccountCommand({}))).toMatchObject({ ProductionAccessEnabled: true });
    });
  });
});
