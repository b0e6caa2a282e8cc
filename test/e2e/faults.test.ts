/** Fault injection through the runtime's API, proving the approval workflow's retries. */
import { GetActivityTaskCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arn } from '../../local/kernel';
import { startRuntime, type Harness } from './harness';

let h: Harness;
const faults = (patch: object) => fetch(`${h.endpoint}/_opsflow/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) });

// Sweeps every 5 virtual minutes are 0.5 s apart at this scale.
beforeAll(async () => {
  h = await startRuntime({ timeScale: 600 });
});
afterAll(() => h?.stop());

describe('faults', () => {
  it('rejects an invalid fault patch naming the field', async () => {
    const res = await faults({ ec2ThrottleRate: 2 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toContain('ec2ThrottleRate');
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
});

describe('a worker that took the task and died', () => {
  it('is detected by the missing heartbeat; the approval is delivered again', async () => {
    // Prepare: a "worker" that takes the next activity task and then never stores or heartbeats it.
    const activityArn = arn.activity(h.rt.deployed.activities[0]);
    const stolen = h.sfn.send(new GetActivityTaskCommand({ activityArn, workerName: 'crashed-worker' }));
    await new Promise((r) => setTimeout(r, 100));

    // Act
    const execution = await h.start('Approval', { title: 'Stranded no more', approvers: ['lead@example.com'] });
    expect((await stolen).taskToken).toBeTruthy();

    // Assess: 15 virtual minutes without a heartbeat, then AwaitDecision is retried and the email goes out.
    const [mail] = await h.mail((e) => e.subject === 'Approval needed: Stranded no more', 1, 30_000);
    const timedOut = h.rt.sfn.history(execution).filter((e) => e.type === 'ActivityTimedOut');
    expect(JSON.stringify(timedOut)).toContain('States.HeartbeatTimeout');
    const link = mail.links.find((l) => l.includes('/approvals/'))!.split('?')[0];
    await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });
    // The retried worker returns at once when the orphaned first one stored the task before it looked, or
    // after its own empty 60-second long poll when it looked first.
    expect((await h.finished(execution, 90_000)).status).toBe('SUCCEEDED');
  }, 120_000);
});

describe('a crashing worker', () => {
  let real: Harness;
  // Real time: the worker's retries back off 2 s, 4 s, ... so the crash can be lifted between attempts.
  beforeAll(async () => {
    real = await startRuntime();
  });
  afterAll(() => real?.stop());

  it('is retried by the state machine until the approval goes out', async () => {
    await fetch(`${real.endpoint}/_opsflow/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ crashLambdas: ['ApprovalWorkerFn'] }) });
    const arn = await real.start('Approval', { title: 'After a crash', approvers: ['lead@example.com'] });
    const deadline = Date.now() + 10_000;
    while (!real.rt.sfn.history(arn).some((e) => e.type === 'LambdaFunctionFailed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await fetch(`${real.endpoint}/_opsflow/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ crashLambdas: [] }) });

    await real.mail((e) => e.subject === 'Approval needed: After a crash', 1, 20_000);
    const failures = real.rt.sfn.history(arn).filter((e) => e.type === 'LambdaFunctionFailed');
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(failures[0])).toContain('Runtime.ExitError');
    await real.rt.sfn.stopExecution(arn);
  });
});
