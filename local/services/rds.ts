/**
 * The Amazon RDS API (Query protocol, version 2014-10-31: form-encoded requests, XML answers and RDS's error
 * envelope) over the simulated databases of local/services/rds-world.ts, so that the AWS CLI (`aws rds ...`) and
 * `@aws-sdk/client-rds` work against the runtime: DescribeDBInstances, DescribeDBClusters, Start/StopDBInstance,
 * Start/StopDBCluster, ListTagsForResource, AddTagsToResource, RemoveTagsFromResource and DescribeEvents.
 * API reference: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/Welcome.html
 */
import escapeHtml from 'escape-html';
import { randomUUID } from 'node:crypto';
import { randomUUID as eventId } from 'node:crypto';
import {
  AwsError,
  type AwsRequest,
  type AwsResponse,
  type BusEvent,
  type Clock,
  type EventBus,
  type Partition,
  type ServiceHandler,
  type StateDir,
} from '../kernel';
import { Params } from './ec2';
import { NOT_XML, type Tag } from './fleet';
import { type DbCluster, type DbInstance, type RdsEvent, RdsWorld, clusterArn, dbArn, parseArn } from './rds-world';

const XMLNS = 'http://rds.amazonaws.com/doc/2014-10-31/';

/**
 * "MaxRecords ... Default: 100. Constraints: Minimum 20, maximum 100." and "Marker: An optional pagination token provided
 * by a previous request. If this parameter is specified, the response includes only records beyond the marker, up to
 * the value specified by MaxRecords" (API_DescribeDBInstances.html, API_DescribeDBClusters.html, API_DescribeEvents.html).
 */
const PAGE = { min: 20, max: 100, default: 100 };

export interface RdsServiceOptions {
  clock: Clock;
  state: StateDir;
  /** Receives RDS's events as the default EventBridge bus does in AWS. */
  bus?: EventBus;
  /** The account and region of this RDS (local/org/partitions.ts): its ARNs, zones and events name them. @default HUB */
  partition?: Partition;
}

type Action = (p: Params) => string;

export class RdsService implements ServiceHandler {
  readonly services = ['rds'] as const;
  readonly world: RdsWorld;
  private readonly clock: Clock;
  private readonly actions: Record<string, Action> = {
    DescribeDBInstances: (p) => this.describeInstances(p),
    DescribeDBClusters: (p) => this.describeClusters(p),
    StopDBInstance: (p) => wrap('DBInstance', this.instanceXml(this.world.stopInstance(p.required('DBInstanceIdentifier')))),
    StartDBInstance: (p) => wrap('DBInstance', this.instanceXml(this.world.startInstance(p.required('DBInstanceIdentifier')))),
    StopDBCluster: (p) => wrap('DBCluster', this.clusterXml(this.world.stopCluster(p.required('DBClusterIdentifier')))),
    StartDBCluster: (p) => wrap('DBCluster', this.clusterXml(this.world.startCluster(p.required('DBClusterIdentifier')))),
    ListTagsForResource: (p) => this.listTags(p),
    AddTagsToResource: (p) => this.addTags(p),
    RemoveTagsFromResource: (p) => this.removeTags(p),
    DescribeEvents: (p) => this.describeEvents(p),
  };

  constructor(opts: RdsServiceOptions) {
    this.clock = opts.clock;
    const bus = opts.bus;
    this.world = new RdsWorld({
      clock: opts.clock,
      state: opts.state,
      partition: opts.partition,
      onEvent: bus && ((e) => void publish(bus, e, this.world.partition)),
    });
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    const requestId = randomUUID();
    try {
      const params = Params.parse(req);
      const action = params.str('Action') ?? '';
      const run = Object.hasOwn(this.actions, action) ? this.actions[action] : undefined;
      // "InvalidAction: The action or operation requested is invalid" (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html).
      if (!run) throw new AwsError('InvalidAction', `Could not find operation ${action || '(none)'} for version 2014-10-31`);
      const result = run(params);
      return {
        status: 200,
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
        body:
          `<${action}Response xmlns="${XMLNS}"><${action}Result>${result}</${action}Result>` +
          `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
      };
    } catch (err) {
      if (!(err instanceof AwsError)) console.error('opsflow: RDS handler failed', err);
      const e = err instanceof AwsError ? err : new AwsError('InternalFailure', 'An internal error has occurred', 500);
      return {
        status: e.status,
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
        body:
          `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${e.status >= 500 ? 'Receiver' : 'Sender'}</Type>${el('Code', e.code)}${el('Message', e.message)}</Error>` +
          `${el('RequestId', requestId)}</ErrorResponse>`,
      };
    }
  }

  close(): void {
    this.world.close();
  }

  /**
   * DBInstanceIdentifier: "If supplied, must match the identifier of an existing DB instance" (an identifier or an ARN);
   * Filters: db-cluster-id, db-instance-id, dbi-resource-id, domain, engine ("db-cluster-id - Accepts DB cluster
   * identifiers and DB cluster Amazon Resource Names (ARNs)"; "db-instance-id - Accepts DB instance identifiers and DB
   * instance Amazon Resource Names (ARNs)") (API_DescribeDBInstances.html).
   */
  private describeInstances(p: Params): string {
    const id = p.str('DBInstanceIdentifier');
    const match = compileFilters<DbInstance>(p, {
      'db-cluster-id': (i) => (i.clusterId !== undefined ? [i.clusterId, clusterArn(i.clusterId, this.world.partition)] : []),
      'db-instance-id': (i) => [i.id, dbArn(i.id, this.world.partition)],
      'dbi-resource-id': (i) => [i.resourceId],
      domain: () => [],
      engine: (i) => [i.engine],
    });
    const candidates = id !== undefined ? [this.world.instance(idOf(id, 'db', this.world.partition))] : this.world.listInstances();
    const { page, marker } = paginate(candidates.filter(match), p);
    return (
      el('Marker', marker) +
      list(
        'DBInstances',
        'DBInstance',
        page.map((i) => this.instanceXml(i)),
      )
    );
  }

  /** Filters: clone-group-id, db-cluster-id, db-cluster-resource-id, domain, engine (API_DescribeDBClusters.html). */
  private describeClusters(p: Params): string {
    const id = p.str('DBClusterIdentifier');
    const match = compileFilters<DbCluster>(p, {
      'clone-group-id': () => [],
      'db-cluster-id': (c) => [c.id, clusterArn(c.id, this.world.partition)],
      'db-cluster-resource-id': (c) => [c.resourceId],
      domain: () => [],
      engine: (c) => [c.engine],
    });
    const candidates = id !== undefined ? [this.world.cluster(idOf(id, 'cluster', this.world.partition))] : this.world.listClusters();
    const { page, marker } = paginate(candidates.filter(match), p);
    return (
      el('Marker', marker) +
      list(
        'DBClusters',
        'DBCluster',
        page.map((c) => this.clusterXml(c)),
      )
    );
  }

  /** "ResourceName: The Amazon RDS resource with tags to be listed. This value is an Amazon Resource Name (ARN)" (API_ListTagsForResource.html). */
  private listTags(p: Params): string {
    const arn = p.required('ResourceName');
    return tagListXml(this.resourceTags(arn));
  }

  private addTags(p: Params): string {
    const arn = p.required('ResourceName');
    const tags = p.group('Tags.Tag').map((t) => ({ Key: t.required('Key'), Value: t.str('Value') ?? '' }));
    for (const t of tags) checkTag(t);
    this.resourceTags(arn);
    this.world.addTags(arn, tags);
    return '';
  }

  private removeTags(p: Params): string {
    const arn = p.required('ResourceName');
    this.resourceTags(arn);
    this.world.removeTags(arn, p.list('TagKeys.member'));
    return '';
  }

  /** The tags of the resource an ARN names, or RDS's not-found error for it. */
  private resourceTags(arn: string): Tag[] {
    const ref = parseArn(arn, this.world.partition);
    if (!ref) throw new AwsError('InvalidParameterValue', `Invalid resource name: ${arn}`);
    return ref.type === 'db' ? this.world.instance(ref.id).tags : this.world.cluster(ref.id).tags;
  }

  /**
   * "Returns events related to DB instances, DB clusters, DB parameter groups, DB security groups, DB snapshots, DB cluster
   * snapshots, and RDS Proxies for the past 14 days ... By default, RDS returns events that were generated in the past
   * hour" (API_DescribeEvents.html): Duration, "The number of minutes to retrieve events for. Default: 60"; StartTime and
   * EndTime; SourceType with SourceIdentifier; EventCategories.
   */
  private describeEvents(p: Params): string {
    const now = this.clock.nowMs();
    const time = (name: string) => {
      const v = p.str(name);
      if (v === undefined) return undefined;
      const ms = Date.parse(v);
      if (Number.isNaN(ms)) throw new AwsError('InvalidParameterValue', `Invalid value ${v} for ${name}: expected an ISO 8601 time`);
      return ms;
    };
    const end = time('EndTime') ?? now;
    const duration = p.int('Duration');
    const start = time('StartTime') ?? end - (duration ?? 60) * 60_000;
    const sourceId = p.str('SourceIdentifier');
    const sourceType = p.str('SourceType');
    if (sourceId !== undefined && sourceType === undefined) {
      throw new AwsError('InvalidParameterCombination', 'Cannot specify source identifier without source type');
    }
    const categories = p.list('EventCategories.EventCategory');
    const events = this.world
      .listEvents()
      .filter(
        (e) =>
          e.dateMs >= start &&
          e.dateMs <= end &&
          (sourceType === undefined || e.sourceType === sourceType) &&
          (sourceId === undefined || e.sourceId === sourceId.toLowerCase()) &&
          (categories.length === 0 || e.categories.some((c) => categories.includes(c))),
      );
    const { page, marker } = paginate(events, p);
    return el('Marker', marker) + list('Events', 'Event', page.map(eventXml));
  }

  private instanceXml(i: DbInstance): string {
    const port = i.engine.includes('postgres') ? 5432 : i.engine.startsWith('sqlserver') ? 1433 : i.engine.startsWith('oracle') ? 1521 : 3306;
    const replicas = this.world.replicasOf(i.id);
    return [
      el('DBInstanceIdentifier', i.id),
      el('DBInstanceClass', i.instanceClass),
      el('Engine', i.engine),
      el('DBInstanceStatus', i.status),
      el('AutomaticRestartTime', iso(this.world.autoStartMs(i))),
      el('MasterUsername', i.masterUsername),
      `<Endpoint>${el('Address', `${i.id}.c0feed000000.${this.world.partition.region}.rds.amazonaws.com`)}${el('Port', port)}${el('HostedZoneId', 'Z2R2ITUGPM61AM')}</Endpoint>`,
      el('AllocatedStorage', i.allocatedStorage),
      el('InstanceCreateTime', iso(i.createdMs)),
      el('PreferredBackupWindow', '03:00-03:30'),
      el('BackupRetentionPeriod', i.replicaSourceId !== undefined ? 0 : 7),
      '<DBSecurityGroups/>',
      list('VpcSecurityGroups', 'VpcSecurityGroupMembership', [el('VpcSecurityGroupId', 'sg-0feed000000000001') + el('Status', 'active')]),
      el('AvailabilityZone', i.availabilityZone),
      el('PreferredMaintenanceWindow', 'sun:05:00-sun:05:30'),
      el('MultiAZ', i.multiAz),
      el('EngineVersion', i.engineVersion),
      el('AutoMinorVersionUpgrade', true),
      el('ReadReplicaSourceDBInstanceIdentifier', i.replicaSourceId),
      list(
        'ReadReplicaDBInstanceIdentifiers',
        'ReadReplicaDBInstanceIdentifier',
        replicas.map((r) => esc(r)),
      ),
      el(
        'LicenseModel',
        i.engine.startsWith('sqlserver') || i.engine.startsWith('oracle')
          ? 'license-included'
          : i.engine.includes('postgres')
            ? 'postgresql-license'
            : 'general-public-license',
      ),
      el('PubliclyAccessible', false),
      el('StorageType', i.clusterId !== undefined ? 'aurora' : 'gp3'),
      el('DbInstancePort', 0),
      el('DBClusterIdentifier', i.clusterId),
      el('StorageEncrypted', true),
      el('DbiResourceId', i.resourceId),
      el('CopyTagsToSnapshot', false),
      el('DBInstanceArn', dbArn(i.id, this.world.partition)),
      el('DeletionProtection', false),
      tagListXml(i.tags),
    ].join('');
  }

  private clusterXml(c: DbCluster): string {
    const port = c.engine === 'aurora-postgresql' ? 5432 : 3306;
    const host = `c0feed000000.${this.world.partition.region}.rds.amazonaws.com`;
    const members = this.world
      .membersOf(c.id)
      .map(
        (m, n) =>
          el('DBInstanceIdentifier', m.id) +
          el('IsClusterWriter', !!m.clusterWriter) +
          el('DBClusterParameterGroupStatus', 'in-sync') +
          el('PromotionTier', n === 0 ? 0 : 1),
      );
    return [
      el('AllocatedStorage', 1),
      list(
        'AvailabilityZones',
        'AvailabilityZone',
        ['a', 'b', 'c'].map((z) => `${this.world.partition.region}${z}`),
      ),
      el('BackupRetentionPeriod', 7),
      el('DBClusterIdentifier', c.id),
      el('DBClusterParameterGroup', `default.${c.engine}`),
      el('Status', c.status),
      el('AutomaticRestartTime', iso(this.world.autoStartMs(c))),
      el('Endpoint', `${c.id}.cluster-${host}`),
      el('ReaderEndpoint', `${c.id}.cluster-ro-${host}`),
      el('MultiAZ', members.length > 1),
      el('Engine', c.engine),
      el('EngineVersion', c.engineVersion),
      el('Port', port),
      el('MasterUsername', c.masterUsername),
      el('PreferredBackupWindow', '03:00-03:30'),
      el('PreferredMaintenanceWindow', 'sun:05:00-sun:05:30'),
      list('DBClusterMembers', 'DBClusterMember', members),
      list('VpcSecurityGroups', 'VpcSecurityGroupMembership', [el('VpcSecurityGroupId', 'sg-0feed000000000001') + el('Status', 'active')]),
      el('HostedZoneId', 'Z2R2ITUGPM61AM'),
      el('StorageEncrypted', true),
      el('DbClusterResourceId', c.resourceId),
      el('DBClusterArn', clusterArn(c.id, this.world.partition)),
      el('ClusterCreateTime', iso(c.createdMs)),
      el('EngineMode', c.engineMode),
      el('DeletionProtection', false),
      tagListXml(c.tags),
    ].join('');
  }
}

/** An identifier or the ARN of one (DescribeDB* accept both); an ARN of another type, account or region names nothing here. */
function idOf(ref: string, type: 'db' | 'cluster', partition: Partition): string {
  if (!ref.startsWith('arn:')) return ref;
  const parsed = parseArn(ref, partition);
  if (!parsed || parsed.type !== type) throw new AwsError('InvalidParameterValue', `Invalid ${type === 'db' ? 'database' : 'cluster'} identifier: ${ref}`);
  return parsed.id;
}

/**
 * RDS tag restrictions (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Tagging.html): "A tag key is the
 * required name of the tag. The string value can be from 1 to 128 Unicode characters in length and can't be prefixed
 * with aws: or rds:"; "A tag value ... from 1 to 256 Unicode characters in length" (an empty value is accepted, as the
 * API's Tag shape allows). Messages are the runtime's (README, unconfirmed behaviours).
 */
function checkTag(t: Tag): void {
  const chars = (s: string) => [...s].length;
  if (chars(t.Key) < 1 || chars(t.Key) > 128) throw new AwsError('InvalidParameterValue', `Tag key must be 1 to 128 characters: ${t.Key}`);
  if (/^(aws|rds):/i.test(t.Key)) throw new AwsError('InvalidParameterValue', `Tag keys may not start with aws: or rds: ${t.Key}`);
  if (chars(t.Value) > 256) throw new AwsError('InvalidParameterValue', `Tag value must be at most 256 characters (key ${t.Key})`);
  if (NOT_XML.test(t.Key) || NOT_XML.test(t.Value))
    throw new AwsError('InvalidParameterValue', `Tags may not contain characters XML 1.0 cannot carry (key ${t.Key})`);
}

type Getter<T> = (item: T) => readonly string[];

/**
 * Filters AND together, a filter's values OR together, matched exactly (RDS's filters have no wildcards). An unknown
 * filter name is refused with the runtime's wording (README, unconfirmed behaviours).
 */
function compileFilters<T>(p: Params, known: Record<string, Getter<T>>): (item: T) => boolean {
  const checks = p.group('Filters.Filter').map((f) => {
    const name = f.required('Name');
    const get = Object.hasOwn(known, name) ? known[name] : undefined;
    if (!get) throw new AwsError('InvalidParameterValue', `Unrecognized filter name: ${name}. Valid filters: ${Object.keys(known).join(', ')}`);
    const values = new Set(f.list('Values.Value'));
    if (values.size === 0) throw new AwsError('InvalidParameterValue', `The filter ${name} requires at least one value`);
    return (item: T) => get(item).some((v) => values.has(v));
  });
  return (item) => checks.every((check) => check(item));
}

/** A page of `items` after the Marker, at most MaxRecords long, and the Marker of the next page. */
function paginate<T>(items: readonly T[], p: Params): { page: readonly T[]; marker?: string } {
  const max = p.int('MaxRecords') ?? PAGE.default;
  if (max < PAGE.min || max > PAGE.max)
    throw new AwsError('InvalidParameterValue', `Invalid value ${max} for MaxRecords. Must be between ${PAGE.min} and ${PAGE.max}`);
  const token = p.str('Marker');
  const offset = token === undefined ? 0 : decodeMarker(token);
  const end = offset + max;
  return { page: items.slice(offset, end), marker: end < items.length ? Buffer.from(JSON.stringify({ offset: end })).toString('base64url') : undefined };
}

function decodeMarker(token: string): number {
  try {
    const { offset } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset: unknown };
    if (Number.isInteger(offset) && (offset as number) >= 0) return offset as number;
  } catch {
    // fall through to the error below
  }
  throw new AwsError('InvalidParameterValue', `Invalid marker: ${token}`);
}

// ---------------------------------------------------------------------------------------------------------
// XML: RDS lists are `<Name><Member>...</Member></Name>`, the member named by the model (DBInstance, Tag, ...).

const NOT_XML_ALL = new RegExp(NOT_XML.source, 'g');
const esc = (s: string) => escapeHtml(s).replace(NOT_XML_ALL, '\uFFFD');
const el = (name: string, value: string | number | boolean | undefined) => (value === undefined ? '' : `<${name}>${esc(String(value))}</${name}>`);
/** An element around XML already built. */
const wrap = (name: string, xml: string) => `<${name}>${xml}</${name}>`;
const list = (name: string, member: string, items: string[]) =>
  items.length > 0 ? `<${name}>${items.map((i) => `<${member}>${i}</${member}>`).join('')}</${name}>` : `<${name}/>`;
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const tagListXml = (tags: readonly Tag[]) =>
  list(
    'TagList',
    'Tag',
    tags.map((t) => el('Key', t.Key) + el('Value', t.Value)),
  );

function eventXml(e: RdsEvent): string {
  return [
    el('SourceIdentifier', e.sourceId),
    el('SourceType', e.sourceType),
    el('Message', e.message),
    list(
      'EventCategories',
      'EventCategory',
      e.categories.map((c) => esc(c)),
    ),
    el('Date', iso(e.dateMs)),
    el('SourceArn', e.sourceArn),
  ].join('');
}

/**
 * "Amazon RDS sends service events directly to EventBridge": "RDS DB Instance Event", "RDS DB Cluster Event", source
 * `aws.rds` (https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-rds.html), in the shape of the RDS guide's
 * example, a stop: detail {EventCategories ["notification"], SourceType "DB_INSTANCE", SourceArn, Date, Message "DB
 * instance stopped", SourceIdentifier, EventID "RDS-EVENT-0087"}
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-cloud-watch-events.html); a cluster's SourceType is
 * `CLUSTER`. Delivery trouble must not fail what caused the event.
 */
async function publish(bus: EventBus, e: RdsEvent, where: Partition): Promise<void> {
  const instance = e.sourceType === 'db-instance';
  const event: BusEvent = {
    version: '0',
    id: eventId(),
    source: 'aws.rds',
    'detail-type': instance ? 'RDS DB Instance Event' : 'RDS DB Cluster Event',
    account: where.account,
    region: where.region,
    time: new Date(e.dateMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    resources: [e.sourceArn],
    detail: {
      EventCategories: e.categories,
      SourceType: instance ? 'DB_INSTANCE' : 'CLUSTER',
      SourceArn: e.sourceArn,
      Date: new Date(e.dateMs).toISOString(),
      Message: e.message,
      SourceIdentifier: e.sourceId,
      EventID: e.eventId,
    },
  };
  try {
    await bus.put(event);
  } catch (err) {
    console.error(`opsflow: could not publish RDS event ${e.eventId} to the event bus: ${(err as Error).message}`);
  }
}
