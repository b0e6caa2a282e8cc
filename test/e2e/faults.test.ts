/** Fault injection through the runtime's API, proving the approval workflow's retries. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Harness } from './harness';

let h: Harness;
const faults = (patch: object) => fetch(`${h.endpoint}/_opsflow/faults`, { method: 'POST', body: JSON.stringify(patch) });

// Sweeps every 5 virtual minutes are 0.5 s apart at this scale.
beforeAll(async () => {
  h = await startRuntime({ timeScale: 600 });
});
afterAll(() => h?.stop());

describe('faults', () => {
  it('rejects an invalid fault patch naming the field', async () => {
    const res = await faults({ ec2ThrottleRate: 2 });
    expect(res.status).toBe(400);
    expect((await res.json()).message).toContain('ec2ThrottleRate');
  });

  it('emails the approver once SES works again: the sweep retries failed sends', async () => {
    expect((await faults({ sesFailRate: 1 })).status).toBe(200);
    const arn = await h.start('Approval', { title: 'Retried email', approvers: ['lead@example.com'] });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await h.outbox()).filter((e) => e.subject.includes('Retried email'))).toEqual([]);

    await faults({ sesFailRate: 0 });
    const [mail] = await h.mail((e) => e.subject === 'Approval needed: Retried email');
    const link = mail.links.find((l) => l.includes('/approvals/'))!.split('?')[0];
    await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });
    expect((await h.finished(arn)).status).toBe('SUCCEEDED');
  });

  it('delivers the approval after the worker Lambda crashed: the state machine retries it', async () => {
    await faults({ crashLambdas: ['ApprovalWorkerFn'] });
    const arn = await h.start('Approval', { title: 'After a crash', approvers: ['lead@example.com'] });
    await new Promise((r) => setTimeout(r, 300));
    await faults({ crashLambdas: [] });
    await h.mail((e) => e.subject === 'Approval needed: After a crash', 1, 30_000);
    const history = h.rt.sfn.history(arn).map((e) => e.type);
    expect(history).toContain('LambdaFunctionFailed');
    await h.rt.sfn.stopExecution(arn);
  });
});
