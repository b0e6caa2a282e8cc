/**
 * ECS services: a stop stores the service's desired count in the workflow's table and sets it to 0; a start restores
 * it (`UpdateService` desiredCount, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html).
 * A service is named `<cluster>/<service>`. Verified "in service": on stop no task running or pending, on start as many
 * running as desired (`runningCount`, `pendingCount`, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Service.html).
 * Listed by tag through ListClusters, ListServices and DescribeServices with `include: ["TAGS"]` (ECS filters no list
 * by tag).
 */
import { DescribeServicesCommand, paginateListClusters, paginateListServices, type Service, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import type { Bucket } from '../pace';
import { expired, finish, hasTag, overrideVerdict } from './common';
import type { Clients, KindModule, Resource } from './kind';
import { noStoredSizes, restoreStored, storeThenZero } from './sizes';

export interface EcsService extends Resource {
  cluster: string;
  service: string;
  desired: number;
  running: number;
  pending: number;
  status: string;
}

/**
 * "Service modify actions (CreateService, DeleteService, UpdateService)" share one bucket of 50 tokens refilled at 5 a
 * second (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html). One service a call.
 */
const ECS_BUCKET: Bucket = { capacity: 50, refill: 5 };
/** DescribeServices takes at most 10 services a call (API_DescribeServices.html). */
const DESCRIBE_SERVICES = 10;

const nameOf = (arnOrName: string) => arnOrName.slice(arnOrName.lastIndexOf('/') + 1);

function serviceOf(s: Service, cluster: string): EcsService {
  const tags: Record<string, string> = {};
  for (const t of s.tags ?? []) if (t.key !== undefined) tags[t.key] = t.value ?? '';
  const service = s.serviceName ?? nameOf(s.serviceArn ?? '');
  const desired = s.desiredCount ?? 0;
  const running = s.runningCount ?? 0;
  return {
    kind: 'ecs-service',
    id: `${cluster}/${service}`,
    name: tags.Name ?? service,
    state: `${running}/${desired} running`,
    tags,
    cluster,
    service,
    desired,
    running,
    pending: s.pendingCount ?? 0,
    status: s.status ?? 'unknown',
  };
}

async function describe(c: Clients, cluster: string, services: string[]): Promise<EcsService[]> {
  const out: EcsService[] = [];
  for (let i = 0; i < services.length; i += DESCRIBE_SERVICES) {
    const page = await c.ecs.send(new DescribeServicesCommand({ cluster, services: services.slice(i, i + DESCRIBE_SERVICES), include: ['TAGS'] }));
    for (const s of page.services ?? []) if (s.status !== 'INACTIVE') out.push(serviceOf(s, cluster));
  }
  return out;
}

export const ecsKind: KindModule<EcsService> = {
  kind: 'ecs-service',
  noun: 'ECS service',
  idsPerCall: 1,
  dryRun: false,
  buckets: { start: { resource: ECS_BUCKET, request: ECS_BUCKET }, stop: { resource: ECS_BUCKET, request: ECS_BUCKET } },
  verifySeconds: 900,
  async *list(c, tag) {
    for await (const clusters of paginateListClusters({ client: c.ecs }, {})) {
      for (const clusterArn of clusters.clusterArns ?? []) {
        const cluster = nameOf(clusterArn);
        const arns: string[] = [];
        for await (const page of paginateListServices({ client: c.ecs }, { cluster })) arns.push(...(page.serviceArns ?? []));
        for (const s of await describe(c, cluster, arns)) if (hasTag(s.tags, tag)) yield s;
      }
    }
  },
  async find(c, ids) {
    const byCluster = new Map<string, string[]>();
    for (const id of ids) {
      const slash = id.indexOf('/');
      if (slash < 1) continue;
      byCluster.set(id.slice(0, slash), [...(byCluster.get(id.slice(0, slash)) ?? []), id.slice(slash + 1)]);
    }
    const out: EcsService[] = [];
    for (const [cluster, services] of byCluster) {
      try {
        out.push(...(await describe(c, cluster, services)));
      } catch (err) {
        if ((err as Error).name !== 'ClusterNotFoundException') throw err; // an unknown cluster: its services are not found
      }
    }
    return out;
  },
  plan(r, ctx) {
    const override = overrideVerdict(r.tags, ctx.now);
    if (override) return override;
    if (r.status !== 'ACTIVE') return { kind: 'skip', reason: `service is ${r.status}` };
    if (ctx.action === 'stop') {
      if (r.desired === 0) return { kind: 'skip', reason: 'already scaled to zero (desired count 0)' };
      return { kind: 'act', entry: { sizes: { desired: r.desired } } };
    }
    if (r.desired > 0) return { kind: 'skip', reason: `already has a desired count of ${r.desired}` };
    return { kind: 'act' };
  },
  async call([e], ctx) {
    const [cluster, service] = [e.instanceId.slice(0, e.instanceId.indexOf('/')), e.instanceId.slice(e.instanceId.indexOf('/') + 1)];
    const update = async (desiredCount: number) => {
      await ctx.clients.ecs.send(new UpdateServiceCommand({ cluster, service, desiredCount }));
    };
    if (ctx.action === 'stop') await storeThenZero(ctx.store, 'ecs-service', e, ctx.runId, () => update(0), ctx.where);
    else await restoreStored(ctx.store, 'ecs-service', e, (s) => update(s.desired), ctx.where);
  },
  refusal(e) {
    if (e.name === 'ServiceNotActiveException' || e.name === 'ServiceNotFoundException' || e.name === 'ClusterNotFoundException')
      return { status: 'failed', reason: `${e.name}: ${e.message}` };
    if (e.name === 'AccessDeniedException') return { status: 'failed', reason: `not permitted (only services tagged Schedule may be scaled): ${e.message}` };
    return noStoredSizes(e);
  },
  settle(e, r, action, now) {
    if (!r) return finish(e, 'failed', 'unknown', 'the service disappeared during the run');
    if (action === 'stop' ? r.desired === 0 && r.running === 0 && r.pending === 0 : r.desired > 0 && r.running >= r.desired)
      return finish(e, 'moved', r.state, '');
    if (expired(e, now)) finish(e, 'failed', r.state, `${r.running} of ${r.desired} tasks running when verification gave up (deadline ${e.verifyBy})`);
  },
};
