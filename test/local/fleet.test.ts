import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Clock, StateDir } from '../../local/kernel';
import { readJournal } from '../../local/storage';
import { Fleet, identity, seedFleet, type Caller, type Instance } from '../../local/services/fleet';
import { DEMO, DEMO_SEED } from '../demo-fleet';

const dirs: string[] = [];
const fleets: Fleet[] = [];
const caller: Caller = { identity: identity.iamUser('tester') };

function stateDir(): StateDir {
  const dir = mkdtempSync(join(tmpdir(), 'opsflow-fleet-'));
  dirs.push(dir);
  return new StateDir(dir);
}

function fleet(opts: { clock: Clock; state: StateDir; seed?: typeof DEMO_SEED }): Fleet {
  const f = new Fleet(opts);
  fleets.push(f);
  return f;
}

afterEach(() => {
  for (const f of fleets.splice(0)) f.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const tag = (i: Instance, key: string) => i.tags.find((t) => t.Key === key)?.Value;
/** The instance's state as the journal on disk holds it. */
const savedState = (state: StateDir, id: string) => (readJournal(state.root).get('fleet.instances')?.get(id) as Instance | undefined)?.state;

/** Polls (in virtual time) until `check` holds; the state file is written by timers, not by reads. */
async function eventually(clock: Clock, check: () => boolean): Promise<void> {
  for (let k = 0; k < 200; k++) {
    if (check()) return;
    await clock.sleep(5_000);
  }
  throw new Error('condition never held');
}

/** The tag policy the demo fleet is built to exercise. */
function breaksPolicy(i: Instance): boolean {
  return (
    !/^[^@\s]+@[^@\s]+\.[a-z]+$/.test(tag(i, 'Owner') ?? '') ||
    !/^CC-\d{4}$/.test(tag(i, 'CostCenter') ?? '') ||
    !['dev', 'staging', 'prod'].includes(tag(i, 'Environment') ?? '')
  );
}

describe('seedFleet', () => {
  const { instances, trail } = seedFleet(DEMO_SEED, Date.parse('2025-03-01T12:00:00Z'));
  const byId = new Map(instances.map((i) => [i.instanceId, i]));

  it('covers the schedule opt-in tags', () => {
    // Act
    const schedule = (value: string) => instances.filter((i) => tag(i, 'Schedule') === value).map((i) => i.instanceId);
    const office = schedule('office-hours');

    // Assess
    expect(instances).toHaveLength(36);
    expect(office).toEqual(DEMO.officeHours);
    expect(office.filter((id) => tag(byId.get(id)!, 'opsflow:group') === 'db')).toEqual(DEMO.officeHoursDb);
    expect(office.filter((id) => tag(byId.get(id)!, 'opsflow:group') === 'app')).toHaveLength(8);
    expect(schedule('batch-window')).toEqual(DEMO.batchWindow);
    expect(instances.filter((i) => !tag(i, 'Schedule')).length).toBe(22);
  });

  it('has exactly the listed tag-policy breaches, a Name on each and mostly running instances', () => {
    // Act
    const breaches = instances.filter(breaksPolicy).map((i) => i.instanceId);
    const running = instances.filter((i) => i.state === 'running').length;

    // Assess
    expect(breaches).toEqual(DEMO.nonCompliant);
    expect(instances.every((i) => tag(i, 'Name'))).toBe(true);
    expect(running).toBeGreaterThan(instances.length / 2);
    expect(running).toBeLessThan(instances.length);
  });

  it('includes each special instance', () => {
    // Assess
    expect(tag(byId.get(DEMO.asg)!, 'aws:autoscaling:groupName')).toBe('web-asg');
    expect(byId.get(DEMO.spot)).toMatchObject({ instanceLifecycle: 'spot', spotRequestType: 'one-time' });
    expect(tag(byId.get(DEMO.cloudFormation)!, 'aws:cloudformation:stack-name')).toBe('legacy-app');
    expect(byId.get(DEMO.instanceStore)!.rootDeviceType).toBe('instance-store');
    expect(byId.get(DEMO.kmsBroken)).toMatchObject({ state: 'stopped', sim: { kmsGrantMissing: true } });
    expect(tag(byId.get(DEMO.kmsBroken)!, 'Schedule')).toBe('office-hours');
    expect(byId.get(DEMO.terminationProtected)!.disableApiTermination).toBe(true);
    expect(tag(byId.get(DEMO.exemptForever)!, 'opsflow:exempt')).toBe('forever');
    expect(tag(byId.get(DEMO.override2099)!, 'opsflow:override')).toMatch(/^2099-/);
  });

  it('records a RunInstances event per instance by varied identities', () => {
    // Act
    const types = new Set(instances.map((i) => i.launchedBy.type));
    const ssoArns = instances.map((i) => i.launchedBy.arn).filter((a) => a.includes('assumed-role/AWSReservedSSO_'));

    // Assess
    expect(types).toEqual(new Set(['IAMUser', 'AssumedRole', 'FederatedUser']));
    expect(ssoArns.length).toBeGreaterThan(0);
    expect(trail).toHaveLength(instances.length);
    for (const i of instances) {
      const run = trail.find((r) => r.resources[0].name === i.instanceId)!;
      expect(run).toMatchObject({ eventName: 'RunInstances', userIdentity: i.launchedBy });
    }
  });
});

describe('Fleet', () => {
  it('completes transitions on its own timer and persists them without being read', async () => {
    // Prepare
    const clock = new Clock({ scale: 1000 });
    const state = stateDir();
    const f = fleet({ clock, state, seed: DEMO_SEED });

    // Act
    const [change] = f.start([DEMO.officeHours[3]], caller);
    await eventually(clock, () => savedState(state, DEMO.officeHours[3]) === 'running');

    // Assess
    expect(change).toEqual({ instanceId: DEMO.officeHours[3], previousState: 'stopped', currentState: 'pending' });
    expect(f.trail.at(-1)).toMatchObject({ eventName: 'StartInstances', userIdentity: { userName: 'tester' } });
  });

  it('re-schedules a future transition after a restart and completes an overdue one on load', async () => {
    // Prepare
    const clock = new Clock({ scale: 1000 });
    const state = stateDir();
    const first = fleet({ clock, state, seed: DEMO_SEED });
    first.stop([DEMO.officeHours[0]], {}, caller);
    first.close();

    // Act
    const second = fleet({ clock, state });
    await state.commit();
    const stateAfterRestart = savedState(state, DEMO.officeHours[0]);
    await eventually(clock, () => savedState(state, DEMO.officeHours[0]) === 'stopped');
    second.start([DEMO.officeHours[0]], caller);
    second.close();
    const third = fleet({ clock: new Clock({ start: clock.nowMs() + 5 * 60_000 }), state });

    // Assess
    expect(stateAfterRestart).toBe('stopping');
    expect(third.get(DEMO.officeHours[0])?.state).toBe('running');
  });

  it('applies a batch all or nothing and treats repeats as no-ops', () => {
    // Prepare
    const clock = new Clock({ start: Date.parse('2025-03-03T09:00:00Z') });
    const f = fleet({ clock, state: stateDir(), seed: DEMO_SEED });
    const pending = f.start([DEMO.officeHours[3]], caller);

    // Act
    const mixed = () => f.stop([DEMO.officeHours[0], DEMO.officeHours[3]], {}, caller);
    const again = f.start([DEMO.officeHours[0]], caller);

    // Assess
    expect(pending[0].currentState).toBe('pending');
    expect(mixed).toThrow(expect.objectContaining({ name: 'IncorrectInstanceState' }));
    expect(f.get(DEMO.officeHours[0])?.state).toBe('running');
    expect(again).toEqual([{ instanceId: DEMO.officeHours[0], previousState: 'running', currentState: 'running' }]);
  });

  it('shortens a pending stop when forced', () => {
    // Prepare
    const clock = new Clock({ start: Date.parse('2025-03-03T09:00:00Z'), scale: 0.001 });
    const f = fleet({ clock, state: stateDir(), seed: DEMO_SEED });
    f.stop([DEMO.officeHours[0]], {}, caller);

    // Act
    f.stop([DEMO.officeHours[0]], { force: true }, caller);

    // Assess
    const due = f.get(DEMO.officeHours[0])!.transition!.dueMs;
    expect(due - clock.nowMs()).toBeLessThanOrEqual(10_000);
  });

  it('deletes every user tag but keeps aws: tags when no keys are given', () => {
    // Prepare
    const f = fleet({ clock: new Clock(), state: stateDir(), seed: DEMO_SEED });

    // Act
    f.deleteTags([DEMO.asg], [], caller);

    // Assess
    expect(f.get(DEMO.asg)!.tags).toEqual([{ Key: 'aws:autoscaling:groupName', Value: 'web-asg' }]);
  });

  it('adds bulk instances from a template without CloudTrail records', () => {
    // Prepare
    const f = fleet({ clock: new Clock(), state: stateDir() });

    // Act
    const added = f.addInstances(3, { instanceType: 'm5.large', state: 'stopped', tags: [{ Key: 'Team', Value: 'x' }] });

    // Assess
    expect(f.list()).toHaveLength(3);
    expect(new Set(added.map((i) => i.instanceId)).size).toBe(3);
    expect(added.every((i) => i.instanceType === 'm5.large' && i.state === 'stopped' && /^i-[0-9a-f]{17}$/.test(i.instanceId))).toBe(true);
    expect(f.trail).toHaveLength(0);
  });
});
