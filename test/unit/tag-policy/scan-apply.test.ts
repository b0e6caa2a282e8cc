/** The evaluation and remediation loops against a mocked EC2 and an in-memory table. */
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  DescribeTagsCommand,
  EC2Client,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { applyStep, THROTTLE_ATTEMPTS } from '../../../tasks/tag-policy/core/apply';
import { Pacer } from '../../../tasks/tag-policy/core/creator';
import { evaluateStep } from '../../../tasks/tag-policy/core/scan';
import { GOOD_TAGS, MemoryStore, policyWith, run, silentLog } from './fakes';

const ec2Mock = mockClient(EC2Client);
const ec2 = new EC2Client({ region: 'us-east-1' });
const now = () => new Date('2025-03-10T12:00:00Z');
const ec2Instance = (id: string, tags: Record<string, string>, state = 'running'): Instance => ({
  InstanceId: id,
  State: { Name: state as never },
  LaunchTime: new Date('2025-01-01T00:00:00Z'),
  Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
});
const reservations = (...instances: Instance[]) => ({ Reservations: [{ Instances: instances }] });

let store: MemoryStore;
beforeEach(() => {
  ec2Mock.reset();
  store = new MemoryStore();
});
const scanDeps = () => ({
  ec2,
  cloudtrail: new CloudTrailClient({ region: 'us-east-1' }),
  store,
  now,
  log: silentLog(),
  pageSize: 5,
  pagesPerInvocation: 2,
  sleep: async () => {},
  pacer: new Pacer(),
});

describe('evaluateStep', () => {
  it('pages the fleet inside the task and keeps only counts and a cursor in the state', async () => {
    // Prepare
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce({ ...reservations(ec2Instance('i-00000001', GOOD_TAGS), ec2Instance('i-00000002', { ...GOOD_TAGS, CostCenter: 'x' })), NextToken: 'p2' })
      .resolvesOnce({ ...reservations(ec2Instance('i-00000003', { ...GOOD_TAGS, Environment: 'Production' })), NextToken: 'p3' });

    // Act
    const state = await evaluateStep(run(), undefined, scanDeps());

    // Assess
    expect(state).toEqual({ cursor: 'p3', done: false, counts: expect.objectContaining({ scanned: 3, compliant: 1, violating: 2, deferred: 1 }) });
    expect(ec2Mock).toHaveReceivedNthCommandWith(DescribeInstancesCommand, 1, {
      MaxResults: 5,
      Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }],
    });
    expect(ec2Mock).toHaveReceivedNthCommandWith(DescribeInstancesCommand, 2, { NextToken: 'p2' });
    expect(store.finding('run-1', 'i-00000002')!.actions).toContainEqual(expect.objectContaining({ action: 'stop', outcome: 'deferred' }));
    expect(store.grace.get('i-00000002')).toMatchObject({ action: 'stop', firstSeenAt: '2025-03-10T12:00:00.000Z' });
  });

  it('records no grace period in a dry run, and clears the record of an instance that was fixed', async () => {
    // Prepare
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolves(reservations(ec2Instance('i-00000001', GOOD_TAGS), ec2Instance('i-00000002', { ...GOOD_TAGS, CostCenter: 'x' })));
    await store.putGrace([{ instanceId: 'i-00000001', action: 'stop', firstSeenAt: '2025-03-01T00:00:00Z', reason: 'old' }]);

    // Act
    await evaluateStep(run({ dryRun: true }), undefined, scanDeps());
    const afterDryRun = [...store.grace.keys()];
    await evaluateStep(run(), undefined, scanDeps());

    // Assess
    expect(afterDryRun).toEqual(['i-00000001']);
    expect([...store.grace.keys()]).toEqual(['i-00000002']);
  });

  it('fails with TagPolicy.ReadFailed, judging nothing, when EC2 cannot be read', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(Object.assign(new Error('slow down'), { name: 'RequestLimitExceeded' }));
    await expect(evaluateStep(run(), undefined, scanDeps())).rejects.toMatchObject({
      name: 'TagPolicy.ReadFailed',
      message: 'DescribeInstances failed: RequestLimitExceeded',
    });
    expect(store.runs.size).toBe(0);
  });

  it('re-reads launched instances with DescribeTags and never treats an unseen instance as untagged', async () => {
    // Prepare: DescribeInstances shows no tags yet; DescribeTags has the ones added after launch.
    ec2Mock.on(DescribeInstancesCommand).resolves(reservations(ec2Instance('i-00000009', {})));
    ec2Mock.on(DescribeTagsCommand).resolves({ Tags: Object.entries(GOOD_TAGS).map(([Key, Value]) => ({ ResourceId: 'i-00000009', Key, Value })) });

    // Act
    const ok = await evaluateStep(run({ mode: 'launch', instanceIds: ['i-00000009'] }), undefined, scanDeps());

    // Assess
    expect(ok.counts).toMatchObject({ scanned: 1, compliant: 1 });
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    await expect(evaluateStep(run({ mode: 'launch', instanceIds: ['i-0000000a'] }), undefined, scanDeps())).rejects.toMatchObject({
      name: 'TagPolicy.ReadFailed',
    });
  });
});

describe('applyStep', () => {
  const tagFinding = (id: string) => ({
    instanceId: id,
    violations: [{ tag: 'Owner', kind: 'missing' as const, message: 'tag Owner is missing' }],
    actions: [{ action: 'lookup-creator' as const, tag: 'Owner', value: 'carol@example.com', outcome: 'planned' as const, reason: 'tag Owner is missing' }],
    tags: { Owner: 'carol@example.com' },
  });
  const terminateFinding = (id: string) => ({
    instanceId: id,
    violations: [{ tag: 'Code', kind: 'missing' as const, message: 'tag Code is missing' }],
    actions: [{ action: 'terminate' as const, outcome: 'planned' as const, reason: 'tag Code is missing' }],
    tags: {},
    destructive: 'terminate' as const,
  });
  const start = { phase: 'tags' as const, done: false, tally: { applied: 0, skipped: 0, failed: 0 } };
  const applyDeps = () => ({ ec2, store, now, log: silentLog(), batchSize: 100 });
  const { Owner: _, ...noOwner } = GOOD_TAGS;

  it('writes identical tag sets with one CreateTags call and skips instances fixed since the scan', async () => {
    // Prepare
    await store.putFindings('run-1', [tagFinding('i-00000001'), tagFinding('i-00000002'), tagFinding('i-00000003')]);
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolves(reservations(ec2Instance('i-00000001', noOwner), ec2Instance('i-00000002', noOwner), ec2Instance('i-00000003', GOOD_TAGS)));

    // Act
    const next = await applyStep(run(), start, applyDeps());

    // Assess
    expect(next).toMatchObject({ done: true, tally: { applied: 2, skipped: 1, failed: 0 } });
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateTagsCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, {
      Resources: ['i-00000001', 'i-00000002'],
      Tags: [{ Key: 'Owner', Value: 'carol@example.com' }],
    });
    expect(store.finding('run-1', 'i-00000003')!.actions[0]).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('fixed since the scan') });
  });

  it('terminates what was approved, one by one when EC2 refuses the batch, honouring termination protection', async () => {
    // Prepare
    const policy = policyWith({ rules: [{ key: 'Code', onMissing: { action: 'terminate' } }] });
    await store.putFindings('run-1', [terminateFinding('i-00000001'), terminateFinding('i-00000002')]);
    ec2Mock.on(DescribeInstancesCommand).resolves(reservations(ec2Instance('i-00000001', {}), ec2Instance('i-00000002', {})));
    const protectedError = Object.assign(new Error("The instance 'i-00000002' may not be terminated."), { name: 'OperationNotPermitted' });
    ec2Mock.on(TerminateInstancesCommand).rejects(protectedError);
    ec2Mock.on(TerminateInstancesCommand, { InstanceIds: ['i-00000001'] }).resolves({});

    // Act
    const next = await applyStep(run({ policy }), { ...start, phase: 'destructive', approvedBy: 'boss@example.com' }, applyDeps());

    // Assess
    expect(next.tally).toEqual({ applied: 1, skipped: 1, failed: 0 });
    expect(store.finding('run-1', 'i-00000001')!.actions[0]).toMatchObject({
      outcome: 'applied',
      reason: 'tag Code is missing; terminated (approved by boss@example.com)',
    });
    expect(store.finding('run-1', 'i-00000002')!.actions[0]).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('termination protection') });
  });

  it('does nothing destructive in the tags phase', async () => {
    await store.putFindings('run-1', [terminateFinding('i-00000001')]);
    const next = await applyStep(run(), start, applyDeps());
    expect(next.tally).toEqual({ applied: 0, skipped: 0, failed: 0 });
    expect(ec2Mock).toHaveReceivedCommandTimes(TerminateInstancesCommand, 0);
  });

  describe('when EC2 throttles', () => {
    const throttle = () => Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded', $retryable: { throttling: true } });
    const ids = Array.from({ length: 100 }, (_, k) => `i-${String(k + 1).padStart(8, '0')}`);

    it('records nothing as failed and sends no call per instance: the page waits and is tried again as a batch', async () => {
      // Prepare: a page of 100 instances that all need the same tag; EC2 throttles CreateTags once, then accepts.
      await store.putFindings('run-1', ids.map(tagFinding));
      ec2Mock.on(DescribeInstancesCommand).resolves(reservations(...ids.map((id) => ec2Instance(id, noOwner))));
      ec2Mock.on(CreateTagsCommand).rejectsOnce(throttle()).resolves({});

      // Act
      const throttled = await applyStep(run(), start, applyDeps());
      const callsWhileThrottled = ec2Mock.commandCalls(CreateTagsCommand).length;
      const outcomeWhileThrottled = store.finding('run-1', ids[0])!.actions[0].outcome;
      const after = await applyStep(run(), throttled, applyDeps());

      // Assess: one throttled call, not 100 more; a back-off for the state machine; then one batch that tags all.
      expect(callsWhileThrottled).toBe(1);
      expect(throttled).toEqual({ ...start, throttled: { attempts: 1, waitSeconds: 2 } });
      expect(outcomeWhileThrottled).toBe('planned');
      expect(ec2Mock).toHaveReceivedCommandTimes(CreateTagsCommand, 2);
      expect(after).toEqual({ ...start, done: true, tally: { applied: 100, skipped: 0, failed: 0 } });
      expect(after.throttled).toBeUndefined();
    });

    it('keeps what was done before the throttle and does not send it again', async () => {
      // Prepare: the tags go through; the stop of the same page is throttled.
      const policy = policyWith({ rules: [{ key: 'Owner', onMissing: { action: 'stop' } }] });
      const both = (id: string) => ({
        ...tagFinding(id),
        actions: [...tagFinding(id).actions, { action: 'stop' as const, outcome: 'planned' as const, reason: 'tag Owner is missing' }],
        destructive: 'stop' as const,
      });
      await store.putFindings('run-1', [both('i-00000001')]);
      ec2Mock.on(DescribeInstancesCommand).resolves(reservations(ec2Instance('i-00000001', {})));
      ec2Mock.on(CreateTagsCommand).resolves({});
      ec2Mock.on(StopInstancesCommand).rejectsOnce(throttle()).resolves({});

      // Act
      const first = await applyStep(run({ policy }), { ...start, phase: 'all' }, applyDeps());
      const second = await applyStep(run({ policy }), first, applyDeps());

      // Assess
      expect(first).toMatchObject({ done: false, tally: { applied: 1 }, throttled: { attempts: 1 } });
      expect(second).toMatchObject({ done: true, tally: { applied: 2, skipped: 0, failed: 0 } });
      expect(ec2Mock).toHaveReceivedCommandTimes(CreateTagsCommand, 1);
      expect(ec2Mock).toHaveReceivedCommandTimes(StopInstancesCommand, 2);
    });

    it("backs off exponentially, and fails the page's actions only after the last attempt, saying why", async () => {
      // Prepare
      await store.putFindings('run-1', [tagFinding('i-00000001')]);
      ec2Mock.on(DescribeInstancesCommand).resolves(reservations(ec2Instance('i-00000001', noOwner)));
      ec2Mock.on(CreateTagsCommand).rejects(throttle());

      // Act
      const waits: number[] = [];
      let state = await applyStep(run(), start, applyDeps());
      while (state.throttled) {
        waits.push(state.throttled.waitSeconds);
        state = await applyStep(run(), state, applyDeps());
      }

      // Assess
      expect(waits).toEqual([2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
      expect(waits).toHaveLength(THROTTLE_ATTEMPTS);
      expect(state).toMatchObject({ done: true, tally: { applied: 0, failed: 1 } });
      expect(store.finding('run-1', 'i-00000001')!.actions[0]).toMatchObject({
        outcome: 'failed',
        reason: expect.stringContaining('EC2 throttled the call (RequestLimitExceeded) 11 times'),
      });
    });
  });

  it('splits a refused batch only by the instances the error names, and sends the rest again as one batch', async () => {
    // Prepare: 50 instances to stop, one of them already stopping (EC2 names it).
    const policy = policyWith({ rules: [{ key: 'Code', onMissing: { action: 'stop' } }] });
    const stopIds = Array.from({ length: 50 }, (_, k) => `i-${String(k + 1).padStart(8, '0')}`);
    await store.putFindings(
      'run-1',
      stopIds.map((id) => ({
        ...terminateFinding(id),
        actions: [{ action: 'stop' as const, outcome: 'planned' as const, reason: 'tag Code is missing' }],
        destructive: 'stop' as const,
      })),
    );
    ec2Mock.on(DescribeInstancesCommand).resolves(reservations(...stopIds.map((id) => ec2Instance(id, {}))));
    ec2Mock.on(StopInstancesCommand).callsFake(({ InstanceIds }: { InstanceIds: string[] }) => {
      if (InstanceIds.includes('i-00000007'))
        throw Object.assign(new Error("The instance 'i-00000007' is not in a state from which it can be stopped."), { name: 'IncorrectInstanceState' });
      return {};
    });

    // Act
    const next = await applyStep(run({ policy }), { ...start, phase: 'destructive' }, applyDeps());

    // Assess: two calls, not 51.
    expect(ec2Mock).toHaveReceivedCommandTimes(StopInstancesCommand, 2);
    expect(next.tally).toEqual({ applied: 49, skipped: 0, failed: 1 });
    expect(store.finding('run-1', 'i-00000007')!.actions[0]).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('IncorrectInstanceState') });
  });
});
