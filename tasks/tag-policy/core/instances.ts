/**
 * Reading instances from EC2. A read that fails is TagPolicy.ReadFailed, never an empty tag set: a policy
 * engine that treats "could not read" as "untagged" terminates correctly tagged instances.
 */
import { DescribeInstancesCommand, DescribeTagsCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { TagPolicyReadFailedError } from '../../shared/errors';
import type { InstanceFacts, LaunchFilter } from './types';

/** Instances that can still be remediated; shutting-down and terminated ones are gone for our purposes. */
export const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];
/** EC2 accepts up to 200 values per filter; 100 keeps the requests small. */
export const ID_CHUNK = 100;

export interface FleetPage {
  instances: InstanceFacts[];
  nextToken?: string;
}

/** One DescribeInstances page of the live fleet, or of the live instances `filter` selects (a launch). */
export async function describeFleetPage(ec2: EC2Client, nextToken: string | undefined, pageSize: number, filter?: LaunchFilter): Promise<FleetPage> {
  const Filters = [{ Name: 'instance-state-name', Values: LIVE_STATES }, ...(filter ? [{ Name: filter.name, Values: filter.values }] : [])];
  const out = await read('DescribeInstances', () => ec2.send(new DescribeInstancesCommand({ Filters, MaxResults: pageSize, NextToken: nextToken })));
  const instances = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map(toFacts);
  return { instances, nextToken: out.NextToken };
}

/**
 * The given instances, tags re-read with DescribeTags (launch mode reads them after the settle delay, so tags
 * added right after RunInstances count). Ids EC2 does not know (yet: its API is eventually consistent right
 * after a launch) fail the read, so the workflow retries instead of judging an instance it cannot see.
 */
export async function describeByIds(ec2: EC2Client, ids: string[], opts: { tagsFromDescribeTags: boolean }): Promise<InstanceFacts[]> {
  const found: InstanceFacts[] = [];
  for (let i = 0; i < ids.length; i += ID_CHUNK) {
    const chunk = ids.slice(i, i + ID_CHUNK);
    let token: string | undefined;
    do {
      const out = await read('DescribeInstances', () =>
        ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: chunk }], NextToken: token })),
      );
      found.push(...(out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map(toFacts));
      token = out.NextToken;
    } while (token);
    if (opts.tagsFromDescribeTags) {
      const tags = await describeTags(ec2, chunk);
      for (const f of found) if (chunk.includes(f.instanceId)) f.tags = tags.get(f.instanceId) ?? {};
    }
  }
  const missing = ids.filter((id) => !found.some((f) => f.instanceId === id));
  if (missing.length > 0) throw new InstancesNotVisible(`EC2 does not (yet) know instance(s) ${missing.join(', ')}`);
  return found;
}

async function describeTags(ec2: EC2Client, ids: string[]): Promise<Map<string, Record<string, string>>> {
  const byId = new Map<string, Record<string, string>>();
  let token: string | undefined;
  do {
    const out = await read('DescribeTags', () =>
      ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: ids }], MaxResults: 1000, NextToken: token })),
    );
    for (const t of out.Tags ?? []) {
      if (!t.ResourceId || t.Key === undefined) continue;
      const tags = byId.get(t.ResourceId) ?? {};
      tags[t.Key] = t.Value ?? '';
      byId.set(t.ResourceId, tags);
    }
    token = out.NextToken;
  } while (token);
  return byId;
}

export function toFacts(i: Instance): InstanceFacts {
  return {
    instanceId: i.InstanceId!,
    state: i.State?.Name ?? 'unknown',
    launchTime: i.LaunchTime ? new Date(i.LaunchTime).toISOString() : undefined,
    tags: Object.fromEntries((i.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key!, t.Value ?? ''])),
  };
}

/**
 * EC2 does not show (some of) the instances asked for: right after a launch its API is eventually consistent, so the
 * workflow retries (same error name); never a target's fault.
 */
export class InstancesNotVisible extends TagPolicyReadFailedError {}

/** The failed call is kept as `cause`: a target's report names why it could not be read (AssumeRole refused, throttled). */
async function read<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new TagPolicyReadFailedError(`${what} failed: ${(err as Error).name}`, { cause: err });
  }
}
