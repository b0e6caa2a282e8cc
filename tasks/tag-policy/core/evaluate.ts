/**
 * Evaluation of one instance against the policy, in two pure steps:
 * 1. `checkInstance` runs every rule check (rules/*) and says which rule is broken and which action the
 *    policy asks for;
 * 2. `planInstance` turns that into the actions of this run, applying the safety rules in one place:
 *    exemptions, ASG/CloudFormation-managed instances (notify only), template values that cannot be resolved
 *    or would break the rule themselves (notify instead of writing garbage), the strongest destructive action
 *    only, and the grace period.
 * The creator lookup and the grace record are I/O; the caller resolves them between the two steps.
 */
import { allowedValue, valueVerdict } from '../rules/allowed-value';
import { exemption } from '../rules/exemption';
import { managedBy } from '../rules/managed';
import { presence } from '../rules/presence';
import { graceStatus, type GraceRecord, type GraceStatus } from './grace';
import { expandTemplate, templateVariables } from './templates';
import type { ActionResult, ActionSpec, Finding, InstanceFacts, Policy, TagRule, Violation } from './types';

export interface RuleViolation {
  rule: TagRule;
  violation: Violation;
  /** The action the policy asks for (for a case-only mismatch under `normalize`: retag the allowed spelling). */
  spec: ActionSpec;
}

export function checkInstance(instance: InstanceFacts, policy: Policy): RuleViolation[] {
  const found: RuleViolation[] = [];
  for (const rule of policy.rules) {
    const present = presence(instance, rule);
    if (!present.ok) {
      found.push({ rule, violation: { tag: rule.key, kind: 'missing', message: present.message }, spec: rule.onMissing });
      continue;
    }
    const valid = allowedValue(instance, rule);
    if (!valid.ok) {
      const violation: Violation = { tag: rule.key, kind: 'invalid', value: instance.tags[rule.key], message: valid.message };
      found.push({ rule, violation, spec: valid.normalized !== undefined ? { action: 'tag', value: valid.normalized } : rule.onInvalid });
    }
  }
  return found;
}

/** Whether planning needs the instance's creator (a CloudTrail lookup). */
export function needsCreator(violations: RuleViolation[]): boolean {
  return violations.some(({ spec }) => spec.action === 'lookup-creator' || (spec.action === 'tag' && templateVariables(spec.value ?? '').includes('creator')));
}

export interface PlanContext {
  now: Date;
  /** Undefined: not looked up, or not found. */
  creator?: string;
  /** The stored grace record of this instance, if any. */
  grace?: GraceRecord;
}

export interface InstancePlan {
  /** Undefined when the instance complies (and its exemption tag, if any, is valid). */
  finding?: Finding;
  exempt: boolean;
  /** Tags to write (key → value), when any tag action is planned. */
  tags: Record<string, string>;
  /** The destructive action this run may take (after approval), once its grace period is over. */
  destructive?: 'stop' | 'terminate';
  /** Grace bookkeeping the caller persists (applied runs only). */
  grace: GraceStatus;
}

export function planInstance(instance: InstanceFacts, policy: Policy, violations: RuleViolation[], ctx: PlanContext): InstancePlan {
  const exempt = exemption(instance, policy.exemptionTag, ctx.now);
  const all = [...violations];
  if (exempt.status === 'invalid') {
    const message = `tag ${policy.exemptionTag} is ${JSON.stringify(exempt.value)}, which is neither 'forever' nor an ISO date: the instance is not exempt`;
    all.push({
      rule: { key: policy.exemptionTag, required: false, case: 'sensitive', onMissing: { action: 'notify' }, onInvalid: { action: 'notify' } },
      violation: { tag: policy.exemptionTag, kind: 'invalid', value: exempt.value, message },
      spec: { action: 'notify' },
    });
  }
  const none: InstancePlan = { exempt: exempt.status === 'exempt', tags: {}, grace: graceStatus(undefined, undefined, 0, ctx.now, ctx.grace) };
  if (all.length === 0) return none;
  const finding: Finding = { instanceId: instance.instanceId, violations: all.map((v) => v.violation), actions: [] };

  if (exempt.status === 'exempt') {
    finding.exemptUntil = exempt.until;
    finding.actions = all.map(({ spec, violation }) => ({
      action: spec.action,
      outcome: 'skipped',
      reason: `exempt (${policy.exemptionTag}=${exempt.until}): ${violation.message}`,
    }));
    return { ...none, finding };
  }
  const managed = managedBy(instance);
  if (managed) finding.managedBy = managed;

  const tags: Record<string, string> = {};
  let destructive: { action: 'stop' | 'terminate'; reasons: string[] } | undefined;
  for (const { rule, violation, spec } of all) {
    if (managed && spec.action !== 'notify') {
      finding.actions.push(notify(`${violation.message}; managed by ${managed.replace(':', ' ')}: fix it there (the policy asks to ${spec.action})`));
      continue;
    }
    if (spec.action === 'notify') {
      finding.actions.push(notify(violation.message));
    } else if (spec.action === 'tag' || spec.action === 'lookup-creator') {
      finding.actions.push(tagAction(instance, rule, violation, spec, ctx, tags));
    } else {
      const strongest = destructive?.action === 'terminate' ? 'terminate' : spec.action;
      destructive = { action: strongest, reasons: [...(destructive?.reasons ?? []), violation.message] };
    }
  }
  if (exempt.status === 'expired') finding.actions.push(notify(`exemption ${policy.exemptionTag}=${exempt.until} has expired`));

  let grace = graceStatus(undefined, undefined, policy.gracePeriodHours, ctx.now, ctx.grace);
  let due: 'stop' | 'terminate' | undefined;
  if (destructive) {
    const reason = destructive.reasons.join('; ');
    const idle = destructive.action === 'stop' && ['stopped', 'stopping'].includes(instance.state);
    if (idle) {
      finding.actions.push({ action: 'stop', outcome: 'skipped', reason: `${reason}; the instance is already ${instance.state}` });
    } else {
      grace = graceStatus(destructive.action, reason, policy.gracePeriodHours, ctx.now, ctx.grace);
      if (grace.state === 'due') {
        due = destructive.action;
        finding.actions.push({
          action: destructive.action,
          outcome: 'planned',
          reason: `${reason}; needs approval${policy.gracePeriodHours > 0 ? ` (grace period ended ${grace.dueAt})` : ''}`,
        });
      } else {
        const until = grace.state === 'none' ? '' : ` until ${grace.dueAt}`;
        finding.actions.push({ action: destructive.action, outcome: 'deferred', reason: `${reason}; grace period${until}, fix the tags before then` });
      }
    }
  }
  return { finding, exempt: false, tags, destructive: due, grace };
}

function notify(reason: string): ActionResult {
  return { action: 'notify', outcome: 'planned', reason };
}

function tagAction(
  instance: InstanceFacts,
  rule: TagRule,
  violation: Violation,
  spec: ActionSpec,
  ctx: PlanContext,
  tags: Record<string, string>,
): ActionResult {
  const template = spec.action === 'lookup-creator' ? '${creator}' : spec.value!;
  const expanded = expandTemplate(template, { now: ctx.now, launchTime: instance.launchTime, creator: ctx.creator });
  const value = expanded ?? spec.fallback;
  const base = { action: spec.action, tag: rule.key };
  if (value === undefined) {
    return {
      ...base,
      outcome: 'skipped',
      reason: `${violation.message}; the creator could not be found in CloudTrail and no fallback is set, notifying instead`,
    };
  }
  const verdict = valueVerdict(value, rule);
  if (!verdict.ok) {
    return {
      ...base,
      value,
      outcome: 'skipped',
      reason: `${violation.message}; the default ${JSON.stringify(value)} would break the rule too, notifying instead`,
    };
  }
  tags[rule.key] = value;
  return { ...base, value, outcome: 'planned', reason: violation.message };
}
