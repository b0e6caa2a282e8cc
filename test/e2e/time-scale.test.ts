/**
 * Every documented time scale works for every workflow: the README's walkthrough of the three workflows
 * (test/e2e/walkthrough.ts) ends the same, with the same emails, at scale 1, at 60 and at the highest scale the
 * README supports. Before the clock was one clock, 3600 sent every approver two or three emails with different
 * links (a 15-minute heartbeat timeout is 0.25 s real there, shorter than a cold start) and then failed the
 * approval `Approval.WorkerLost`.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { walkthrough, type WalkthroughResult } from './walkthrough';

/** The highest scale the README supports ("**Supported up to 3,600**"): the test follows the document. */
const documentedMax = Number(/\*\*Supported up to ([\d,]+)\*\*/.exec(readFileSync('README.md', 'utf8'))![1].replace(/,/g, ''));

describe('the walkthrough of the three workflows at every documented time scale', () => {
  const runs = new Map<number, Promise<WalkthroughResult>>();
  let atScale1: WalkthroughResult;

  // Scale 1 spends most of its time waiting in real time (EC2 transitions, Wait states): the other scales run
  // meanwhile, one after the other. Each runtime has its own clock, and what one does to the machine's load does
  // not change what happens in another's virtual time (Clock in local/kernel.ts).
  beforeAll(() => {
    runs.set(1, walkthrough(1));
    const at60 = walkthrough(60);
    runs.set(60, at60);
    runs.set(
      documentedMax,
      at60.then(
        () => walkthrough(documentedMax),
        () => walkthrough(documentedMax),
      ),
    );
    // Awaited by each test below; until then a failure must not count as unhandled.
    for (const run of runs.values()) run.catch(() => undefined);
  });

  it('ends as the README says at scale 1', async () => {
    atScale1 = await runs.get(1)!;

    expect(atScale1.outcomes).toMatchObject({
      approval: { vote: 200, status: 'SUCCEEDED', decision: 'approved', approver: 'lead@example.com' },
      // office-hours: ten instances and, as the demo config schedules every kind, two Aurora clusters, five RDS instances,
      // a group and a service.
      ec2DryRunStop: { status: 'SUCCEEDED', counts: { total: 19, moved: 0, failed: 0 } },
      // reporting-01's encrypted volume cannot be decrypted: it falls back to stopped, on purpose (the demo fleet).
      ec2ScheduledStart: { status: 'FAILED', error: 'Ec2.PartialFailure' },
      tagPolicyScan: { status: 'SUCCEEDED', counts: { scanned: 36, violating: 8 } },
    });
    // One email per approver, one report per run, one failure alert (the partial failure).
    expect(Object.entries(atScale1.emails).filter(([k]) => k.includes('Approval needed'))).toEqual([
      ['ses lead@example.com: Approval needed: Deploy payments-api 2.14.0 to production', 1],
      ['ses sre@example.com: Approval needed: Deploy payments-api 2.14.0 to production', 1],
    ]);
    expect(Object.values(atScale1.emails).reduce((a, b) => a + b, 0)).toBe(6);
  }, 400_000);

  for (const scale of [60, documentedMax]) {
    it(`ends the same, with the same emails, at scale ${scale}`, async () => {
      expect(documentedMax).toBeGreaterThanOrEqual(3600);
      const result = await runs.get(scale)!;
      expect(result).toEqual(atScale1);
    }, 400_000);
  }
});
