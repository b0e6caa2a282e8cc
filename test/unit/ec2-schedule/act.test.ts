import { EC2Client, StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { actOn, caller, CAPACITY_TRIES, classifyCallError, Pause, readableMessage } from '../../../tasks/ec2-schedule/core/act';
import { MAX_REASON_BYTES } from '../../../tasks/shared/reasons';
import type { BatchEntry } from '../../../tasks/ec2-schedule/core/types';
import { ec2Kind } from '../../../tasks/ec2-schedule/core/kinds/ec2';
import { clientsOf, ec2Error, memoryStore, recordingLog } from './fakes';

const ids = ['i-0000000000000000a', 'i-0000000000000000b', 'i-0000000000000000c', 'i-0000000000000000d', 'i-0000000000000000e'];
const NOW = new Date('2025-06-04T09:00:00Z');

function setup(action: 'start' | 'stop', failFor: (callIds: string[]) => Error | undefined, opts: { dryRun?: boolean; budget?: number } = {}) {
  const entries: BatchEntry[] = ids.map((instanceId) => ({
    instanceId,
    name: instanceId.slice(-1),
    from: action === 'start' ? 'stopped' : 'running',
    status: 'planned',
  }));
  const mock = mockClient(EC2Client);
  const answer = (input: { InstanceIds?: string[] }) => {
    const err = failFor(input.InstanceIds ?? []);
    if (err) throw err;
    return {};
  };
  mock.on(StartInstancesCommand).callsFake(answer);
  mock.on(StopInstancesCommand).callsFake(answer);
  const calls = caller(
    ec2Kind,
    { action, dryRun: opts.dryRun ?? false, clients: clientsOf({ ec2: new EC2Client({ region: 'us-east-1' }) }), store: memoryStore().store, runId: 'run' },
    opts.budget ?? 100,
  );
  const log = recordingLog();
  const ctx = { action, dryRun: opts.dryRun ?? false, call: (es: BatchEntry[]) => calls.call(es), now: NOW, verifyTimeoutSeconds: 600, log };
  const statuses = () => Object.fromEntries(entries.map((e) => [e.instanceId.slice(-1), e.status]));
  return { entries, mock, ctx, calls, statuses, log };
}

const sizes = (mock: ReturnType<typeof mockClient>, command: typeof StartInstancesCommand | typeof StopInstancesCommand) =>
  mock.commandCalls(command).map((c) => (c.args[0].input as { InstanceIds: string[] }).InstanceIds.length);

describe('actOn', () => {
  it('acts on the whole batch in one call when it can, with a verification deadline', async () => {
    const { entries, mock, ctx, statuses } = setup('stop', () => undefined);

    await actOn(entries, ctx);

    expect(sizes(mock, StopInstancesCommand)).toEqual([5]);
    expect(Object.values(statuses())).toEqual(['acted', 'acted', 'acted', 'acted', 'acted']);
    expect(entries[0].verifyBy).toBe('2025-06-04T09:10:00.000Z');
  });

  it('bisects a failing batch so one bad instance does not block the rest', async () => {
    const bad = 'i-0000000000000000c';
    const { entries, mock, ctx, statuses } = setup('stop', (callIds) =>
      callIds.includes(bad)
        ? ec2Error('UnsupportedOperation', `You can't stop the Spot Instance '${bad}' because it is associated with a one-time Spot Instance request.`)
        : undefined,
    );

    await actOn(entries, ctx);

    expect(statuses()).toEqual({ a: 'acted', b: 'acted', c: 'skipped', d: 'acted', e: 'acted' });
    expect(entries[2].reason).toContain("cannot be stopped: You can't stop the Spot Instance");
    // [a..e] fails → [a,b,c] fails → [a,b] ok, [c] fails → [d,e] ok: five calls, not one per instance.
    expect(sizes(mock, StopInstancesCommand)).toEqual([5, 3, 2, 1, 2]);
  });

  it('ends the pass on throttling, keeping what was done so the next pass sends only the rest', async () => {
    const { entries, ctx, statuses } = setup('start', (callIds) => {
      if (callIds.length <= 2 && callIds.includes('i-0000000000000000d')) return ec2Error('RequestLimitExceeded', 'Request limit exceeded.');
      return callIds.includes('i-0000000000000000b')
        ? ec2Error('IncorrectInstanceState', "The instance 'i-0000000000000000b' is not in a state from which it can be started.")
        : undefined;
    });

    await expect(actOn(entries, ctx)).rejects.toEqual(expect.objectContaining({ end: 'throttled' }));

    expect(statuses()).toEqual({ a: 'acted', b: 'failed', c: 'acted', d: 'planned', e: 'planned' });
  });

  it('makes no more calls than the pass budget allows, then pauses', async () => {
    const { entries, ctx, calls, statuses } = setup(
      'stop',
      (callIds) => (callIds.includes('i-0000000000000000e') ? ec2Error('IncorrectInstanceState', 'wrong state') : undefined),
      { budget: 2 },
    );

    const err = await actOn(entries, ctx).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(err).toBeInstanceOf(Pause);
    expect((err as Pause).end).toBe('budget');
    expect(calls.calls()).toBe(2);
    expect(statuses()).toEqual({ a: 'acted', b: 'acted', c: 'acted', d: 'planned', e: 'planned' });
  });

  it('ends the pass on a transient EC2 error instead of failing the instances', async () => {
    const { entries, ctx, statuses } = setup('start', () => Object.assign(ec2Error('InternalError', 'An internal error has occurred'), { $fault: 'server' }));

    await expect(actOn(entries, ctx)).rejects.toEqual(expect.objectContaining({ end: 'transient' }));
    expect(Object.values(statuses())).toEqual(['planned', 'planned', 'planned', 'planned', 'planned']);
  });

  it('tries instances without capacity again later, with back-off, and reports them after the last try', async () => {
    const { entries, ctx } = setup('start', (callIds) =>
      callIds.includes('i-0000000000000000e') ? ec2Error('InsufficientInstanceCapacity', 'We currently do not have sufficient c5.large capacity') : undefined,
    );
    await actOn(entries, ctx);
    const e = entries[4];
    expect(e).toMatchObject({ status: 'capacity', tries: 1, retryAt: '2025-06-04T09:01:00.000Z' });

    for (let t = 2; t < CAPACITY_TRIES; t++) await actOn([e], ctx);
    expect(e).toMatchObject({ status: 'capacity', tries: CAPACITY_TRIES - 1, retryAt: '2025-06-04T09:08:00.000Z' });
    await actOn([e], ctx);

    expect(e).toMatchObject({ status: 'failed', to: 'stopped' });
    expect(e.reason).toMatch(/^insufficient capacity, still after 5 attempts: We currently do not have sufficient c5.large capacity$/);
  });

  it('in a dry run asks EC2 whether the call would succeed and changes nothing', async () => {
    const { entries, mock, ctx, statuses } = setup('start', () => ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.'), {
      dryRun: true,
    });

    await actOn(entries, ctx);

    expect(mock.commandCalls(StartInstancesCommand)[0].args[0].input.DryRun).toBe(true);
    expect(Object.values(statuses())).toEqual(['dry-run', 'dry-run', 'dry-run', 'dry-run', 'dry-run']);
  });
});

describe('reasons', () => {
  const encoded = 'Ab3_-'.repeat(400);
  const denied = Object.assign(
    ec2Error(
      'UnauthorizedOperation',
      `You are not authorized to perform this operation. User: arn:aws:sts::000000000000:assumed-role/act/s is not authorized to perform: ec2:StopInstances on resource: arn:aws:ec2:us-east-1:000000000000:instance/i-0000000000000000a because no identity-based policy allows the ec2:StopInstances action. Encoded authorization failure message: ${encoded}`,
    ),
    { $metadata: { httpStatusCode: 403, requestId: 'req-1' } },
  );

  it('keep the readable part of an UnauthorizedOperation and say where the encoded message is', () => {
    const r = classifyCallError(denied, 'stop');

    expect(r.status).toBe('failed');
    expect(r.reason).toContain('is not authorized to perform: ec2:StopInstances');
    expect(r.reason).not.toContain(encoded.slice(0, 50));
    expect(r.reason).toContain(
      "(EC2's encoded authorization message of 2000 characters is left out: it is in the Advance function's log (request req-1), for aws sts decode-authorization-message)",
    );
    expect(readableMessage(new Error('plain'))).toBe('plain');
  });

  it('log the whole denial, encoded message included, for aws sts decode-authorization-message', async () => {
    const { entries, ctx, log } = setup('stop', () => denied);
    await actOn(entries.slice(0, 1), ctx);
    expect(log.lines).toContainEqual(['warn', 'not authorized', expect.objectContaining({ instanceId: 'i-0000000000000000a', message: denied.message })]);
  });

  it('are bounded whatever EC2 says', () => {
    const r = classifyCallError(ec2Error('SomethingNew', 'é'.repeat(5000)), 'start');
    expect(Buffer.byteLength(r.reason)).toBeLessThanOrEqual(MAX_REASON_BYTES);
    expect(r.reason).toMatch(/more bytes cut\)$/);
  });
});
