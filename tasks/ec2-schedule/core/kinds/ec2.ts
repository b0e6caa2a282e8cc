/**
 * EC2 instances: `Start/StopInstances` for many at once, DryRun answered by EC2, paced to EC2's token buckets
 * (pace.ts). Hibernation: a stop hibernates an instance when the schedule (`hibernate: true`) or the instance's
 * `opsflow:hibernate=true` tag asks for it and the instance was launched with `HibernationOptions.Configured`;
 * "You can hibernate an instance only if it's enabled for hibernation and it meets the hibernation prerequisites"
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Hibernate.html), and hibernation "can't be enabled on an
 * existing instance" (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/hibernating-prerequisites.html). Any other
 * instance gets a plain stop, and the report says why. `StopInstances`' `Hibernate` applies to the whole call
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_StopInstances.html), so hibernating instances go in
 * batches of their own. "If hibernation fails, a normal shutdown occurs" (same page): verification tells the two
 * apart by the StateReason (`Client.UserInitiatedHibernate`).
 */
import { StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, describeMany } from '../instances';
import { EC2_BUCKETS } from '../pace';
import { ASG_TAG, HIBERNATE_TAG } from '../tags';
import type { Ec2Action, InstanceFacts } from '../types';
import { settle } from '../verify';
import { overrideVerdict } from './common';
import type { KindModule, Resource, Verdict } from './kind';

export type Ec2Resource = Resource & InstanceFacts;

/** DescribeInstances calls a pass keeps in flight: a fifth of the (filtered) request bucket of 100. */
const DESCRIBE_CONCURRENCY = 5;

/** Why an instance is left alone, or `act`. Checked in this order so the most fundamental reason wins. */
export function verdict(i: InstanceFacts, action: Ec2Action, now: Date): Verdict {
  if (i.state === 'terminated' || i.state === 'shutting-down') return { kind: 'skip', reason: `instance is ${i.state}` };
  const asg = i.tags[ASG_TAG];
  if (asg !== undefined)
    return { kind: 'skip', reason: `member of Auto Scaling group ${asg}: the group would replace it; schedule the group's capacity instead` };
  const override = overrideVerdict(i.tags, now);
  if (override) return override;
  if (i.rootDeviceType === 'instance-store') return { kind: 'skip', reason: 'instance-store root device: it cannot be stopped, so it is not scheduled' };
  if (action === 'start') {
    if (i.state === 'running' || i.state === 'pending') return { kind: 'skip', reason: `already ${i.state}` };
    if (i.state === 'stopping') return { kind: 'fail', reason: 'still stopping: it can only be started once stopped' };
  } else {
    if (i.state === 'stopped' || i.state === 'stopping') return { kind: 'skip', reason: `already ${i.state}` };
    if (i.state === 'pending') return { kind: 'fail', reason: 'still starting: it can only be stopped once running' };
  }
  return { kind: 'act' };
}

const asResource = (f: InstanceFacts): Ec2Resource => ({ ...f, kind: 'ec2', id: f.instanceId });

export const ec2Kind: KindModule<Ec2Resource> = {
  kind: 'ec2',
  noun: 'EC2 instance',
  idsPerCall: Number.POSITIVE_INFINITY,
  dryRun: true,
  buckets: EC2_BUCKETS,
  verifySeconds: 0,
  async *list(c, tag) {
    for await (const f of describe(c.ec2, tag ? [{ Name: `tag:${tag.key}`, Values: [tag.value] }] : [])) yield asResource(f);
  },
  async find(c, ids) {
    return (await describeMany(c.ec2, [...ids], DESCRIBE_CONCURRENCY)).map(asResource);
  },
  plan(r, ctx) {
    const v = verdict(r, ctx.action, ctx.now);
    if (v.kind !== 'act' || ctx.action !== 'stop') return v;
    const asked = ctx.hibernate ? 'the schedule' : r.tags[HIBERNATE_TAG] === 'true' ? `its ${HIBERNATE_TAG} tag` : undefined;
    if (!asked) return v;
    if (r.hibernationConfigured) return { kind: 'act', entry: { hibernate: true } };
    return {
      kind: 'act',
      entry: {
        note: `hibernation asked by ${asked}, but the instance was not launched with hibernation configured (HibernationOptions.Configured): stopped instead`,
      },
    };
  },
  async call(entries, ctx) {
    const input = { InstanceIds: entries.map((e) => e.instanceId), DryRun: ctx.dryRun };
    if (ctx.action === 'start') await ctx.clients.ec2.send(new StartInstancesCommand(input));
    else await ctx.clients.ec2.send(new StopInstancesCommand({ ...input, ...(ctx.hibernate && { Hibernate: true }) }));
  },
  refusal(e, action) {
    // EC2 refuses `Hibernate` for an instance not enabled for it (https://docs.aws.amazon.com/AWSEC2/latest/devguide/errors-overview.html,
    // UnsupportedHibernationConfiguration); the plan never asks for one, so this is an instance changed since.
    if (action === 'stop' && (e.name === 'UnsupportedHibernationConfiguration' || /hibernat/i.test(e.message)))
      return { status: 'failed', reason: `hibernation refused: ${e.message}` };
    return undefined;
  },
  settle(e, r, action, now) {
    settle(e, r, action, now);
  },
};
