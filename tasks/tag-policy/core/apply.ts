/**
 * One step of the remediation loop: take a page of the run's findings, re-read those instances, and apply
 * what the phase allows — only where the violation is still there (an approval can take hours; an owner may
 * have fixed the tags meanwhile, or added an exemption). Tags are written with one CreateTags call per
 * distinct tag set; stop/terminate go in batches. A batch EC2 refuses for some of its instances (the error names
 * them: a protected or unstoppable instance) gets that error for the named ones and is sent again without them, so
 * one instance does not block the others. A throttled call (RequestLimitExceeded once the SDK's own retries are spent)
 * is no instance's fault: nothing is settled, the findings done so far are saved, and the step returns `throttled`
 * with a back-off the state machine waits (a Wait state, on Step Functions' clock, not a sleeping Lambda) before it
 * runs the same page again, whose already settled actions are not sent twice. Re-sending a throttled batch once per
 * instance would only multiply the calls that are being throttled
 * (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html: "we recommend that you use an exponential
 * backoff"). After THROTTLE_ATTEMPTS waits the actions still planned fail, saying so.
 */
import { CreateTagsCommand, StopInstancesCommand, TerminateInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { isThrottling } from '../../shared/aws-errors';
import { TagPolicyReadFailedError } from '../../shared/errors';
import { type Target, targetName, targetReason } from '../../shared/targets';
import { errorName, type Log } from '../../shared/logger';
import { checkInstance } from './evaluate';
import { describeByIds, InstancesNotVisible } from './instances';
import type { Phase } from './plan';
import type { RunStore, StoredFinding } from './store';
import { exemption } from '../rules/exemption';
import type { ActionResult, InstanceFacts, Run } from './types';

export interface ApplyDeps {
  /** EC2 of this account and region: the findings without account and region (no config `targets`). */
  ec2: EC2Client;
  /** With config `targets`: EC2 in a finding's account and region (tasks/shared/targets.ts, `Reach`). @default `ec2` for every finding */
  ec2In?: (target: Target) => EC2Client;
  store: RunStore;
  now: () => Date;
  log: Log;
  /** Findings per step (and instances per EC2 call). */
  batchSize: number;
}

export interface ApplyTally {
  applied: number;
  skipped: number;
  failed: number;
}

export interface ApplyState {
  phase: Phase;
  cursor?: string;
  done: boolean;
  tally: ApplyTally;
  /** Who approved, recorded on the destructive actions. */
  approvedBy?: string;
  /** Set when EC2 throttled this page: the state machine waits `waitSeconds`, then runs the same page again. */
  throttled?: { attempts: number; waitSeconds: number };
}

/** Waits of the back-off: 2, 4, 8, ... seconds, at most 5 minutes each; after the last, the page's actions fail. */
export const THROTTLE_ATTEMPTS = 10;
const BACKOFF_FIRST_SECONDS = 2;
const BACKOFF_MAX_SECONDS = 300;

/** EC2 throttled a remediation call: the page is to be tried again later, as a whole. */
class Throttled extends Error {
  constructor(readonly cause: unknown) {
    super('throttled');
  }
}

export async function applyStep(run: Run, state: ApplyState, deps: ApplyDeps): Promise<ApplyState> {
  const page = await deps.store.findings(run.id, state.cursor, deps.batchSize);
  const wantsTags = state.phase !== 'destructive';
  const wantsDestructive = state.phase !== 'tags';
  const todo = page.items.filter((f) => (wantsTags && Object.keys(f.tags).length > 0) || (wantsDestructive && f.destructive));
  const tally = { ...state.tally };
  const { throttled, ...rest } = state;
  if (todo.length > 0) {
    try {
      // Each target's findings with that target's EC2: re-read there, and acted on there.
      for (const [target, findings] of byTarget(todo)) {
        const ec2 = target && deps.ec2In ? deps.ec2In(target) : deps.ec2;
        let current: Map<string, InstanceFacts>;
        try {
          current = await currentFacts(
            ec2,
            findings.map((f) => f.instanceId),
          );
        } catch (err) {
          const cause = err instanceof TagPolicyReadFailedError && err.cause ? err.cause : err;
          // A throttled read passes (the workflow retries the step, as without targets); a target that cannot be
          // reached (its role refused, EC2 access denied) fails its actions, saying why, and the other targets go on.
          if (!target || isThrottling(cause)) throw err;
          unreachable(findings, targetReason(target, cause), tally);
          continue;
        }
        const d = { ...deps, ec2 };
        if (wantsTags) await applyTags(run, findings, current, d, tally);
        if (wantsDestructive) await applyDestructive(run, findings, current, state.approvedBy, d, tally);
      }
    } catch (err) {
      if (!(err instanceof Throttled)) throw err;
      const attempts = (throttled?.attempts ?? 0) + 1;
      if (attempts <= THROTTLE_ATTEMPTS) {
        // What was settled before the throttle is kept; the rest of the page is tried again after the wait.
        await deps.store.putFindings(run.id, todo);
        const waitSeconds = Math.min(BACKOFF_FIRST_SECONDS * 2 ** (attempts - 1), BACKOFF_MAX_SECONDS);
        deps.log.warn('EC2 throttled remediation; the page is retried after a wait', { attempts, waitSeconds });
        return { ...rest, tally, throttled: { attempts, waitSeconds } };
      }
      for (const f of todo) {
        for (const a of f.actions) {
          if (a.outcome === 'planned' && a.action !== 'notify')
            settle(
              a,
              'failed',
              `${a.reason}; not applied: EC2 throttled the call (${errorName(err.cause)}) ${THROTTLE_ATTEMPTS + 1} times, the last after a ${BACKOFF_MAX_SECONDS} s wait`,
              tally,
            );
        }
      }
    }
    await deps.store.putFindings(run.id, todo);
  }
  return { ...rest, cursor: page.cursor, done: page.cursor === undefined, tally };
}

/** Findings by their account and region (`undefined`: this account and region), in the page's order. */
function byTarget(findings: StoredFinding[]): Map<Target | undefined, StoredFinding[]> {
  const groups = new Map<string, { target?: Target; findings: StoredFinding[] }>();
  for (const f of findings) {
    const target = f.account && f.region ? { account: f.account, region: f.region } : undefined;
    const key = target ? targetName(target) : '';
    const group = groups.get(key) ?? { target, findings: [] };
    group.findings.push(f);
    groups.set(key, group);
  }
  return new Map([...groups.values()].map((g) => [g.target, g.findings]));
}

/** Every action still to apply on these findings fails: their target could not be reached. */
function unreachable(findings: StoredFinding[], reason: string, tally: ApplyTally): void {
  for (const f of findings)
    for (const a of f.actions) if (a.outcome === 'planned' && a.action !== 'notify') settle(a, 'failed', `${a.reason}; not applied: ${reason}`, tally);
}

/** Instances that vanished since the scan are simply absent from the map. */
async function currentFacts(ec2: EC2Client, ids: string[]): Promise<Map<string, InstanceFacts>> {
  const facts = new Map<string, InstanceFacts>();
  try {
    for (const f of await describeByIds(ec2, ids, { tagsFromDescribeTags: false })) facts.set(f.instanceId, f);
  } catch (err) {
    // Some instances are gone (terminated and forgotten): read the rest one by one.
    if (!(err instanceof InstancesNotVisible)) throw err;
    for (const id of ids) {
      try {
        for (const f of await describeByIds(ec2, [id], { tagsFromDescribeTags: false })) facts.set(f.instanceId, f);
      } catch (inner) {
        if (!(inner instanceof InstancesNotVisible)) throw inner;
      }
    }
  }
  return facts;
}

/** Why an action planned at scan time must not run now, if it must not. */
function staleReason(run: Run, instance: InstanceFacts | undefined, now: Date): string | undefined {
  if (!instance || instance.state === 'terminated' || instance.state === 'shutting-down') return 'the instance no longer exists';
  const exempt = exemption(instance, run.policy.exemptionTag, now);
  if (exempt.status === 'exempt') return `exempted since the scan (${run.policy.exemptionTag}=${exempt.until})`;
  return undefined;
}

async function applyTags(run: Run, todo: StoredFinding[], current: Map<string, InstanceFacts>, deps: ApplyDeps, tally: ApplyTally): Promise<void> {
  // Group instances by the exact tag set they need now: one CreateTags call per group.
  const groups = new Map<string, { tags: Record<string, string>; findings: StoredFinding[] }>();
  for (const f of todo) {
    const planned = f.actions.filter((a) => (a.action === 'tag' || a.action === 'lookup-creator') && a.outcome === 'planned');
    if (planned.length === 0) continue;
    const instance = current.get(f.instanceId);
    const stale = staleReason(run, instance, deps.now());
    const stillBroken = new Set(instance ? checkInstance(instance, run.policy).map((v) => v.rule.key) : []);
    const tags: Record<string, string> = {};
    for (const a of planned) {
      if (stale) settle(a, 'skipped', `${a.reason}; not applied: ${stale}`, tally);
      else if (!stillBroken.has(a.tag!)) settle(a, 'skipped', `${a.reason}; not applied: fixed since the scan`, tally);
      else tags[a.tag!] = a.value!;
    }
    if (Object.keys(tags).length === 0) continue;
    const key = JSON.stringify(Object.entries(tags).sort(([a], [b]) => a.localeCompare(b)));
    const group = groups.get(key) ?? { tags, findings: [] };
    group.findings.push(f);
    groups.set(key, group);
  }
  for (const { tags, findings } of groups.values()) {
    const Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    await batched(
      findings.map((f) => f.instanceId),
      (ids) => deps.ec2.send(new CreateTagsCommand({ Resources: ids, Tags })),
      (id, error) => {
        const f = findings.find((x) => x.instanceId === id)!;
        for (const a of f.actions) {
          if ((a.action === 'tag' || a.action === 'lookup-creator') && a.outcome === 'planned' && a.tag! in tags) {
            if (error) settle(a, 'failed', `${a.reason}; CreateTags failed: ${error}`, tally);
            else settle(a, 'applied', `${a.reason}; tagged ${a.tag}=${a.value}`, tally);
          }
        }
      },
      deps.log,
    );
  }
}

async function applyDestructive(
  run: Run,
  todo: StoredFinding[],
  current: Map<string, InstanceFacts>,
  approvedBy: string | undefined,
  deps: ApplyDeps,
  tally: ApplyTally,
): Promise<void> {
  const byAction: Record<'stop' | 'terminate', StoredFinding[]> = { stop: [], terminate: [] };
  for (const f of todo) {
    if (!f.destructive) continue;
    const a = f.actions.find((x) => x.action === f.destructive && x.outcome === 'planned');
    if (!a) continue;
    const instance = current.get(f.instanceId);
    const stale = staleReason(run, instance, deps.now());
    const stillDestructive = instance && checkInstance(instance, run.policy).some((v) => v.spec.action === 'stop' || v.spec.action === 'terminate');
    if (stale) settle(a, 'skipped', `${a.reason}; not applied: ${stale}`, tally);
    else if (!stillDestructive) settle(a, 'skipped', `${a.reason}; not applied: fixed since the scan`, tally);
    else if (f.destructive === 'stop' && instance!.state !== 'running')
      settle(a, 'skipped', `${a.reason}; not applied: the instance is ${instance!.state}`, tally);
    else byAction[f.destructive].push(f);
  }
  const by = approvedBy ? ` (approved by ${approvedBy})` : '';
  for (const action of ['stop', 'terminate'] as const) {
    const findings = byAction[action];
    if (findings.length === 0) continue;
    const call =
      action === 'stop'
        ? (ids: string[]) => deps.ec2.send(new StopInstancesCommand({ InstanceIds: ids }))
        : (ids: string[]) => deps.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    await batched(
      findings.map((f) => f.instanceId),
      call,
      (id, error, message) => {
        const a = findings.find((x) => x.instanceId === id)!.actions.find((x) => x.action === action && x.outcome === 'planned')!;
        if (!error) settle(a, 'applied', `${a.reason}; ${action === 'stop' ? 'stopped' : 'terminated'}${by}`, tally);
        else if (error === 'OperationNotPermitted') settle(a, 'skipped', `${a.reason}; not terminated: termination protection is on`, tally);
        else settle(a, 'failed', `${a.reason}; ${action} failed: ${error}${message ? ` (${message})` : ''}`, tally);
      },
      deps.log,
    );
  }
}

function settle(a: ActionResult, outcome: ActionResult['outcome'], reason: string, tally: ApplyTally): void {
  a.outcome = outcome;
  a.reason = reason;
  if (outcome === 'applied') tally.applied++;
  else if (outcome === 'failed') tally.failed++;
  else tally.skipped++;
}

/**
 * Calls `call` for all ids at once. When EC2 refuses the batch with an error that names some of its instances (an
 * instance in the wrong state, protected, unknown), those get the error and the rest go again as one batch; an error
 * that names none is every instance's. A throttle is thrown as `Throttled` for the step to retry the page later.
 * `done(id, errorName?, message?)` is told about every id exactly once.
 */
async function batched(
  ids: string[],
  call: (ids: string[]) => Promise<unknown>,
  done: (id: string, error?: string, message?: string) => void,
  log: Log,
): Promise<void> {
  let pending = ids;
  while (pending.length > 0) {
    try {
      await call(pending);
      for (const id of pending) done(id);
      return;
    } catch (error) {
      if (isThrottling(error)) throw new Throttled(error);
      const message = ec2Message(error);
      const named = pending.filter((id) => (error as Error)?.message?.includes(id));
      const refused = named.length > 0 ? named : pending;
      log.warn('EC2 refused a remediation call', { instances: refused.length, of: pending.length, error: errorName(error) });
      for (const id of refused) done(id, errorName(error), message);
      pending = pending.filter((id) => !refused.includes(id));
    }
  }
}

/** EC2 error messages name instances and states, never secrets: useful in the report. */
function ec2Message(error: unknown): string | undefined {
  const message = (error as Error)?.message;
  return typeof message === 'string' ? message.slice(0, 200) : undefined;
}
