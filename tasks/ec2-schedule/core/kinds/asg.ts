/**
 * Auto Scaling groups: a stop stores the group's min/desired/max in the workflow's table and sets all three to 0; a
 * start restores the stored sizes (`UpdateAutoScalingGroup`,
 * https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html). The group launches and
 * terminates its instances itself; none is touched one by one (the EC2 kind leaves group members alone). Verified
 * "in service": on stop, no instance left; on start, at least the desired number `InService`
 * (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-lifecycle.html).
 */
import { type AutoScalingGroup, paginateDescribeAutoScalingGroups, UpdateAutoScalingGroupCommand, type Filter } from '@aws-sdk/client-auto-scaling';
import type { Bucket } from '../pace';
import { chunked, expired, finish, overrideVerdict, tagRecord } from './common';
import type { Clients, KindModule, Resource } from './kind';
import { noStoredSizes, restoreStored, storeThenZero } from './sizes';

export interface AsgResource extends Resource {
  min: number;
  desired: number;
  max: number;
  inService: number;
  instances: number;
}

/**
 * Amazon EC2 Auto Scaling publishes the algorithm, not the figures: it "uses the token bucket algorithm" and "throttles
 * API requests based on a shared API bucket" (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/Welcome.html,
 * API request rate; https://repost.aws/knowledge-center/autoscaling-api-calls-throttled). The size and refill here are
 * a modest choice (README, unconfirmed behaviours); the Advance loop still waits out a `Throttling` answer whatever
 * the real limit. One group a call.
 */
const ASG_BUCKET: Bucket = { capacity: 20, refill: 2 };
/** DescribeAutoScalingGroups takes up to 100 names (AutoScalingGroupNames; MaxRecords 100). */
const NAMES = 100;

export const sizesOf = (g: { min: number; desired: number; max: number }) => `${g.min}/${g.desired}/${g.max}`;

function groupOf(g: AutoScalingGroup): AsgResource {
  const tags = tagRecord(g.Tags);
  const r = { min: g.MinSize ?? 0, desired: g.DesiredCapacity ?? 0, max: g.MaxSize ?? 0 };
  return {
    kind: 'asg',
    id: g.AutoScalingGroupName ?? '',
    name: tags.Name ?? g.AutoScalingGroupName ?? '',
    state: sizesOf(r),
    tags,
    ...r,
    inService: (g.Instances ?? []).filter((i) => i.LifecycleState === 'InService').length,
    instances: (g.Instances ?? []).length,
  };
}

async function groups(c: Clients, input: { Filters?: Filter[]; AutoScalingGroupNames?: string[] }): Promise<AsgResource[]> {
  const out: AsgResource[] = [];
  for await (const page of paginateDescribeAutoScalingGroups({ client: c.autoscaling, pageSize: 100 }, input)) {
    for (const g of page.AutoScalingGroups ?? []) out.push(groupOf(g));
  }
  return out;
}

export const asgKind: KindModule<AsgResource> = {
  kind: 'asg',
  noun: 'Auto Scaling group',
  idsPerCall: 1,
  dryRun: false,
  buckets: { start: { resource: ASG_BUCKET, request: ASG_BUCKET }, stop: { resource: ASG_BUCKET, request: ASG_BUCKET } },
  verifySeconds: 900,
  async *list(c, tag) {
    // DescribeAutoScalingGroups filters by tag: "tag:<key>" (API_DescribeAutoScalingGroups.html, Filters).
    yield* await groups(c, tag ? { Filters: [{ Name: `tag:${tag.key}`, Values: [tag.value] }] } : {});
  },
  find: (c, ids) => chunked(ids, NAMES, (chunk) => groups(c, { AutoScalingGroupNames: chunk })),
  plan(r, ctx) {
    const override = overrideVerdict(r.tags, ctx.now);
    if (override) return override;
    if (ctx.action === 'stop') {
      if (r.max === 0 && r.desired === 0) return { kind: 'skip', reason: `already scaled to zero (${r.state})` };
      return { kind: 'act', entry: { sizes: { min: r.min, desired: r.desired, max: r.max } } };
    }
    if (r.max > 0) return { kind: 'skip', reason: `already has capacity (min/desired/max ${r.state})` };
    return { kind: 'act' };
  },
  async call([e], ctx) {
    const update = async (min: number, desired: number, max: number) => {
      await ctx.clients.autoscaling.send(
        new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: e.instanceId, MinSize: min, DesiredCapacity: desired, MaxSize: max }),
      );
    };
    if (ctx.action === 'stop') await storeThenZero(ctx.store, 'asg', e, ctx.runId, () => update(0, 0, 0), ctx.where);
    else await restoreStored(ctx.store, 'asg', e, (s) => update(s.min ?? s.desired, s.desired, s.max ?? s.desired), ctx.where);
  },
  refusal(e) {
    if (e.name === 'ScalingActivityInProgressFault' || e.name === 'ScalingActivityInProgress')
      return { status: 'failed', reason: `a scaling activity is in progress: ${e.message}` };
    if (e.name === 'AccessDenied') return { status: 'failed', reason: `not permitted (only groups tagged Schedule may be scaled): ${e.message}` };
    return noStoredSizes(e);
  },
  settle(e, r, action, now) {
    if (!r) return finish(e, 'failed', 'unknown', 'the group disappeared during the run');
    if (action === 'stop' ? r.desired === 0 && r.instances === 0 : r.desired > 0 && r.inService >= r.desired)
      return finish(e, 'moved', r.state, action === 'start' ? `${r.inService} in service` : '');
    if (expired(e, now))
      finish(e, 'failed', r.state, `${r.inService} of ${r.desired} in service (${r.instances} instances) when verification gave up (deadline ${e.verifyBy})`);
  },
};
