/**
 * The simulated Amazon RDS world behind the local RDS API (local/services/rds.ts): DB instances and Aurora DB
 * clusters with RDS's stop/start rules, transitions that take virtual time, the seven-day automatic restart and
 * the RDS events that say what happened. Rules live here, not in the API layer, because they are the world's:
 * whoever asks, a read replica cannot be stopped. Errors are RDS's own codes (`AwsError`).
 *
 * What AWS says (quoted beside each rule below):
 * - https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_StopInstance.html — stopping a DB instance, its
 *   limitations and the seven-day restart;
 * - https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-cluster-stop-start.html — stopping an Aurora
 *   DB cluster, its limitations and its seven-day restart;
 * - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StopDBInstance.html (and StartDBInstance,
 *   StopDBCluster, StartDBCluster) — the operations and their errors;
 * - https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.Messages.html — the event ids.
 *
 * State is four stores ('rds.instances', 'rds.clusters', 'rds.events', 'rds.meta'; a member partition's are
 * 'rds.<account>.<region>.instances' and so on); pending transitions and the
 * automatic restart are stored as due virtual times, so a restarted runtime completes the overdue ones in time order
 * and schedules the rest.
 */
import { randomBytes } from 'node:crypto';
import { AwsError, HUB, type Clock, type Partition, type StateDir, type Store } from '../kernel';

export type DbStatus = 'available' | 'stopping' | 'stopped' | 'starting';

/** A resource tag, as RDS's TagList holds it (the fleet's seed checker imports this module, so it is not imported from fleet.ts). */
export interface Tag {
  Key: string;
  Value: string;
}

/** A status change in progress, stored with its resource so that it survives a restart. */
export interface DbTransition {
  to: DbStatus;
  /** Virtual epoch ms. */
  dueMs: number;
}

export interface DbInstance {
  id: string;
  /** `DbiResourceId`, `db-` and 26 upper-case letters and digits. */
  resourceId: string;
  instanceClass: string;
  engine: string;
  engineVersion: string;
  status: DbStatus;
  multiAz: boolean;
  /** The Aurora cluster this instance belongs to. */
  clusterId?: string;
  /** The cluster's writer (the first member of a seeded cluster). */
  clusterWriter?: boolean;
  /** This instance is a read replica of that one. */
  replicaSourceId?: string;
  tags: Tag[];
  availabilityZone: string;
  createdMs: number;
  allocatedStorage: number;
  masterUsername: string;
  /** When it last entered `stopped`: the automatic restart is due seven days later. */
  stoppedMs?: number;
  transition?: DbTransition;
}

export interface DbCluster {
  id: string;
  /** `DbClusterResourceId`, `cluster-` and 26 upper-case letters and digits. */
  resourceId: string;
  engine: string;
  engineVersion: string;
  /** `serverless` is Aurora Serverless v1. */
  engineMode: 'provisioned' | 'serverless';
  status: DbStatus;
  /** Member of this Aurora global database. */
  globalClusterId?: string;
  tags: Tag[];
  createdMs: number;
  masterUsername: string;
  stoppedMs?: number;
  transition?: DbTransition;
}

/** One RDS event, as DescribeEvents returns it. */
export interface RdsEvent {
  /** Sequence key: time order, then the order recorded. */
  key: string;
  sourceId: string;
  sourceType: 'db-instance' | 'db-cluster';
  sourceArn: string;
  /** The event id of the events reference (`RDS-EVENT-0154`); DescribeEvents does not return it, notifications do. */
  eventId: string;
  message: string;
  categories: string[];
  dateMs: number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

/**
 * How long transitions take here: LOCAL CHOICES, not AWS figures. AWS gives none: stopping "can take several
 * minutes" and starting "can take from minutes to hours" (USER_StopInstance.html); "Restarting a DB cluster usually
 * takes several minutes" (aurora-cluster-stop-start.html). Fixed durations keep tests and schedules deterministic.
 */
export const RDS_TRANSITION_MS = { instanceStop: 5 * MINUTE, instanceStart: 8 * MINUTE, clusterStop: 6 * MINUTE, clusterStart: 10 * MINUTE };

/**
 * "You can stop a DB instance for up to seven days. If you don't manually start your DB instance after seven days, your
 * DB instance is automatically started" (USER_StopInstance.html); "You can stop a DB cluster for up to seven days. If you
 * don't manually start your DB cluster after seven days, your DB cluster is automatically started"
 * (aurora-cluster-stop-start.html). Counted from the moment it entered `stopped` (the pages do not say from the request
 * or from the end of `stopping`: the later instant, so a resource is never started earlier than AWS would).
 */
export const MAX_STOPPED_MS = 7 * DAY;

/** Events "for the past 14 days" (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeEvents.html). */
const EVENT_RETENTION_MS = 14 * DAY;

/**
 * The events the world records (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.Messages.html:
 * "RDS-EVENT-0087 The DB instance has been stopped", "RDS-EVENT-0088 The DB instance has been started",
 * "RDS-EVENT-0154 The DB instance is being started due to it exceeding the maximum allowed time being stopped",
 * "RDS-EVENT-0150 The DB cluster stopped", "RDS-EVENT-0151 The DB cluster started", "RDS-EVENT-0153 The DB cluster is
 * being started due to it exceeding the maximum allowed time being stopped", category notification). The messages are
 * worded as RDS sends them: "DB instance stopped" with RDS-EVENT-0087 in the RDS guide's example event
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-cloud-watch-events.html); the others in that form, the
 * automatic restarts as users recorded them ("DB instance is being started due to it exceeding the maximum allowed time
 * being stopped.", https://github.com/sqlxpert/step-stay-stopped-aws-rds-aurora).
 */
export const RDS_EVENTS = {
  instanceStopped: { eventId: 'RDS-EVENT-0087', message: 'DB instance stopped' },
  instanceStarted: { eventId: 'RDS-EVENT-0088', message: 'DB instance started' },
  instanceAutoStart: {
    eventId: 'RDS-EVENT-0154',
    message: 'DB instance is being started due to it exceeding the maximum allowed time being stopped.',
  },
  clusterStopped: { eventId: 'RDS-EVENT-0150', message: 'DB cluster stopped' },
  clusterStarted: { eventId: 'RDS-EVENT-0151', message: 'DB cluster started' },
  clusterAutoStart: {
    eventId: 'RDS-EVENT-0153',
    message: 'DB cluster is being started due to it exceeding the maximum allowed time being stopped.',
  },
} as const;

/** ARNs name the account and region of the world that holds the resource (the hub's, or a member partition's). */
export const dbArn = (id: string, p: Partition = HUB) => `arn:aws:rds:${p.region}:${p.account}:db:${id}`;
export const clusterArn = (id: string, p: Partition = HUB) => `arn:aws:rds:${p.region}:${p.account}:cluster:${id}`;

const azs = (p: Partition) => [`${p.region}a`, `${p.region}b`, `${p.region}c`];
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const resourceSuffix = () => [...randomBytes(26)].map((b) => ALNUM[b % ALNUM.length]).join('');

/**
 * Engines whose instances StopDBInstance stops: "You can stop and start DB instances that are running the following
 * engines: MariaDB, Microsoft SQL Server, MySQL, Oracle, PostgreSQL" (USER_StopInstance.html), and RDS for Db2 (a later
 * engine, `db2-se`/`db2-ae`, listed on the current page). StopDBInstance "doesn't apply to RDS Custom, Aurora MySQL, and
 * Aurora PostgreSQL. For Aurora clusters, use StopDBCluster instead" (API_StopDBInstance.html).
 */
const STOPPABLE_ENGINE = /^(mariadb|mysql|postgres|oracle-.+|sqlserver-.+|db2-.+)$/;

// ---------------------------------------------------------------------------------------------------------
// Seed: the databases of the app's fleet file (`rds` in workflows/fleet.json)

export interface SeedDbInstance {
  id: string;
  engine: string;
  engineVersion: string;
  instanceClass: string;
  status: 'available' | 'stopped';
  /** Created this many days before the runtime first starts. */
  createdDaysAgo: number;
  /** For a stopped instance: stopped this many days ago (under 7, or RDS would have started it). @default 1 */
  stoppedDaysAgo?: number;
  multiAz?: boolean;
  /** The Aurora cluster it belongs to (its status follows the cluster's); the cluster's first member is its writer. */
  cluster?: string;
  /** It is a read replica of this instance. */
  readReplicaSource?: string;
  tags: Record<string, string>;
}

export interface SeedDbCluster {
  id: string;
  engine: 'aurora-mysql' | 'aurora-postgresql';
  engineVersion: string;
  /** @default provisioned */
  engineMode?: 'provisioned' | 'serverless';
  status: 'available' | 'stopped';
  createdDaysAgo: number;
  stoppedDaysAgo?: number;
  globalCluster?: string;
  tags: Record<string, string>;
}

export interface RdsSeed {
  dbClusters?: SeedDbCluster[];
  dbInstances?: SeedDbInstance[];
}

/**
 * "1 to 63 letters, numbers, or hyphens. First character must be a letter. Can't end with a hyphen or contain two
 * consecutive hyphens" (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html,
 * DBInstanceIdentifier; DBClusterIdentifier has the same rule). RDS stores identifiers in lower case.
 */
const IDENTIFIER = /^[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)$/;

/** Checks the fleet file's `rds` section, failing with the field's path (`rds.dbInstances[2].engine`) and what was found. */
export function checkRdsSeed(rds: unknown, fail: (what: string) => never): void {
  const got = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
  if (typeof rds !== 'object' || rds === null || Array.isArray(rds)) fail(`rds: must be an object with dbInstances and dbClusters, got ${got(rds)}`);
  const seed = rds as Record<string, unknown>;
  for (const key of Object.keys(seed)) if (key !== 'dbInstances' && key !== 'dbClusters') fail(`rds.${key}: unknown field (dbInstances, dbClusters)`);
  const clusters = new Map<string, SeedDbCluster>();
  const common = (r: Record<string, unknown>, at: string) => {
    if (typeof r.id !== 'string' || !IDENTIFIER.test(r.id))
      fail(`${at}.id: must be an RDS identifier (a lower-case letter, then up to 62 letters, digits or single hyphens, not ending in one), got ${got(r.id)}`);
    for (const field of ['engine', 'engineVersion'])
      if (typeof r[field] !== 'string' || r[field] === '') fail(`${at}.${field}: must be a non-empty string, got ${got(r[field])}`);
    if (r.status !== 'available' && r.status !== 'stopped') fail(`${at}.status: must be "available" or "stopped", got ${got(r.status)}`);
    if (typeof r.createdDaysAgo !== 'number' || !(r.createdDaysAgo >= 0 && r.createdDaysAgo <= 3650))
      fail(`${at}.createdDaysAgo: must be a number from 0 to 3650, got ${got(r.createdDaysAgo)}`);
    if (r.stoppedDaysAgo !== undefined) {
      if (r.status !== 'stopped') fail(`${at}.stoppedDaysAgo: only a stopped resource has one`);
      if (typeof r.stoppedDaysAgo !== 'number' || !(r.stoppedDaysAgo >= 0 && r.stoppedDaysAgo < 7))
        fail(`${at}.stoppedDaysAgo: must be a number from 0 to under 7 (RDS starts a stopped database after seven days), got ${got(r.stoppedDaysAgo)}`);
    }
    if (typeof r.tags !== 'object' || r.tags === null || Array.isArray(r.tags)) fail(`${at}.tags: must be an object of tag values, got ${got(r.tags)}`);
    for (const [key, value] of Object.entries(r.tags as object)) if (typeof value !== 'string') fail(`${at}.tags.${key}: must be a string, got ${got(value)}`);
  };
  const list = (key: 'dbClusters' | 'dbInstances'): Record<string, unknown>[] => {
    const v = seed[key] ?? [];
    if (!Array.isArray(v)) fail(`rds.${key}: must be a list, got ${got(v)}`);
    return (v as unknown[]).map((r, n) => {
      if (typeof r !== 'object' || r === null || Array.isArray(r)) fail(`rds.${key}[${n}]: must be an object, got ${got(r)}`);
      return r as Record<string, unknown>;
    });
  };
  list('dbClusters').forEach((c, n) => {
    const at = `rds.dbClusters[${n}]`;
    common(c, at);
    if (c.engine !== 'aurora-mysql' && c.engine !== 'aurora-postgresql')
      fail(`${at}.engine: must be "aurora-mysql" or "aurora-postgresql", got ${got(c.engine)}`);
    if (c.engineMode !== undefined && c.engineMode !== 'provisioned' && c.engineMode !== 'serverless')
      fail(`${at}.engineMode: must be "provisioned" or "serverless", got ${got(c.engineMode)}`);
    if (clusters.has(c.id as string)) fail(`${at}.id: ${c.id} is also another cluster`);
    clusters.set(c.id as string, c as unknown as SeedDbCluster);
  });
  const instances = new Map<string, Record<string, unknown>>();
  const all = list('dbInstances');
  all.forEach((i, n) => {
    const at = `rds.dbInstances[${n}]`;
    common(i, at);
    if (typeof i.instanceClass !== 'string' || !i.instanceClass.startsWith('db.'))
      fail(`${at}.instanceClass: must be a DB instance class (db.*), got ${got(i.instanceClass)}`);
    if (instances.has(i.id as string)) fail(`${at}.id: ${i.id} is also another instance`);
    instances.set(i.id as string, i);
    if (i.cluster !== undefined) {
      const cluster = clusters.get(i.cluster as string);
      if (!cluster) fail(`${at}.cluster: no cluster ${got(i.cluster)} in rds.dbClusters`);
      if (i.engine !== cluster.engine) fail(`${at}.engine: a member of ${cluster.id} runs its engine ${cluster.engine}, got ${got(i.engine)}`);
      if (i.status !== cluster.status) fail(`${at}.status: a member's status is its cluster's (${cluster.status}), got ${got(i.status)}`);
    } else if (typeof i.engine === 'string' && i.engine.startsWith('aurora')) fail(`${at}.cluster: an ${i.engine} instance belongs to a cluster`);
  });
  all.forEach((i, n) => {
    if (i.readReplicaSource === undefined) return;
    const source = instances.get(i.readReplicaSource as string);
    if (!source || source === i) fail(`rds.dbInstances[${n}].readReplicaSource: no other instance ${got(i.readReplicaSource)} in rds.dbInstances`);
  });
}

// ---------------------------------------------------------------------------------------------------------
// The world

export interface RdsWorldOptions {
  clock: Clock;
  state: StateDir;
  /** Told of every event recorded (the runtime puts it on the default event bus). */
  onEvent?: (event: RdsEvent) => void;
  /** The account and region of these databases (local/org/partitions.ts); a member partition's state is stored apart. @default HUB */
  partition?: Partition;
}

/** The operation a refusal names ("stopped"/"started"). */
type Verb = 'stop' | 'start';

export class RdsWorld {
  readonly clock: Clock;
  readonly partition: Partition;
  private readonly stored: { instances: Store<DbInstance>; clusters: Store<DbCluster>; events: Store<RdsEvent>; meta: Store<number> };
  private readonly instances = new Map<string, DbInstance>();
  private readonly clusters = new Map<string, DbCluster>();
  private events: RdsEvent[] = [];
  private sequence: number;
  private timer?: { dueMs: number; cancel: () => void };
  private readonly onEvent?: (event: RdsEvent) => void;

  constructor(opts: RdsWorldOptions) {
    this.clock = opts.clock;
    this.onEvent = opts.onEvent;
    this.partition = opts.partition ?? HUB;
    // The hub keeps the store names it always had, so existing state directories load unchanged.
    const p = this.partition;
    const prefix = p.account === HUB.account && p.region === HUB.region ? 'rds' : `rds.${p.account}.${p.region}`;
    this.stored = {
      instances: opts.state.store(`${prefix}.instances`),
      clusters: opts.state.store(`${prefix}.clusters`),
      events: opts.state.store(`${prefix}.events`),
      meta: opts.state.store(`${prefix}.meta`),
    };
    for (const i of this.stored.instances.values()) this.instances.set(i.id, i);
    for (const c of this.stored.clusters.values()) this.clusters.set(c.id, c);
    this.events = [...this.stored.events.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.sequence = this.stored.meta.get('sequence') ?? 0;
    this.settle();
  }

  /** Plants the app's databases when the state has none yet (a first run); a world with state is left as it is. */
  seed(seed: RdsSeed): void {
    if (this.stored.meta.get('seeded') !== undefined || this.instances.size > 0 || this.clusters.size > 0) return;
    const now = this.clock.nowMs();
    const at = (days: number) => Math.floor((now - days * DAY) / MINUTE) * MINUTE;
    for (const c of seed.dbClusters ?? []) {
      const stopped = c.status === 'stopped';
      this.putCluster({
        id: c.id,
        resourceId: `cluster-${resourceSuffix()}`,
        engine: c.engine,
        engineVersion: c.engineVersion,
        engineMode: c.engineMode ?? 'provisioned',
        status: c.status,
        ...(c.globalCluster !== undefined && { globalClusterId: c.globalCluster }),
        tags: Object.entries(c.tags).map(([Key, Value]) => ({ Key, Value })),
        createdMs: at(c.createdDaysAgo),
        masterUsername: c.engine === 'aurora-postgresql' ? 'postgres' : 'admin',
        ...(stopped && { stoppedMs: at(c.stoppedDaysAgo ?? 1) }),
      });
    }
    const writers = new Set<string>();
    (seed.dbInstances ?? []).forEach((i, n) => {
      const stopped = i.status === 'stopped' && i.cluster === undefined;
      const writer = i.cluster !== undefined && !writers.has(i.cluster);
      if (writer) writers.add(i.cluster!);
      this.putInstance({
        id: i.id,
        resourceId: `db-${resourceSuffix()}`,
        instanceClass: i.instanceClass,
        engine: i.engine,
        engineVersion: i.engineVersion,
        status: i.status,
        multiAz: i.multiAz ?? false,
        ...(i.cluster !== undefined && { clusterId: i.cluster, clusterWriter: writer }),
        ...(i.readReplicaSource !== undefined && { replicaSourceId: i.readReplicaSource }),
        tags: Object.entries(i.tags).map(([Key, Value]) => ({ Key, Value })),
        availabilityZone: azs(this.partition)[n % 3],
        createdMs: at(i.createdDaysAgo),
        allocatedStorage: i.cluster !== undefined ? 1 : 20,
        masterUsername: i.engine.includes('postgres') ? 'postgres' : 'admin',
        ...(stopped && { stoppedMs: at(i.stoppedDaysAgo ?? 1) }),
      });
    });
    this.stored.meta.put('seeded', now);
    this.settle();
  }

  /** Every DB instance, transitions due by now completed, in identifier order. Read-only: change them through the methods. */
  listInstances(): readonly DbInstance[] {
    this.settle();
    return [...this.instances.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  listClusters(): readonly DbCluster[] {
    this.settle();
    return [...this.clusters.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The read replicas of an instance, in identifier order. */
  replicasOf(id: string): string[] {
    return [...this.instances.values()]
      .filter((i) => i.replicaSourceId === id)
      .map((i) => i.id)
      .sort();
  }

  /** The member instances of a cluster, writer first. */
  membersOf(clusterId: string): DbInstance[] {
    return [...this.instances.values()]
      .filter((i) => i.clusterId === clusterId)
      .sort((a, b) => Number(!!b.clusterWriter) - Number(!!a.clusterWriter) || (a.id < b.id ? -1 : 1));
  }

  /** "DBInstanceIdentifier doesn't refer to an existing DB instance" (DBInstanceNotFound, 404: API_StopDBInstance.html). */
  instance(id: string): DbInstance {
    this.settle();
    const i = this.instances.get(id.toLowerCase());
    if (!i) throw new AwsError('DBInstanceNotFound', `DBInstance ${id} not found.`, 404);
    return i;
  }

  /** "DBClusterIdentifier doesn't refer to an existing DB cluster" (DBClusterNotFoundFault, 404: API_StopDBCluster.html). */
  cluster(id: string): DbCluster {
    this.settle();
    const c = this.clusters.get(id.toLowerCase());
    if (!c) throw new AwsError('DBClusterNotFoundFault', `DBCluster ${id} not found.`, 404);
    return c;
  }

  /** The automatic restart of a stopped resource, in virtual epoch ms. */
  autoStartMs(r: DbInstance | DbCluster): number | undefined {
    return r.status === 'stopped' && r.stoppedMs !== undefined ? r.stoppedMs + MAX_STOPPED_MS : undefined;
  }

  stopInstance(id: string): DbInstance {
    const i = this.instance(id);
    this.checkStoppable(i, 'stop');
    // "Instance x is not in available state." (InvalidDBInstanceState, recorded from StopDBInstance:
    // https://github.com/cloud-custodian/cloud-custodian/issues/1687).
    if (i.status !== 'available') throw new AwsError('InvalidDBInstanceState', `Instance ${i.id} is not in available state.`);
    const now = this.clock.nowMs();
    i.status = 'stopping';
    i.transition = { to: 'stopped', dueMs: now + RDS_TRANSITION_MS.instanceStop };
    this.putInstance(i);
    this.arm();
    return i;
  }

  startInstance(id: string): DbInstance {
    const i = this.instance(id);
    this.checkStoppable(i, 'start');
    // The wording moto answers with ("Instance x is not stopped, it cannot be started."); AWS's recorded wording for a
    // start refused by state was not found (README, unconfirmed behaviours).
    if (i.status !== 'stopped') throw new AwsError('InvalidDBInstanceState', `Instance ${i.id} is not stopped, it cannot be started.`);
    this.beginStart(i, this.clock.nowMs());
    this.putInstance(i);
    this.arm();
    return i;
  }

  stopCluster(id: string): DbCluster {
    const c = this.cluster(id);
    this.checkClusterStoppable(c);
    // InvalidDBClusterStateFault: "The requested operation can't be performed while the cluster is in this state"
    // (API_StopDBCluster.html); the message's wording is the runtime's (README, unconfirmed behaviours).
    if (c.status !== 'available') throw new AwsError('InvalidDBClusterStateFault', `DbCluster ${c.id} is not in available state.`);
    const now = this.clock.nowMs();
    // "The stop operation stops the Aurora Replica instances first, then the primary instance" (aurora-cluster-stop-start.html):
    // every member is `stopping` until the cluster is stopped.
    c.status = 'stopping';
    c.transition = { to: 'stopped', dueMs: now + RDS_TRANSITION_MS.clusterStop };
    this.putCluster(c);
    this.setMembers(c, 'stopping');
    this.arm();
    return c;
  }

  startCluster(id: string): DbCluster {
    const c = this.cluster(id);
    this.checkClusterStoppable(c);
    if (c.status !== 'stopped') throw new AwsError('InvalidDBClusterStateFault', `DbCluster ${c.id} is not in stopped state.`);
    this.beginClusterStart(c, this.clock.nowMs());
    this.putCluster(c);
    this.arm();
    return c;
  }

  /** The tags of a resource by ARN (db: or cluster:), or undefined when there is no such resource. */
  tagsOf(arn: string): Tag[] | undefined {
    const ref = parseArn(arn, this.partition);
    if (!ref) return undefined;
    return (ref.type === 'db' ? this.instances.get(ref.id) : this.clusters.get(ref.id))?.tags;
  }

  /** AddTagsToResource: sets the given tags, at most 50 in all ("Each resource can have up to 50 tags"). */
  addTags(arn: string, tags: readonly Tag[]): void {
    const r = this.resource(arn);
    const keys = new Set([...r.tags.map((t) => t.Key), ...tags.map((t) => t.Key)]);
    if (keys.size > 50) throw new AwsError('TagQuotaPerResourceExceeded', `Tag quota exceeded: ${arn} can have at most 50 tags.`);
    for (const t of tags) {
      const existing = r.tags.find((x) => x.Key === t.Key);
      if (existing) existing.Value = t.Value;
      else r.tags.push({ Key: t.Key, Value: t.Value });
    }
    this.persist(r);
  }

  removeTags(arn: string, keys: readonly string[]): void {
    const r = this.resource(arn);
    r.tags = r.tags.filter((t) => !keys.includes(t.Key));
    this.persist(r);
  }

  /** Events in time order, settled to now, within the retention. */
  listEvents(): readonly RdsEvent[] {
    this.settle();
    return this.events;
  }

  /** Stops the timer: call before dropping the world or its state directory. */
  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /**
   * The limitations of StopDBInstance/StartDBInstance that hold in any state:
   * - Aurora: "You can't stop an individual Aurora DB instance" (aurora-cluster-stop-start.html); RDS answers
   *   InvalidParameterCombination "aurora-postgresql DB instances are not eligible for stopping and starting." (recorded:
   *   https://github.com/aws-solutions/instance-scheduler-on-aws/issues/132, and #208 for aurora-mysql). RDS Custom is
   *   refused the same way: StopDBInstance "doesn't apply to RDS Custom" (API_StopDBInstance.html); the message for it is
   *   the same form, unconfirmed.
   * - "You can't stop a DB instance that has a read replica, or that is a read replica" (USER_StopInstance.html,
   *   Limitations); a replica is refused "Cannot stop or start a Read-Replica instance" (InvalidDBInstanceState, recorded:
   *   https://github.com/base2Services/cfn-start-stop-stack/pull/65); the source's wording is the runtime's.
   * - "You can't stop an Amazon RDS for SQL Server DB instance in a Multi-AZ configuration" (USER_StopInstance.html);
   *   InvalidDBInstanceState with the runtime's wording.
   */
  private checkStoppable(i: DbInstance, verb: Verb): void {
    if (!STOPPABLE_ENGINE.test(i.engine)) {
      throw new AwsError('InvalidParameterCombination', `${i.engine} DB instances are not eligible for stopping and starting.`);
    }
    if (i.replicaSourceId !== undefined) throw new AwsError('InvalidDBInstanceState', 'Cannot stop or start a Read-Replica instance');
    const replicas = this.replicasOf(i.id);
    if (replicas.length > 0 && verb === 'stop') {
      throw new AwsError('InvalidDBInstanceState', `Cannot stop or start an instance that has Read-Replicas: ${i.id} is the source of ${replicas.join(', ')}`);
    }
    if (i.engine.startsWith('sqlserver-') && i.multiAz && verb === 'stop') {
      throw new AwsError('InvalidDBInstanceState', `Cannot stop or start a SQL Server Multi-AZ instance: ${i.id} is in a Multi-AZ configuration`);
    }
  }

  /**
   * "You can't stop and start an Aurora Serverless v1 cluster"; "You can't stop and start a cluster that's part of an
   * Aurora global database" (aurora-cluster-stop-start.html, Limitations). InvalidDBClusterStateFault with the runtime's
   * wording (README, unconfirmed behaviours).
   */
  private checkClusterStoppable(c: DbCluster): void {
    if (c.engineMode === 'serverless')
      throw new AwsError('InvalidDBClusterStateFault', `Stop-db-cluster is not supported for Aurora Serverless v1 clusters: ${c.id}`);
    if (c.globalClusterId !== undefined) {
      throw new AwsError(
        'InvalidDBClusterStateFault',
        `Stop-db-cluster is not supported for a cluster that is part of a global database: ${c.id} is in ${c.globalClusterId}`,
      );
    }
  }

  private beginStart(i: DbInstance, atMs: number): void {
    i.status = 'starting';
    i.stoppedMs = undefined;
    i.transition = { to: 'available', dueMs: atMs + RDS_TRANSITION_MS.instanceStart };
  }

  private beginClusterStart(c: DbCluster, atMs: number): void {
    c.status = 'starting';
    c.stoppedMs = undefined;
    c.transition = { to: 'available', dueMs: atMs + RDS_TRANSITION_MS.clusterStart };
    this.setMembers(c, 'starting');
  }

  private setMembers(c: DbCluster, status: DbStatus): void {
    for (const m of this.membersOf(c.id)) {
      m.status = status;
      this.putInstance(m);
    }
  }

  private resource(arn: string): DbInstance | DbCluster {
    const ref = parseArn(arn, this.partition);
    if (!ref) throw new AwsError('InvalidParameterValue', `Invalid resource name: ${arn}`);
    this.settle();
    return ref.type === 'db' ? this.instance(ref.id) : this.cluster(ref.id);
  }

  private persist(r: DbInstance | DbCluster): void {
    if (this.instances.get(r.id) === r) this.putInstance(r as DbInstance);
    else this.putCluster(r as DbCluster);
  }

  private putInstance(i: DbInstance): void {
    this.instances.set(i.id, i);
    this.stored.instances.put(i.id, i);
  }

  private putCluster(c: DbCluster): void {
    this.clusters.set(c.id, c);
    this.stored.clusters.put(c.id, c);
  }

  private record(r: DbInstance | DbCluster, type: RdsEvent['sourceType'], what: { eventId: string; message: string }, atMs: number): void {
    const key = `${String(atMs).padStart(15, '0')}:${String(++this.sequence).padStart(9, '0')}`;
    const event: RdsEvent = {
      key,
      sourceId: r.id,
      sourceType: type,
      sourceArn: type === 'db-instance' ? dbArn(r.id, this.partition) : clusterArn(r.id, this.partition),
      eventId: what.eventId,
      message: what.message,
      categories: ['notification'],
      dateMs: atMs,
    };
    this.events.push(event);
    this.stored.events.put(key, event);
    this.stored.meta.put('sequence', this.sequence);
    let expired = 0;
    const oldest = this.clock.nowMs() - EVENT_RETENTION_MS;
    while (expired < this.events.length && this.events[expired].dateMs < oldest) this.stored.events.delete(this.events[expired++].key);
    if (expired > 0) this.events = this.events.slice(expired);
    this.onEvent?.(event);
  }

  /** The next instant something happens to an instance (not a cluster member: its cluster decides) or a cluster. */
  private nextDue(r: DbInstance | DbCluster): number | undefined {
    if ('clusterId' in r && r.clusterId !== undefined) return undefined;
    return r.transition?.dueMs ?? this.autoStartMs(r);
  }

  /** Completes, in time order and each at its own instant, everything due by now: transitions and automatic restarts. */
  private settle(): void {
    const now = this.clock.nowMs();
    for (;;) {
      let first: { r: DbInstance | DbCluster; due: number } | undefined;
      for (const r of [...this.instances.values(), ...this.clusters.values()]) {
        const due = this.nextDue(r);
        if (due !== undefined && due <= now && (!first || due < first.due)) first = { r, due };
      }
      if (!first) break;
      this.apply(first.r, first.due);
    }
    this.arm();
  }

  private apply(r: DbInstance | DbCluster, atMs: number): void {
    const isInstance = this.instances.get(r.id) === r;
    const type = isInstance ? 'db-instance' : 'db-cluster';
    if (!r.transition) {
      // The seven-day restart.
      if (isInstance) {
        this.record(r, type, RDS_EVENTS.instanceAutoStart, atMs);
        this.beginStart(r as DbInstance, atMs);
      } else {
        this.record(r, type, RDS_EVENTS.clusterAutoStart, atMs);
        this.beginClusterStart(r as DbCluster, atMs);
      }
    } else {
      const to = r.transition.to;
      r.status = to;
      r.transition = undefined;
      if (to === 'stopped') r.stoppedMs = atMs;
      if (!isInstance) this.setMembers(r as DbCluster, to);
      const stopped = to === 'stopped';
      this.record(
        r,
        type,
        isInstance ? (stopped ? RDS_EVENTS.instanceStopped : RDS_EVENTS.instanceStarted) : stopped ? RDS_EVENTS.clusterStopped : RDS_EVENTS.clusterStarted,
        atMs,
      );
    }
    this.persist(r);
  }

  /** One timer for the earliest due instant. */
  private arm(): void {
    let next = Infinity;
    for (const r of [...this.instances.values(), ...this.clusters.values()]) next = Math.min(next, this.nextDue(r) ?? Infinity);
    if (this.timer?.dueMs === next) return;
    this.timer?.cancel();
    this.timer = undefined;
    if (next === Infinity) return;
    const cancel = this.clock.at(next, () => {
      this.timer = undefined;
      this.settle();
    });
    this.timer = { dueMs: next, cancel };
  }
}

/** `arn:aws:rds:<region>:<account>:db:<id>` or `:cluster:<id>` of the partition's account and region. */
export function parseArn(arn: string, p: Partition = HUB): { type: 'db' | 'cluster'; id: string } | undefined {
  const m = /^arn:aws:rds:([^:]*):(\d{12}):(db|cluster):([^:]+)$/.exec(arn);
  if (!m || m[1] !== p.region || m[2] !== p.account) return undefined;
  return { type: m[3] as 'db' | 'cluster', id: m[4].toLowerCase() };
}
