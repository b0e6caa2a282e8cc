/**
 * Reading instances from EC2: paged DescribeInstances mapped to the few facts the tasks decide on. Ids given
 * by a caller are looked up with an `instance-id` filter, so an unknown id is simply absent (and reported as
 * not found) instead of failing the whole call with InvalidInstanceID.NotFound.
 */
import { paginateDescribeInstances, type EC2Client, type Filter, type Instance } from '@aws-sdk/client-ec2';
import { Ec2ThrottledError } from '../../shared/errors';
import type { InstanceFacts } from './types';
import { isThrottling } from '../../shared/aws-errors';
import { mapLimit } from '../../shared/limit';

/** EC2 accepts at most 200 values per filter. */
const FILTER_VALUES = 200;
/** DescribeInstances' largest page (MaxResults 5-1000). */
const PAGE_SIZE = 1000;

export function facts(i: Instance): InstanceFacts {
  const tags: Record<string, string> = {};
  for (const t of i.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  return {
    instanceId: i.InstanceId ?? '',
    name: tags.Name ?? '',
    state: i.State?.Name ?? 'unknown',
    instanceType: i.InstanceType ?? '',
    tags,
    rootDeviceType: i.RootDeviceType ?? 'ebs',
    ...(i.HibernationOptions?.Configured && { hibernationConfigured: true }),
    ...(i.InstanceLifecycle && { lifecycle: i.InstanceLifecycle }),
    ...(i.StateReason?.Code && { stateReason: { code: i.StateReason.Code, message: i.StateReason.Message ?? '' } }),
  };
}

/** Every instance matching the filters, page by page (memory holds facts, never raw pages). */
export async function* describe(ec2: EC2Client, filters: Filter[]): AsyncGenerator<InstanceFacts> {
  try {
    for await (const page of paginateDescribeInstances({ client: ec2, pageSize: PAGE_SIZE }, { Filters: filters })) {
      for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) yield facts(i);
    }
  } catch (err) {
    throw throttled(err) ?? err;
  }
}

/** The instances with these ids (unknown ids are left out), `instance-id` filters of at most 200 values, up to `concurrency` calls in flight. */
export async function describeMany(ec2: EC2Client, ids: string[], concurrency: number): Promise<InstanceFacts[]> {
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += FILTER_VALUES) chunks.push(ids.slice(i, i + FILTER_VALUES));
  const found = await mapLimit(chunks, concurrency, async (chunk) => {
    const out: InstanceFacts[] = [];
    for await (const f of describe(ec2, [{ Name: 'instance-id', Values: chunk }])) out.push(f);
    return out;
  });
  return found.flat();
}

/** The SDK retried throttling already; what still comes through becomes the workflow's named retryable error. */
export function throttled(err: unknown): Ec2ThrottledError | undefined {
  return isThrottling(err) ? new Ec2ThrottledError(`EC2 throttled the request (${(err as Error).name})`) : undefined;
}
