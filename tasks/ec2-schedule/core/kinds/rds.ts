/**
 * RDS DB instances (`StopDBInstance` / `StartDBInstance`) and Aurora (and Multi-AZ) DB clusters (`StopDBCluster` /
 * `StartDBCluster`), one resource a call, no DryRun in the API.
 *
 * What RDS refuses is reported as the reason, before any call where the facts tell
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_StopInstance.html): "You can't stop a DB instance that
 * has a read replica, or that is a read replica"; "You can't stop an Amazon RDS for SQL Server DB instance in a
 * Multi-AZ configuration"; StopDBInstance "doesn't apply to RDS Custom, Aurora MySQL, and Aurora PostgreSQL. For
 * Aurora clusters, use StopDBCluster instead" (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StopDBInstance.html),
 * so a cluster's member instances are left to their cluster; RDS stops only an `available` database and starts only
 * a `stopped` one, else `InvalidDBInstanceState` / `InvalidDBClusterStateFault` (same pages, Errors).
 *
 * Seven days: "You can stop a DB instance for up to seven days. If you don't manually start your DB instance after
 * seven days, your DB instance is automatically started" (USER_StopInstance.html; for clusters
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-cluster-stop-start.html). A scheduled stop finds
 * such a database `available` and stops it again; RDS records the restart as event RDS-EVENT-0154 (instance) /
 * RDS-EVENT-0153 (cluster), "is being started due to it exceeding the maximum allowed time being stopped"
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.Messages.html), which the report quotes.
 *
 * Rates: "By default, you can make up to 300 requests in a burst and a sustained 12 requests per second", for all
 * RDS API operations together (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-api-throttling.html).
 */
import {
  DescribeEventsCommand,
  paginateDescribeDBClusters,
  paginateDescribeDBInstances,
  type DBCluster,
  type DBInstance,
  type Filter,
  type RDSClient,
  StartDBClusterCommand,
  StartDBInstanceCommand,
  StopDBClusterCommand,
  StopDBInstanceCommand,
} from '@aws-sdk/client-rds';
import type { Bucket } from '../pace';
import type { BatchEntry, Ec2Action } from '../types';
import { chunked, expired, finish, hasTag, overrideVerdict, tagRecord } from './common';
import type { Clients, KindModule, Resource, Verdict } from './kind';

/** One bucket for every RDS call; a start or stop is one resource a call, so both buckets are the request bucket. */
const RDS_BUCKET: Bucket = { capacity: 300, refill: 12 };
const RDS_BUCKETS = { start: { resource: RDS_BUCKET, request: RDS_BUCKET }, stop: { resource: RDS_BUCKET, request: RDS_BUCKET } };
/** A database takes minutes to stop or start, "from minutes to hours" to start (USER_StopInstance.html). */
const RDS_VERIFY_SECONDS = 2400;
/** DescribeDBInstances / DescribeDBClusters take up to 100 values a filter (MaxRecords 20-100). */
const FILTER_VALUES = 100;
/** States a database does not leave by itself: the move failed. */
const STUCK = /^(failed|incompatible-|inaccessible-encryption-credentials|storage-full|insufficient-capacity|restore-error)/;

export interface RdsInstance extends Resource {
  engine: string;
  cluster?: string;
  replicaOf?: string;
  replicas: string[];
  multiAz: boolean;
}

export interface RdsCluster extends Resource {
  engine: string;
  engineMode?: string;
  members: string[];
}

function instanceOf(d: DBInstance): RdsInstance {
  const tags = tagRecord(d.TagList);
  return {
    kind: 'rds-instance',
    id: d.DBInstanceIdentifier ?? '',
    name: tags.Name ?? d.DBInstanceIdentifier ?? '',
    state: d.DBInstanceStatus ?? 'unknown',
    tags,
    engine: d.Engine ?? '',
    ...(d.DBClusterIdentifier && { cluster: d.DBClusterIdentifier }),
    ...(d.ReadReplicaSourceDBInstanceIdentifier && { replicaOf: d.ReadReplicaSourceDBInstanceIdentifier }),
    replicas: d.ReadReplicaDBInstanceIdentifiers ?? [],
    multiAz: d.MultiAZ === true,
  };
}

function clusterOf(d: DBCluster): RdsCluster {
  const tags = tagRecord(d.TagList);
  return {
    kind: 'rds-cluster',
    id: d.DBClusterIdentifier ?? '',
    name: tags.Name ?? d.DBClusterIdentifier ?? '',
    state: d.Status ?? 'unknown',
    tags,
    engine: d.Engine ?? '',
    ...(d.EngineMode && { engineMode: d.EngineMode }),
    members: (d.DBClusterMembers ?? []).map((m) => m.DBInstanceIdentifier ?? ''),
  };
}

// Neither DescribeDBInstances nor DescribeDBClusters filters by tag: they return each database's TagList, read here.
async function* instances(rds: RDSClient, filters?: Filter[]): AsyncGenerator<RdsInstance> {
  for await (const page of paginateDescribeDBInstances({ client: rds, pageSize: 100 }, { Filters: filters })) {
    for (const d of page.DBInstances ?? []) yield instanceOf(d);
  }
}

async function* clusters(rds: RDSClient, filters?: Filter[]): AsyncGenerator<RdsCluster> {
  for await (const page of paginateDescribeDBClusters({ client: rds, pageSize: 100 }, { Filters: filters })) {
    for (const d of page.DBClusters ?? []) yield clusterOf(d);
  }
}

async function collect<T>(g: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
}

/** The state verdict both share: RDS stops only `available` databases and starts only `stopped` ones. */
function stateVerdict(r: Resource, action: Ec2Action, noun: string): Verdict {
  if (action === 'start') {
    if (r.state === 'available' || r.state === 'starting') return { kind: 'skip', reason: `already ${r.state}` };
    if (r.state !== 'stopped') return { kind: 'fail', reason: `RDS starts only a stopped ${noun}; it is ${r.state}` };
  } else {
    if (r.state === 'stopped' || r.state === 'stopping') return { kind: 'skip', reason: `already ${r.state}` };
    if (r.state !== 'available') return { kind: 'fail', reason: `RDS stops only an available ${noun}; it is ${r.state}` };
  }
  return { kind: 'act' };
}

/** Said of a database RDS started by itself after seven days stopped, when the schedule stops it again. */
const restartNote = (event: string) => `RDS started it by itself after seven days stopped (${event}); stopped again, as the schedule says`;

function settleDb(e: BatchEntry, r: Resource | undefined, action: Ec2Action, now: Date): void {
  const target = action === 'start' ? 'available' : 'stopped';
  if (!r) finish(e, 'failed', 'unknown', 'the database disappeared during the run');
  else if (r.state === target) finish(e, 'moved', r.state, '');
  else if (STUCK.test(r.state)) finish(e, 'failed', r.state, `RDS put it in state ${r.state}`);
  else if (r.state === 'deleting') finish(e, 'failed', r.state, 'deleted during the run');
  else if (expired(e, now)) finish(e, 'failed', r.state, `still ${r.state} when verification gave up (deadline ${e.verifyBy})`);
}

/** RDS's refusals, by error code (the SDK names the fault: `InvalidDBInstanceStateFault`, ...). */
function rdsRefusal(e: Error, action: Ec2Action): { status: BatchEntry['status']; reason: string } | undefined {
  const verb = action === 'start' ? 'start' : 'stop';
  if (/^InvalidDB(Instance|Cluster)State/.test(e.name)) return { status: 'failed', reason: `RDS refused to ${verb} it: ${e.message}` };
  if (/^DB(Instance|Cluster)NotFound/.test(e.name)) return { status: 'failed', reason: 'database not found' };
  if (e.name === 'InvalidParameterCombination' || e.name === 'UnsupportedOperation' || e.name === 'InvalidParameterValue')
    return { status: 'skipped', reason: `RDS cannot ${verb} it: ${e.message}` };
  if (e.name === 'AccessDenied' || e.name === 'AccessDeniedException')
    return {
      status: 'failed',
      reason: `not permitted (only databases tagged Schedule, or allowed by ec2Schedule.control, may be started or stopped): ${e.message}`,
    };
  return undefined;
}

export const rdsInstanceKind: KindModule<RdsInstance> = {
  kind: 'rds-instance',
  noun: 'RDS DB instance',
  idsPerCall: 1,
  dryRun: false,
  buckets: RDS_BUCKETS,
  verifySeconds: RDS_VERIFY_SECONDS,
  async *list(c, tag) {
    for await (const r of instances(c.rds)) if (hasTag(r.tags, tag)) yield r;
  },
  find: (c, ids) => chunked(ids, FILTER_VALUES, (chunk) => collect(instances(c.rds, [{ Name: 'db-instance-id', Values: chunk }]))),
  plan(r, ctx) {
    const override = overrideVerdict(r.tags, ctx.now);
    if (override) return override;
    if (r.cluster) return { kind: 'skip', reason: `member of DB cluster ${r.cluster}: RDS starts and stops it with its cluster; tag the cluster` };
    if (r.replicaOf) return { kind: 'skip', reason: `read replica of ${r.replicaOf}: RDS cannot stop a read replica` };
    if (r.replicas.length > 0)
      return { kind: 'skip', reason: `has read replicas (${r.replicas.join(', ')}): RDS cannot stop a DB instance that has a read replica` };
    if (r.engine.startsWith('custom-')) return { kind: 'skip', reason: `RDS Custom (${r.engine}): StopDBInstance does not apply to it` };
    if (r.engine.startsWith('sqlserver') && r.multiAz) return { kind: 'skip', reason: 'RDS for SQL Server in a Multi-AZ configuration: RDS cannot stop it' };
    const v = stateVerdict(r, ctx.action, 'DB instance');
    if (v.kind === 'act' && ctx.action === 'stop' && ctx.restartedByRds.has(`db-instance:${r.id}`))
      return { kind: 'act', entry: { note: restartNote('RDS-EVENT-0154') } };
    return v;
  },
  async call([e], ctx) {
    const input = { DBInstanceIdentifier: e.instanceId };
    if (ctx.action === 'start') await ctx.clients.rds.send(new StartDBInstanceCommand(input));
    else await ctx.clients.rds.send(new StopDBInstanceCommand(input));
  },
  refusal: rdsRefusal,
  settle: settleDb,
};

export const rdsClusterKind: KindModule<RdsCluster> = {
  kind: 'rds-cluster',
  noun: 'RDS DB cluster',
  idsPerCall: 1,
  dryRun: false,
  buckets: RDS_BUCKETS,
  verifySeconds: RDS_VERIFY_SECONDS,
  async *list(c, tag) {
    for await (const r of clusters(c.rds)) if (hasTag(r.tags, tag)) yield r;
  },
  find: (c, ids) => chunked(ids, FILTER_VALUES, (chunk) => collect(clusters(c.rds, [{ Name: 'db-cluster-id', Values: chunk }]))),
  plan(r, ctx) {
    const override = overrideVerdict(r.tags, ctx.now);
    if (override) return override;
    // Aurora Serverless v1 scales to zero by itself and cannot be stopped (aurora-cluster-stop-start.html, Limitations).
    if (r.engineMode === 'serverless') return { kind: 'skip', reason: 'Aurora Serverless v1: RDS cannot stop it (it pauses by itself)' };
    const v = stateVerdict(r, ctx.action, 'DB cluster');
    if (v.kind === 'act' && ctx.action === 'stop' && ctx.restartedByRds.has(`db-cluster:${r.id}`))
      return { kind: 'act', entry: { note: restartNote('RDS-EVENT-0153') } };
    return v;
  },
  async call([e], ctx) {
    const input = { DBClusterIdentifier: e.instanceId };
    if (ctx.action === 'start') await ctx.clients.rds.send(new StartDBClusterCommand(input));
    else await ctx.clients.rds.send(new StopDBClusterCommand(input));
  },
  refusal: rdsRefusal,
  settle: settleDb,
};

/** RDS's event messages (USER_Events.Messages.html): the seven-day restart (RDS-EVENT-0154 / 0153) and a stop (0087 / 0150). */
const RESTARTED = /exceeding the maximum allowed time being stopped/i;
const STOPPED = /^DB (instance|cluster) stopped/i;

/**
 * The databases running now because RDS started them after seven days stopped, as `db-instance:<id>` /
 * `db-cluster:<id>`: RDS's restart event came after the database's last stop. One DescribeEvents call per source
 * type and page (RDS keeps events 14 days; `Duration` in minutes; the API gives messages, not event ids:
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeEvents.html).
 */
export async function rdsRestarts(c: Pick<Clients, 'rds'>, now: Date): Promise<Set<string>> {
  const restarted = new Map<string, number>();
  const stopped = new Map<string, number>();
  for (const sourceType of ['db-instance', 'db-cluster'] as const) {
    let marker: string | undefined;
    do {
      const out = await c.rds.send(new DescribeEventsCommand({ SourceType: sourceType, EndTime: now, Duration: 8 * 24 * 60, Marker: marker }));
      for (const ev of out.Events ?? []) {
        if (!ev.SourceIdentifier) continue;
        const key = `${sourceType}:${ev.SourceIdentifier}`;
        const at = ev.Date ? new Date(ev.Date).getTime() : 0;
        const into = RESTARTED.test(ev.Message ?? '') ? restarted : STOPPED.test(ev.Message ?? '') ? stopped : undefined;
        if (into) into.set(key, Math.max(into.get(key) ?? 0, at));
      }
      marker = out.Marker;
    } while (marker);
  }
  return new Set([...restarted].filter(([key, at]) => at > (stopped.get(key) ?? 0)).map(([key]) => key));
}
