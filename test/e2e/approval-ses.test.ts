/**
 * The approval emails in a new account's SES, through the runtime with its defaults: the sandbox (mail only to
 * verified identities; IAM authorizes the recipients' identities too), 1 email per second with each recipient
 * counted, and the sender's identity resolved as SES resolves it. The app's verified identity is its config's
 * (`local.sesIdentities`: example.com).
 */
import { CreateEmailIdentityCommand, DeleteEmailIdentityCommand, GetAccountCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../local/kernel';
import { credentials, startRuntime, type Harness } from './harness';

let h: Harness;
let ses: SESv2Client;
beforeAll(async () => {
  h = await startRuntime({ rules: { sesSandbox: true, sesPerSecond: 1 } });
  ses = new SESv2Client({ endpoint: h.endpoint, region: 'us-east-1', credentials });
});
afterAll(async () => {
  ses?.destroy();
  await h?.stop();
});

let n = 0;
const title = (what: string) => `${what} #${++n} ${Date.now()}`;
const mailsFor = (t: string, count: number, timeoutMs?: number) => h.mail((e) => e.subject.includes(t), count, timeoutMs);
const sentAt = (mails: OutboxEntry[]) => mails.map((m) => Date.parse(m.sentAt));
/** The output of the execution's NotifyApprovers step (the worker's result), once it has run. */
const notified = (arn: string) =>
  h.until('NotifyApprovers to finish', () => {
    const exits = h.rt.sfn
      .history(arn)
      .filter((e) => e.type === 'TaskStateExited')
      .map((e) => e.stateExitedEventDetails as { name: string; output: string });
    const exited = exits.find((d) => d.name === 'NotifyApprovers');
    return exited && JSON.parse(exited.output);
  });

describe('Approval emails in the SES sandbox', () => {
  it('the runtime account is a new one: in the sandbox, 1 email per second, example.com verified', async () => {
    expect(await ses.send(new GetAccountCommand({}))).toMatchObject({ ProductionAccessEnabled: false, SendQuota: { MaxSendRate: 1, Max24HourSend: 200 } });
  });

  it('emails all three approvers within seconds of virtual time at 1 email per second, not at the next 5-minute sweep', async () => {
    // Prepare
    const t = title('Three approvers');
    const startedAt = h.rt.clock.nowMs();
    // Act
    const arn = await h.start('Approval', { title: t, approvers: ['a@example.com', 'b@example.com', 'c@example.com'] });
    // Assess: each email after the first waits out the rate (a second); the sweep would come 300 s later
    const mails = await mailsFor(t, 3, 20_000);
    expect(mails.map((m) => m.to[0]).sort()).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
    expect(Math.max(...sentAt(mails)) - startedAt).toBeLessThan(15_000);
    expect(await notified(arn)).toEqual({ requestId: expect.any(String), notified: 3 });
  });

  // The SDK's own throttling retries (3 attempts, under 3 s) often get three emails through at 1 per second, never
  // twenty: this is the request that showed the worker leaving emails to the sweep.
  it('emails the most approvers a request may name (20) within the worker invocation: about one a second', async () => {
    const t = title('Twenty approvers');
    const approvers = Array.from({ length: 20 }, (_, i) => `approver-${i}@example.com`);
    const startedAt = h.rt.clock.nowMs();
    const arn = await h.start('Approval', { title: t, approvers });
    const mails = await mailsFor(t, 20, 90_000);
    expect(new Set(mails.map((m) => m.to[0]))).toEqual(new Set(approvers));
    // About a second each, more when the SDK's own retries land early; the worker's timeout is 90 s.
    expect(Math.max(...sentAt(mails)) - startedAt).toBeLessThan(90_000);
    expect(await notified(arn)).toEqual({ requestId: expect.any(String), notified: 20 });
  }, 120_000);

  it('sends from a sender address the account verified on its own (SES then authorizes identity/<address>, not the domain)', async () => {
    // Prepare: the account verifies the sender address besides its domain
    await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: 'opsflow@example.com' }));
    try {
      // Act
      const t = title('Own sender identity');
      const arn = await h.start('Approval', { title: t, approvers: ['lead@example.com'] });
      // Assess
      const [mail] = await mailsFor(t, 1);
      expect(mail).toMatchObject({ from: 'opsflow@example.com', to: ['lead@example.com'] });
      expect(await notified(arn)).toEqual({ requestId: expect.any(String), notified: 1 });
    } finally {
      await ses.send(new DeleteEmailIdentityCommand({ EmailIdentity: 'opsflow@example.com' }));
    }
  });

  it('says which approver the sandbox refused and why; once the address is verified, the sweep emails it', async () => {
    // Act: one approver at the verified domain, one whose address nobody verified
    const t = title('Partner approval');
    const arn = await h.start('Approval', { title: t, approvers: ['lead@example.com', 'guest@partner.example.net'] });
    const result = await notified(arn);

    // Assess: the lead is emailed; the guest is refused with SES's own words, in the step's output for all to see
    expect(result).toEqual({
      requestId: expect.any(String),
      notified: 1,
      undelivered: [
        {
          email: 'guest@partner.example.net',
          error: 'MessageRejected',
          message: 'Email address is not verified. The following identities failed the check in region US-EAST-1: guest@partner.example.net',
        },
      ],
    });
    expect((await mailsFor(t, 1)).map((m) => m.to[0])).toEqual(['lead@example.com']);

    // Act: the owner verifies the guest; the next sweep sends what was refused
    await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: 'guest@partner.example.net' }));
    const sweep = h.rt.deployed.schedules.find((s) => s.includes('ApprovalSweep'))!;
    await h.rt.scheduler.fire(sweep);
    // Assess
    expect((await mailsFor(t, 2)).map((m) => m.to[0]).sort()).toEqual(['guest@partner.example.net', 'lead@example.com']);
  });
});
