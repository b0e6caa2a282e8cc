/**
 * The tag-policy vocabulary shared by the rules, the tasks and the workflow: the validated policy, the facts
 * about one instance the rules look at, and the findings and reports the workflow produces.
 */

export const ACTIONS = ['tag', 'lookup-creator', 'notify', 'stop', 'terminate'] as const;
export type ActionName = (typeof ACTIONS)[number];
/** Actions that change an instance's state; they always go through approval. */
export const DESTRUCTIVE: readonly ActionName[] = ['stop', 'terminate'];

export interface ActionSpec {
  action: ActionName;
  /** `tag`: the value to write, possibly with ${today}, ${creator}, ${launchTime}. */
  value?: string;
  /** Value written when ${creator} cannot be resolved; without it the violation is only notified. */
  fallback?: string;
}

export type CaseHandling = 'sensitive' | 'insensitive' | 'normalize';

export interface TagRule {
  key: string;
  description?: string;
  required: boolean;
  allowedValues?: string[];
  pattern?: string;
  case: CaseHandling;
  onMissing: ActionSpec;
  onInvalid: ActionSpec;
}

export interface Policy {
  version: 1;
  description?: string;
  dryRun: boolean;
  exemptionTag: string;
  gracePeriodHours: number;
  blastRadius: { maxInstances: number; maxPercent: number };
  approvers: string[];
  rules: TagRule[];
}

/** What the rules need to know about an instance (read from EC2, never from an event). */
export interface InstanceFacts {
  instanceId: string;
  state: string;
  /** ISO UTC, as EC2 reports LaunchTime. */
  launchTime?: string;
  tags: Record<string, string>;
}

export type ViolationKind = 'missing' | 'invalid';

export interface Violation {
  tag: string;
  kind: ViolationKind;
  /** The offending value, for `invalid`. */
  value?: string;
  message: string;
}

/**
 * What happened (or, in a dry run, would happen) for one action:
 * - planned: decided, not applied yet (dry runs keep this outcome: "would");
 * - applied / failed: done, or the AWS call failed;
 * - skipped: not applied on purpose (reason says why);
 * - deferred: waiting for the grace period to pass;
 * - rejected: the approver said no (or nobody decided in time).
 */
export type Outcome = 'planned' | 'applied' | 'failed' | 'skipped' | 'deferred' | 'rejected';

export interface ActionResult {
  action: ActionName;
  outcome: Outcome;
  reason: string;
  /** For `tag` and `lookup-creator`: the tag written. */
  tag?: string;
  value?: string;
}

/**
 * Where an instance is, with config `targets` (issue 23): its account and region, both or neither. Neither: the
 * deployment's own account and region (no `targets` configured).
 */
export interface Where {
  account?: string;
  region?: string;
}

/** One instance with at least one violation, as stored for the run and reported. */
export interface Finding extends Where {
  instanceId: string;
  violations: Violation[];
  actions: ActionResult[];
  /** `forever` or the ISO date an exemption lasts through. */
  exemptUntil?: string;
  /** `asg:<name>` or `cloudformation:<stack>`: remediated only by notifying. */
  managedBy?: string;
}

export interface Counts {
  scanned: number;
  inScope: number;
  compliant: number;
  violating: number;
  exempt: number;
  /** Instances with a tag action to apply. */
  toTag: number;
  /** Instances this run would change (tag and/or destructive action due): what the blast radius counts. */
  toChange: number;
  toStop: number;
  toTerminate: number;
  /** Destructive actions still inside their grace period. */
  deferred: number;
  notify: number;
}

export const zeroCounts = (): Counts => ({
  scanned: 0,
  inScope: 0,
  compliant: 0,
  violating: 0,
  exempt: 0,
  toTag: 0,
  toChange: 0,
  toStop: 0,
  toTerminate: 0,
  deferred: 0,
  notify: 0,
});

export function addCounts(a: Counts, b: Counts): Counts {
  const sum = { ...a };
  for (const k of Object.keys(sum) as (keyof Counts)[]) sum[k] += b[k];
  return sum;
}

/** A DescribeInstances filter (`client-token` names one launch; `launch-time` minutes may catch others). */
export interface LaunchFilter {
  name: 'client-token' | 'launch-time';
  values: string[];
}

/**
 * The run as validated at execution start; travels in the state payload (small: no instance lists). `account` and
 * `region` (launch mode: the RunInstances event's; or given with `instanceIds`) name the one target whose instances
 * are evaluated; without them a scan walks every target of the policy.
 */
export interface Run extends Where {
  id: string;
  mode: 'scan' | 'launch';
  dryRun: boolean;
  /** Specific instances (launch mode, or a targeted scan). Absent, and no `launchFilter`: the whole fleet. */
  instanceIds?: string[];
  /** Launch mode when CloudTrail omitted the instance list: the DescribeInstances filter that finds the launch. */
  launchFilter?: LaunchFilter;
  /** Who launched the instances, from the RunInstances event (launch mode). */
  launchedBy?: string;
  settleSeconds: number;
  policy: Policy;
  startedAt: string;
}
