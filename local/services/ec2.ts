/**
 * The EC2 Query API over the simulated fleet: form-encoded requests (`Action=...&InstanceId.1=...`), the XML
 * EC2 answers with, and EC2's error envelope, so the real `@aws-sdk/client-ec2` parses every field and throws
 * errors named by EC2's codes. Fault injection (throttling, capacity) is applied here, before any side effect,
 * because it is the API that throttles, not the world.
 */
import escapeHtml from 'escape-html';
import { randomUUID } from 'node:crypto';
import { AwsError, type AwsRequest, type AwsResponse, type Clock, type EventBus, type Partition, type ServiceHandler, type StateDir } from '../kernel';
import type { Faults, Random } from '../faults';
import { compileGlob, globMatches } from '../glob';
import { apiCallEvent } from './cloudtrail';
import {
  Fleet,
  NOT_XML,
  STATE_CODES,
  type FleetSeed,
  identityForAccessKey,
  type Caller,
  type Instance,
  type InstanceStateName,
  type StateChange,
  type Tag,
  type TrailRecord,
  type UserIdentity,
} from './fleet';

export interface Ec2ServiceOptions {
  clock: Clock;
  state: StateDir;
  /** Shared and mutated in place by the runtime; read on every call. */
  faults: Faults;
  /** Receives the CloudTrail `RunInstances` event, as the default EventBridge bus does in AWS. */
  bus?: EventBus;
  /** Instances to start with when the state directory has none yet. @default none */
  seed?: FleetSeed;
  /** Probability source for fault rates. @default Math.random */
  random?: Random;
  /** The account and region of this EC2 (local/org/partitions.ts). @default HUB */
  partition?: Partition;
  /** Who made a call, as CloudTrail writes it. @default an IAM user named after the access key (identityForAccessKey) */
  identity?: (accessKeyId: string) => UserIdentity;
}

const XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
/** EC2's page-size bounds for DescribeInstances, DescribeInstanceStatus and DescribeTags. */
const PAGE = { min: 5, max: 1000 };
/** Instance status checks report `initializing` for the first minutes after a start. */
const STATUS_INIT_MS = 120_000;

type Action = (p: Params, caller: Caller) => string | Promise<string>;

export class Ec2Service implements ServiceHandler {
  readonly services = ['ec2'] as const;
  readonly fleet: Fleet;
  private readonly faults: Faults;
  private readonly bus?: EventBus;
  private readonly random: Random;
  private readonly clock: Clock;
  private readonly identity: (accessKeyId: string) => UserIdentity;
  private readonly actions: Record<string, Action> = {
    DescribeInstances: (p) => this.describeInstances(p),
    DescribeInstanceStatus: (p) => this.describeInstanceStatus(p),
    DescribeTags: (p) => this.describeTags(p),
    RunInstances: (p, c) => this.runInstances(p, c),
    StartInstances: (p, c) => this.startInstances(p, c),
    StopInstances: (p, c) => this.stopInstances(p, c),
    TerminateInstances: (p, c) => this.terminateInstances(p, c),
    CreateTags: (p, c) => this.createTags(p, c),
    DeleteTags: (p, c) => this.deleteTags(p, c),
  };

  constructor(opts: Ec2ServiceOptions) {
    this.clock = opts.clock;
    this.faults = opts.faults;
    this.bus = opts.bus;
    this.random = opts.random ?? Math.random;
    this.identity = opts.identity ?? identityForAccessKey;
    this.fleet = new Fleet({ clock: opts.clock, state: opts.state, seed: opts.seed, partition: opts.partition });
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    const requestId = randomUUID();
    try {
      const params = Params.parse(req);
      const action = params.str('Action') ?? '';
      const run = Object.hasOwn(this.actions, action) ? this.actions[action] : undefined;
      if (!run) throw new AwsError('InvalidAction', `The action ${action || '(none)'} is not valid for this web service.`);
      if (this.random() < this.faults.ec2ThrottleRate) throw new AwsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
      const caller: Caller = { identity: this.identity(req.accessKeyId), userAgent: req.headers['user-agent'], requestId };
      const body = await run(params, caller);
      return {
        status: 200,
        headers: { 'content-type': 'text/xml;charset=UTF-8' },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${XMLNS}">${el('requestId', requestId)}${body}</${action}Response>`,
      };
    } catch (err) {
      if (!(err instanceof AwsError)) console.error('opsflow: EC2 handler failed', err);
      const e = err instanceof AwsError ? err : new AwsError('InternalError', 'An internal error has occurred', 500);
      return {
        status: e.status,
        headers: { 'content-type': 'text/xml;charset=UTF-8' },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>${el('Code', e.code)}${el('Message', e.message)}</Error></Errors>${el('RequestID', requestId)}</Response>`,
      };
    }
  }

  /** Stops the fleet's transition timer and persists it. */
  close(): void {
    this.fleet.close();
  }

  private describeInstances(p: Params): string {
    const ids = p.list('InstanceId');
    if (ids.length > 0 && p.str('MaxResults') !== undefined) {
      throw new AwsError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
    }
    const match = compileFilters(p, INSTANCE_FILTERS, instanceTag);
    const candidates = ids.length > 0 ? this.fleet.require(ids) : this.fleet.list();
    dryRun(p);
    const { page, nextToken } = paginate(candidates.filter(match), p);
    // Instances launched together share a reservation; group neighbours on the page the way EC2 does.
    const reservations: Instance[][] = [];
    for (const i of page) {
      const last = reservations.at(-1);
      if (last && last[0].reservationId === i.reservationId) last.push(i);
      else reservations.push([i]);
    }
    return (
      set(
        'reservationSet',
        reservations.map((r) => reservationXml(r, this.fleet.partition.account)),
      ) + el('nextToken', nextToken)
    );
  }

  private describeInstanceStatus(p: Params): string {
    const ids = p.list('InstanceId');
    if (ids.length > 0 && p.str('MaxResults') !== undefined) {
      throw new AwsError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
    }
    const match = compileFilters(p, STATUS_FILTERS);
    const all = p.bool('IncludeAllInstances') ?? false;
    const candidates = ids.length > 0 ? this.fleet.require(ids) : this.fleet.list();
    dryRun(p);
    const now = this.clock.nowMs();
    const visible = candidates.filter((i) => (all || i.state === 'running') && match(i));
    const { page, nextToken } = paginate(visible, p);
    return (
      set(
        'instanceStatusSet',
        page.map((i) => statusXml(i, now)),
      ) + el('nextToken', nextToken)
    );
  }

  private describeTags(p: Params): string {
    const match = compileFilters(p, TAG_FILTERS);
    dryRun(p);
    const rows: TagRow[] = [];
    for (const i of this.fleet.list()) for (const t of i.tags) rows.push({ resourceId: i.instanceId, Key: t.Key, Value: t.Value });
    const { page, nextToken } = paginate(rows.filter(match), p);
    const items = page.map((r) => el('resourceId', r.resourceId) + el('resourceType', 'instance') + el('key', r.Key) + el('value', r.Value));
    return set('tagSet', items) + el('nextToken', nextToken);
  }

  private async runInstances(p: Params, caller: Caller): Promise<string> {
    const imageId = p.required('ImageId');
    if (!/^ami-([0-9a-f]{8}|[0-9a-f]{17})$/.test(imageId)) throw new AwsError('InvalidAMIID.Malformed', `Invalid id: "${imageId}" (expecting "ami-...")`);
    const instanceType = p.str('InstanceType') ?? 'm1.small';
    const minCount = p.int('MinCount', true)!;
    const maxCount = p.int('MaxCount', true)!;
    if (minCount < 1) throw new AwsError('InvalidParameterValue', `Value (${minCount}) for parameter minCount is invalid. Expected a positive integer.`);
    if (maxCount < minCount)
      throw new AwsError(
        'InvalidParameterValue',
        `Value (${maxCount}) for parameter maxCount is invalid. Expected a value greater than or equal to minCount (${minCount}).`,
      );
    const tags = p
      .group('TagSpecification')
      .filter((spec) => spec.required('ResourceType') === 'instance')
      .flatMap((spec) => readTags(spec));
    const availabilityZone = p.str('Placement.AvailabilityZone');
    dryRun(p);
    this.checkCapacity([instanceType], availabilityZone ?? `${this.fleet.partition.region}a`);
    const instances = this.fleet.run(
      {
        imageId,
        instanceType,
        count: maxCount,
        minCount,
        maxCount,
        tags,
        availabilityZone,
        disableApiTermination: p.bool('DisableApiTermination'),
        // "You can't enable hibernation on an existing instance" (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/hibernating-prerequisites.html):
        // RunInstances' HibernationOptions.Configured is the only way in.
        hibernationConfigured: p.bool('HibernationOptions.Configured'),
        clientToken: p.str('ClientToken'),
      },
      caller,
    );
    await this.publish(this.fleet.trail.at(-1)!);
    const first = instances[0];
    return `${el('reservationId', first.reservationId)}${el('ownerId', this.fleet.partition.account)}<groupSet/>${set('instancesSet', instances.map(instanceXml))}`;
  }

  private startInstances(p: Params, caller: Caller): string {
    const ids = requiredIds(p);
    const targets = this.fleet.require(ids);
    dryRun(p);
    const starting = targets.filter((i) => i.state === 'stopped');
    if (starting.length > 0)
      this.checkCapacity(
        starting.map((i) => i.instanceType),
        starting[0].availabilityZone,
      );
    return changesXml(this.fleet.start(ids, caller));
  }

  private stopInstances(p: Params, caller: Caller): string {
    const ids = requiredIds(p);
    const opts = { force: p.bool('Force'), hibernate: p.bool('Hibernate') };
    this.fleet.require(ids);
    dryRun(p);
    return changesXml(this.fleet.stop(ids, opts, caller));
  }

  private terminateInstances(p: Params, caller: Caller): string {
    const ids = requiredIds(p);
    this.fleet.require(ids);
    dryRun(p);
    return changesXml(this.fleet.terminate(ids, caller));
  }

  private createTags(p: Params, caller: Caller): string {
    const ids = resourceIds(p);
    const tags = readTags(p);
    if (tags.length === 0) throw new AwsError('MissingParameter', 'The request must contain the parameter Tag');
    this.fleet.require(ids);
    dryRun(p);
    this.fleet.createTags(ids, tags, caller);
    return el('return', true);
  }

  private deleteTags(p: Params, caller: Caller): string {
    const ids = resourceIds(p);
    // An absent Value deletes the key whatever its value; an empty one only deletes an empty value.
    const tags = p.group('Tag').map((t) => ({ Key: t.required('Key'), Value: t.str('Value') }));
    this.fleet.require(ids);
    dryRun(p);
    this.fleet.deleteTags(ids, tags, caller);
    return el('return', true);
  }

  private checkCapacity(types: string[], az: string): void {
    const short = types.find((t) => this.faults.capacityErrorTypes.includes(t));
    if (!short) return;
    const others = ['a', 'b', 'c'].map((x) => `${this.fleet.partition.region}${x}`).filter((x) => x !== az);
    throw new AwsError(
      'InsufficientInstanceCapacity',
      `We currently do not have sufficient ${short} capacity in the Availability Zone you requested (${az}). Our system will be working on provisioning additional capacity. You can currently get ${short} capacity by not specifying an Availability Zone in your request or choosing ${others.join(', ')}.`,
    );
  }

  /** The EventBridge copy of the CloudTrail record; delivery trouble must not fail the API call that caused it. */
  private async publish(record: TrailRecord): Promise<void> {
    if (!this.bus) return;
    try {
      await this.bus.put(apiCallEvent(record));
    } catch (err) {
      console.error(`opsflow: could not publish ${record.eventName} to the event bus: ${(err as Error).message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Query parameters

/** Flat query parameters (EC2, and RDS: local/services/rds.ts) with helpers for the `Name.N` and `Name.N.Member` list encodings. */
export class Params {
  private constructor(private readonly map: Map<string, string>) {}

  static parse(req: AwsRequest): Params {
    const map = new Map<string, string>(req.query);
    for (const [k, v] of new URLSearchParams(req.body.toString('utf8'))) map.set(k, v);
    return new Params(map);
  }

  str(name: string): string | undefined {
    return this.map.get(name);
  }

  required(name: string): string {
    const v = this.map.get(name);
    if (v === undefined || v === '') throw new AwsError('MissingParameter', `The request must contain the parameter ${name}`);
    return v;
  }

  bool(name: string): boolean | undefined {
    const v = this.map.get(name);
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false') throw new AwsError('InvalidParameterValue', `Invalid value '${v}' for ${name}. Expected 'true' or 'false'.`);
    return v === 'true';
  }

  int(name: string, required = false): number | undefined {
    const v = required ? this.required(name) : this.map.get(name);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw new AwsError('InvalidParameterValue', `Invalid value '${v}' for ${name}. Expected an integer.`);
    return Number(v);
  }

  /** `Prefix.1`, `Prefix.2`, ... in index order. */
  list(prefix: string): string[] {
    return this.indexed(prefix, (rest) => rest === '').map(([, entries]) => entries.get('')!);
  }

  /** `Prefix.N.*` as one Params per N, in index order. */
  group(prefix: string): Params[] {
    return this.indexed(prefix, (rest) => rest.startsWith('.')).map(([, entries]) => {
      const sub = new Map<string, string>();
      for (const [k, v] of entries) sub.set(k.slice(1), v);
      return new Params(sub);
    });
  }

  private indexed(prefix: string, accept: (rest: string) => boolean): [number, Map<string, string>][] {
    const byIndex = new Map<number, Map<string, string>>();
    for (const [key, value] of this.map) {
      if (!key.startsWith(`${prefix}.`)) continue;
      // Digits, then the rest as is: `/^(\d+)(.*)$/` backtracked quadratically on a long index before a newline.
      const rest = key.slice(prefix.length + 1);
      const digits = /^\d+/.exec(rest)?.[0];
      if (!digits || !accept(rest.slice(digits.length))) continue;
      const index = Number(digits);
      if (!byIndex.has(index)) byIndex.set(index, new Map());
      byIndex.get(index)!.set(rest.slice(digits.length), value);
    }
    return [...byIndex.entries()].sort((a, b) => a[0] - b[0]);
  }
}

function requiredIds(p: Params): string[] {
  const ids = p.list('InstanceId');
  if (ids.length === 0) throw new AwsError('MissingParameter', 'The request must contain the parameter InstanceId');
  return ids;
}

function resourceIds(p: Params): string[] {
  const ids = p.list('ResourceId');
  if (ids.length === 0) throw new AwsError('MissingParameter', 'The request must contain the parameter ResourceId');
  // Only instances live in this world; any other resource id is simply one that does not exist here.
  const other = ids.find((id) => !id.startsWith('i-'));
  if (other) throw new AwsError('InvalidID', `The ID '${other}' is not valid`);
  return ids;
}

function readTags(p: Params): Tag[] {
  return p.group('Tag').map((t) => ({ Key: t.required('Key'), Value: t.str('Value') ?? '' }));
}

function dryRun(p: Params): void {
  if (p.bool('DryRun')) throw new AwsError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
}

// ---------------------------------------------------------------------------------------------------------
// Filters and pagination

type Getter<T> = (item: T) => readonly string[];

const INSTANCE_FILTERS: Record<string, Getter<Instance>> = {
  'instance-id': (i) => [i.instanceId],
  'instance-state-name': (i) => [i.state],
  'instance-state-code': (i) => [String(STATE_CODES[i.state])],
  'instance-type': (i) => [i.instanceType],
  'image-id': (i) => [i.imageId],
  'availability-zone': (i) => [i.availabilityZone],
  'reservation-id': (i) => [i.reservationId],
  // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html: "client-token - The idempotency
  // token you provided when you launched the instance"; "launch-time - The time when the instance was launched, in the
  // ISO 8601 format in the UTC time zone (YYYY-MM-DDThh:mm:ss.sssZ) ... You can use a wildcard (*)".
  'client-token': (i) => (i.clientToken !== undefined ? [i.clientToken] : []),
  'launch-time': (i) => [i.launchTime],
  'private-ip-address': (i) => [i.privateIpAddress],
  'root-device-type': (i) => [i.rootDeviceType],
  'instance-lifecycle': (i) => (i.instanceLifecycle ? [i.instanceLifecycle] : []),
  'tag-key': (i) => i.tags.map((t) => t.Key),
  'tag-value': (i) => i.tags.map((t) => t.Value),
};

/** `tag:<key>` matches the value of that tag. */
const instanceTag =
  (key: string): Getter<Instance> =>
  (i) =>
    i.tags.filter((t) => t.Key === key).map((t) => t.Value);

const STATUS_FILTERS: Record<string, Getter<Instance>> = {
  'instance-state-name': INSTANCE_FILTERS['instance-state-name'],
  'instance-state-code': INSTANCE_FILTERS['instance-state-code'],
  'availability-zone': INSTANCE_FILTERS['availability-zone'],
};

interface TagRow extends Tag {
  resourceId: string;
}

const TAG_FILTERS: Record<string, Getter<TagRow>> = {
  'resource-id': (r) => [r.resourceId],
  'resource-type': () => ['instance'],
  key: (r) => [r.Key],
  value: (r) => [r.Value],
};

/** Filters AND together, a filter's values OR together; `*` and `?` are wildcards, as in EC2. */
function compileFilters<T>(p: Params, known: Record<string, Getter<T>>, byTag?: (key: string) => Getter<T>): (item: T) => boolean {
  const checks = p.group('Filter').map((f) => {
    const name = f.required('Name');
    const get = byTag && name.startsWith('tag:') ? byTag(name.slice(4)) : Object.hasOwn(known, name) ? known[name] : undefined;
    if (!get) throw new AwsError('InvalidParameterValue', `The filter '${name}' is invalid`);
    const values = f.list('Value');
    if (values.length === 0) throw new AwsError('InvalidParameterValue', `The filter '${name}' requires at least one value`);
    const matches = valueMatcher(values);
    return (item: T) => get(item).some(matches);
  });
  return (item) => checks.every((check) => check(item));
}

/**
 * EC2's filter wildcards: "`*` specifies that zero or more characters must match, and `?` specifies that exactly
 * one character must match. Use a backslash to escape special characters."
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Filter.html, and the SDKs' Filter docs). Matched in
 * linear time (local/glob.ts), never through a backtracking RegExp.
 */
function valueMatcher(values: string[]): (v: string) => boolean {
  const globs = values.map((v) => compileGlob(v, EC2_FILTER));
  const exact = new Set(globs.filter((g) => g.units.every((u) => typeof u === 'string')).map((g) => g.units.join('')));
  const patterns = globs.filter((g) => g.units.some((u) => typeof u !== 'string'));
  return (v) => exact.has(v) || patterns.some((g) => globMatches(g, v));
}

const EC2_FILTER = { star: '*', one: '?', escape: 'backslash' } as const;

function paginate<T>(items: T[], p: Params): { page: T[]; nextToken?: string } {
  const max = p.int('MaxResults');
  if (max !== undefined && (max < PAGE.min || max > PAGE.max)) {
    throw new AwsError('InvalidParameterValue', `Value ( ${max} ) for parameter maxResults is invalid. Expecting a value between ${PAGE.min} and ${PAGE.max}.`);
  }
  const token = p.str('NextToken');
  const offset = token === undefined ? 0 : decodeToken(token);
  const end = max === undefined ? items.length : offset + max;
  return { page: items.slice(offset, end), nextToken: end < items.length ? encodeToken(end) : undefined };
}

const encodeToken = (offset: number) => Buffer.from(JSON.stringify({ offset })).toString('base64url');

function decodeToken(token: string): number {
  try {
    const { offset } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset: unknown };
    if (Number.isInteger(offset) && (offset as number) >= 0) return offset as number;
  } catch {
    // fall through to the EC2 error below
  }
  throw new AwsError('InvalidPaginationToken', 'The specified pagination token is not valid or is expired.');
}

// ---------------------------------------------------------------------------------------------------------
// XML

// The project's one escaper; `&#39;` for an apostrophe is as valid in XML as `&apos;`, and the SDKs decode both.
// Whatever was stored (a tag from before tags were checked, a fleet file) must still read as well-formed XML: a
// character XML 1.0 cannot carry is answered as U+FFFD, where one NUL made every DescribeInstances unreadable.
const NOT_XML_ALL = new RegExp(NOT_XML.source, 'g');
const esc = (s: string) => escapeHtml(s).replace(NOT_XML_ALL, '\uFFFD');
const el = (name: string, value: string | number | boolean | undefined) => (value === undefined ? '' : `<${name}>${esc(String(value))}</${name}>`);
/** EC2 lists are `<name><item>...</item></name>`. */
const set = (name: string, items: string[]) => (items.length > 0 ? `<${name}>${items.map((i) => `<item>${i}</item>`).join('')}</${name}>` : `<${name}/>`);
const stateXml = (name: string, state: InstanceStateName) => `<${name}>${el('code', STATE_CODES[state])}${el('name', state)}</${name}>`;
const tagSetXml = (tags: readonly Tag[]) =>
  tags.length > 0
    ? set(
        'tagSet',
        tags.map((t) => el('key', t.Key) + el('value', t.Value)),
      )
    : '';

function instanceXml(i: Instance): string {
  const azIndex = i.availabilityZone.slice(-1);
  return [
    el('instanceId', i.instanceId),
    el('imageId', i.imageId),
    stateXml('instanceState', i.state),
    el('privateDnsName', `ip-${i.privateIpAddress.replace(/\./g, '-')}.ec2.internal`),
    el('dnsName', ''),
    el('reason', i.stateTransitionReason),
    el('amiLaunchIndex', 0),
    '<productCodes/>',
    el('instanceType', i.instanceType),
    el('launchTime', i.launchTime),
    `<placement>${el('availabilityZone', i.availabilityZone)}${el('groupName', '')}${el('tenancy', 'default')}</placement>`,
    '<monitoring><state>disabled</state></monitoring>',
    el('subnetId', `subnet-0feed00000000000${azIndex}`),
    el('vpcId', 'vpc-0feed000000000001'),
    el('privateIpAddress', i.privateIpAddress),
    i.stateReason ? `<stateReason>${el('code', i.stateReason.code)}${el('message', i.stateReason.message)}</stateReason>` : '',
    el('architecture', 'x86_64'),
    el('rootDeviceType', i.rootDeviceType),
    el('rootDeviceName', i.rootDeviceType === 'ebs' ? '/dev/xvda' : '/dev/sda1'),
    '<blockDeviceMapping/>',
    el('instanceLifecycle', i.instanceLifecycle),
    el('spotInstanceRequestId', i.spotInstanceRequestId),
    el('virtualizationType', 'hvm'),
    tagSetXml(i.tags),
    el('hypervisor', 'xen'),
    el('ebsOptimized', false),
    el('clientToken', i.clientToken),
    `<hibernationOptions>${el('configured', i.hibernationConfigured ?? false)}</hibernationOptions>`,
  ].join('');
}

function reservationXml(instances: Instance[], ownerId: string): string {
  return `${el('reservationId', instances[0].reservationId)}${el('ownerId', ownerId)}<groupSet/>${set('instancesSet', instances.map(instanceXml))}`;
}

function statusXml(i: Instance, now: number): string {
  const status = i.state !== 'running' ? 'not-applicable' : now - i.stateChangedMs < STATUS_INIT_MS ? 'initializing' : 'ok';
  const reachability = status === 'ok' ? 'passed' : 'initializing';
  const summary = (name: string) =>
    `<${name}>${el('status', status)}${status === 'not-applicable' ? '' : set('details', [el('name', 'reachability') + el('status', reachability)])}</${name}>`;
  return (
    el('instanceId', i.instanceId) +
    el('availabilityZone', i.availabilityZone) +
    stateXml('instanceState', i.state) +
    summary('systemStatus') +
    summary('instanceStatus')
  );
}

function changesXml(changes: StateChange[]): string {
  return set(
    'instancesSet',
    changes.map((c) => el('instanceId', c.instanceId) + stateXml('currentState', c.currentState) + stateXml('previousState', c.previousState)),
  );
}
