/** Fault injection through the runtime's API, proving the approval workflow's retries. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Harness } from './harness';

let h: Harness;
const faults = (patch: object) =>
  fetch(`${h.endpoint}/_opsflow/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) });

// Sweeps every 5 virtual minutes are 2.5 s apart at this scale, and the 15-minute heartbeat window is 7.5 s:
// wide enough that a busy machine (a Lambda cold start, a slow sweep) cannot make a heartbeat late.
beforeAll(async () => {
  h = await startRuntime({ timeScale: 120 });
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
    // The worker has tried to send and reports that nobody was notified: only then is an empty outbox proof.
    await h.until(
      'the worker to report its failed send',
      () =>
        h.rt.sfn
          .history(arn)
          .some(
            (e) => e.type === 'LambdaFunctionSucceeded' && JSON.parse((e.lambdaFunctionSucceededEventDetails as { output: string }).output).notified === 0,
          ) || undefined,
    );
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
    // Prepare: the next activity task goes to a worker that takes it and dies, never storing or heartbeating it.
    expect((await faults({ crashActivityWorkers: 1 })).status).toBe(200);

    // Act
    const execution = await h.start('Approval', { title: 'Stranded no more', approvers: ['lead@example.com'] });

    // Assess: 15 virtual minutes without a heartbeat, then AwaitDecision is retried and the email goes out.
    const [mail] = await h.mail((e) => e.subject === 'Approval needed: Stranded no more', 1, 30_000);
    const history = h.rt.sfn.history(execution);
    expect(history.find((e) => e.type === 'ActivityStarted')).toMatchObject({ activityStartedEventDetails: { workerName: 'crashed-worker' } });
    expect(JSON.stringify(history.filter((e) => e.type === 'ActivityTimedOut'))).toContain('States.HeartbeatTimeout');
    const link = mail.links.find((l) => l.includes('/approvals/'))!.split('?')[0];
    await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });
    expect((await h.finished(execution)).status).toBe('SUCCEEDED');
  });
});

describe('every delivery going to a worker that dies', () => {
  let fast: Harness;
  // Nothing here races the clock: the fault hands each task to a dead worker the moment it is queued, so the
  // three heartbeat timeouts happen at any speed; 600x only makes 3 x 15 virtual minutes take 4.5 real seconds.
  beforeAll(async () => {
    fast = await startRuntime({ timeScale: 600 });
  });
  afterAll(() => fast?.stop());

  it('fails with Approval.WorkerLost, not Approval.TimedOut: the deadline had not passed', async () => {
    // Prepare: the first delivery and both retries go to workers that die
    await fetch(`${fast.endpoint}/_opsflow/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ crashActivityWorkers: 3 }),
    });
    // Act
    const arn = await fast.start('Approval', { title: 'Nobody alive', approvers: ['lead@example.com'], timeoutSeconds: 7 * 24 * 3600 });
    const done = await fast.finished(arn, 60_000);
    // Assess
    expect(done).toMatchObject({ status: 'FAILED', error: 'Approval.WorkerLost' });
    expect(done.cause).toContain('stopped heartbeating');
    const timedOut = fast.rt.sfn.history(arn).filter((e) => e.type === 'ActivityTimedOut');
    expect(timedOut).toHaveLength(3);
    expect(JSON.stringify(timedOut)).toContain('States.HeartbeatTimeout');
  });
});

describe('a crashing worker', () => {
  let real: Harness;
  // Real time: the worker's retries back off 2 s, 4 s, ... so the crash can be lifted between attempts.
  beforeAll(async () => {
    real = await startRuntime();
  });
  afterAll(() => real?.stop());

  it('is retried by the state machine until the approval goes out', async () => {
    await fetch(`${real.endpoint}/_opsflow/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ crashLambdas: ['ApprovalWorkerFn'] }),
    });
    const arn = await real.start('Approval', { title: 'After a crash', approvers: ['lead@example.com'] });
    const deadline = Date.now() + 10_000;
    while (!real.rt.sfn.history(arn).some((e) => e.type === 'LambdaFunctionFailed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await fetch(`${real.endpoint}/_opsflow/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ crashLambdas: [] }),
    });

    await real.mail((e) => e.subject === 'Approval needed: After a crash', 1, 20_000);
    const failures = real.rt.sfn.history(arn).filter((e) => e.type === 'LambdaFunctionFailed');
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(failures[0])).toContain('Runtime.ExitError');
    await real.rt.sfn.stopExecution(arn);
  });
});
