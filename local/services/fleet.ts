/**
 * The simulated EC2 world behind the local EC2 and CloudTrail APIs: instances with EC2's lifecycle rules,
 * transitions that take (virtual) time, the CloudTrail records of every mutating call, and a deterministic
 * demo fleet that exercises the scheduler and the tag policy (opt-in tags, broken and special instances).
 *
 * Rules live here rather than in the API layer because they are the world's rules: whoever asks, an
 * instance-store root cannot be stopped. Errors are therefore EC2's own `AwsError` codes.
 * State is one JSON file (`fleet`); pending transitions are stored with their due virtual time, so a
 * restarted runtime completes the overdue ones and re-schedules the rest.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ACCOUNT, AwsError, HUB, type Clock, type Partition, type StateDir, type Store } from '../kernel';
import { checkRdsSeed, type RdsSeed } from './rds-world';

export type InstanceStateName = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

/** The numeric codes EC2 reports next to each state name. */
export const STATE_CODES: Record<InstanceStateName, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

/** Virtual durations of the lifecycle transitions, in the range EC2 usually takes. */
export const TRANSITION_MS = { boot: 30_000, stop: 60_000, forcedStop: 10_000, terminate: 30_000, launchFailure: 15_000 };

export interface Tag {
  Key: string;
  Value: string;
}

export interface StateReason {
  code: string;
  message: string;
}

/** A CloudTrail `userIdentity`, in the shapes CloudTrail writes (see `identity`). */
export interface UserIdentity {
  type: 'IAMUser' | 'AssumedRole' | 'FederatedUser' | 'Root';
  principalId: string;
  arn: string;
  accountId: string;
  accessKeyId: string;
  userName?: string;
  sessionContext?: {
    sessionIssuer: { type: 'Role' | 'IAMUser'; principalId: string; arn: string; accountId: string; userName: string };
  };
  /**
   * "The name of the AWS service that made the request ... only present when a request is made by an AWS service. This
   * includes requests made by services using ... service-linked roles, or service roles used by an AWS service."
   * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
   */
  invokedBy?: string;
}

/** Who made an API call, as CloudTrail records it. */
export interface Caller {
  identity: UserIdentity;
  userAgent?: string;
  requestId?: string;
}

/** A state change in progress, stored with the instance so it survives a restart. */
export interface Transition {
  to: InstanceStateName;
  /** Virtual epoch ms. */
  dueMs: number;
  stateTransitionReason: string;
  stateReason?: StateReason;
}

export interface Instance {
  instanceId: string;
  reservationId: string;
  instanceType: string;
  imageId: string;
  state: InstanceStateName;
  stateTransitionReason: string;
  stateReason?: StateReason;
  /** ISO time of the latest launch or start, as EC2 reports LaunchTime. */
  launchTime: string;
  /** Virtual epoch ms of the last state change (instance status checks initialise after a start). */
  stateChangedMs: number;
  tags: Tag[];
  availabilityZone: string;
  privateIpAddress: string;
  rootDeviceType: 'ebs' | 'instance-store';
  instanceLifecycle?: 'spot';
  spotInstanceRequestId?: string;
  /** Only meaningful for Spot: one-time requests cannot be stopped. */
  spotRequestType?: 'one-time' | 'persistent';
  hibernationConfigured?: boolean;
  /** Termination protection. */
  disableApiTermination: boolean;
  /** The RunInstances idempotency token (`ClientToken`, filter `client-token`). */
  clientToken?: string;
  sim: {
    /** The encrypted root volume's KMS key has no grant for EC2, so every start ends `stopped`. */
    kmsGrantMissing?: boolean;
    /**
     * The customer managed KMS key (ARN) of the encrypted root volume: EC2 creates a grant on it for the caller
     * of StartInstances, so the caller needs kms:CreateGrant (with kms:GrantIsForAWSResource) as IAM and the key
     * policy decide; without it the start ends `stopped`.
     */
    volumeKmsKeyArn?: string;
    /** This instance's (unforced) stop takes this long, e.g. a guest OS slow to shut down. @default TRANSITION_MS.stop */
    stopMs?: number;
  };
  launchedBy: UserIdentity;
  transition?: Transition;
}

export interface StateChange {
  instanceId: string;
  previousState: InstanceStateName;
  currentState: InstanceStateName;
}

/** One CloudTrail management event: a mutating EC2 call here, a Step Functions call in cloudtrail.ts. */
export interface TrailRecord {
  eventId: string;
  /** ISO, second precision like CloudTrail. */
  eventTime: string;
  eventName: string;
  /** `ec2.amazonaws.com`, `states.amazonaws.com`. */
  eventSource: string;
  awsRegion: string;
  userIdentity: UserIdentity;
  userAgent: string;
  requestId: string;
  requestParameters: Record<string, unknown>;
  responseElements: Record<string, unknown>;
  /** `AWS::EC2::Instance` and the instance id; none for Step Functions calls. */
  resources: { type: string; name: string }[];
  /** The account whose trail holds the record (a member account's fleet). @default ACCOUNT */
  recipientAccountId?: string;
}

export interface RunRequest {
  imageId: string;
  instanceType: string;
  count: number;
  /** minCount/maxCount as requested, for the CloudTrail record. */
  minCount?: number;
  maxCount?: number;
  tags?: Tag[];
  /**
   * Tags an AWS service puts on what it launches, under the `aws:` prefix callers may not use (Auto Scaling's
   * `aws:autoscaling:groupName`): added after the caller's tags, never checked as theirs.
   */
  serviceTags?: Tag[];
  availabilityZone?: string;
  disableApiTermination?: boolean;
  /** `HibernationOptions.Configured`: hibernation can only be enabled at launch (hibernating-prerequisites.html). */
  hibernationConfigured?: boolean;
  /** `ClientToken`: the SDKs send a generated one when the caller gives none (an idempotency token). */
  clientToken?: string;
}

const DAY = 86_400_000;
/** CloudTrail event history keeps 90 days. */
const TRAIL_RETENTION_MS = 90 * DAY;
/**
 * `i-` and 8 or 17 hex digits: "Prior to January 2016, the IDs ... used 8 characters after the hyphen (for example,
 * i-1a2b3c4d). From January 2016 to June 2018, we changed the IDs of these resource types to use 17 characters after
 * the hyphen" (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/resource-ids.html). The runtime's one definition:
 * it imports nothing of the app, which has its own in tasks/shared/instance-id.ts.
 */
const INSTANCE_ID = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;
const USER_SHUTDOWN: StateReason = { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' };
const USER_HIBERNATE: StateReason = { code: 'Client.UserInitiatedHibernate', message: 'Client.UserInitiatedHibernate: User initiated hibernate' };
const LAUNCH_ERROR: StateReason = { code: 'Client.InternalError', message: 'Client.InternalError: Client error on launch' };

const iso = (ms: number) => new Date(ms).toISOString();
/** CloudTrail's eventTime has no milliseconds. */
const trailTime = (ms: number) => iso(ms).replace(/\.\d{3}Z$/, 'Z');
/** EC2's StateTransitionReason format, e.g. `User initiated (2024-05-01 18:00:00 GMT)`. */
const userInitiated = (ms: number) => `User initiated (${iso(ms).slice(0, 19).replace('T', ' ')} GMT)`;
const hex = (seed: string, length: number) => createHash('sha1').update(seed).digest('hex').slice(0, length);
const pseudoId = (prefix: string, seed: string, length: number) => (prefix + hex(seed, length - prefix.length)).toUpperCase();

/** Builders for the identity shapes CloudTrail writes, so seeds, API calls and tests agree on them. */
export const identity = {
  iamUser(userName: string, accessKeyId = pseudoId('AKIA', userName, 20)): UserIdentity {
    return {
      type: 'IAMUser',
      principalId: pseudoId('AIDA', userName, 21),
      arn: `arn:aws:iam::${ACCOUNT}:user/${userName}`,
      accountId: ACCOUNT,
      accessKeyId,
      userName,
    };
  },
  assumedRole(roleName: string, sessionName: string, rolePath = '/'): UserIdentity {
    const roleId = pseudoId('AROA', roleName, 21);
    return {
      type: 'AssumedRole',
      principalId: `${roleId}:${sessionName}`,
      arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleName}/${sessionName}`,
      accountId: ACCOUNT,
      accessKeyId: pseudoId('ASIA', `${roleName}/${sessionName}`, 20),
      sessionContext: {
        sessionIssuer: { type: 'Role', principalId: roleId, arn: `arn:aws:iam::${ACCOUNT}:role${rolePath}${roleName}`, accountId: ACCOUNT, userName: roleName },
      },
    };
  },
  /** IAM Identity Center: an assumed AWSReservedSSO_* role whose session name is the person's email. */
  sso(permissionSet: string, email: string): UserIdentity {
    return identity.assumedRole(`AWSReservedSSO_${permissionSet}_${hex(permissionSet, 16)}`, email, '/aws-reserved/sso.amazonaws.com/');
  },
  /** A role session that an AWS service (`service`, e.g. `events.amazonaws.com`) uses for the account. */
  serviceRole(roleName: string, sessionName: string, service: string, rolePath = '/'): UserIdentity {
    return { ...identity.assumedRole(roleName, sessionName, rolePath), invokedBy: service };
  },
  /** EC2 Auto Scaling launching for a group: its service-linked role, as CloudTrail records it. */
  autoScaling(): UserIdentity {
    return identity.serviceRole('AWSServiceRoleForAutoScaling', 'AutoScaling', 'autoscaling.amazonaws.com', '/aws-service-role/autoscaling.amazonaws.com/');
  },
  /** GetFederationToken called by an IAM user acting as identity broker. */
  federatedUser(name: string, brokerUserName: string): UserIdentity {
    const broker = identity.iamUser(brokerUserName);
    return {
      type: 'FederatedUser',
      principalId: `${ACCOUNT}:${name}`,
      arn: `arn:aws:sts::${ACCOUNT}:federated-user/${name}`,
      accountId: ACCOUNT,
      accessKeyId: pseudoId('ASIA', `federated/${name}`, 20),
      sessionContext: {
        sessionIssuer: { type: 'IAMUser', principalId: broker.principalId, arn: broker.arn, accountId: ACCOUNT, userName: brokerUserName },
      },
    };
  },
};

/**
 * The session of a role by ARN (`arn:aws:iam::<account>:role/<path><name>`), as CloudTrail writes a call made with
 * it; `invokedBy` when an AWS service (Scheduler, EventBridge) made the call with the role.
 */
export function roleSessionIdentity(roleArn: string, sessionName: string, accessKeyId: string, invokedBy?: string): UserIdentity {
  const [, path, name] = /:role(\/(?:.*\/)?)([^/]+)$/.exec(roleArn) ?? [undefined, '/', roleArn];
  return { ...identity.assumedRole(name, sessionName, path), accessKeyId, ...(invokedBy && { invokedBy }) };
}

/** Local credentials carry no identity, so an access key id stands for an IAM user of that name. */
export function identityForAccessKey(accessKeyId: string): UserIdentity {
  return identity.iamUser(accessKeyId || 'anonymous', accessKeyId);
}

/** The record as CloudTrail stores it (`CloudTrailEvent` in LookupEvents, `detail` of the EventBridge event). */
export function toCloudTrailEvent(r: TrailRecord): Record<string, unknown> {
  return {
    eventVersion: '1.09',
    userIdentity: r.userIdentity,
    eventTime: r.eventTime,
    eventSource: r.eventSource,
    eventName: r.eventName,
    awsRegion: r.awsRegion,
    sourceIPAddress: '127.0.0.1',
    userAgent: r.userAgent,
    requestParameters: r.requestParameters,
    responseElements: r.responseElements,
    requestID: r.requestId,
    eventID: r.eventId,
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: r.recipientAccountId ?? ACCOUNT,
    eventCategory: 'Management',
  };
}

// ---------------------------------------------------------------------------------------------------------
// Seed: the fleet the app supplies (a JSON file it names; opsflow's is workflows/fleet.json)

/** Who launched a seeded instance, as one of the identity shapes above. */
export type SeedIdentity =
  | { iamUser: string }
  | { assumedRole: { role: string; session: string; path?: string } }
  | { sso: { permissionSet: string; email: string } }
  | { federatedUser: { name: string; broker: string } };

export interface SeedInstance {
  instanceId: string;
  /** The `Name` tag. */
  name: string;
  instanceType: string;
  imageId: string;
  state: 'running' | 'stopped';
  /** Launched this many days before the runtime first starts (CloudTrail keeps 90 days). */
  launchedDaysAgo: number;
  launchedBy: SeedIdentity;
  tags: Record<string, string>;
  hibernationConfigured?: boolean;
  rootDeviceType?: 'ebs' | 'instance-store';
  disableApiTermination?: boolean;
  instanceLifecycle?: 'spot';
  spotInstanceRequestId?: string;
  spotRequestType?: 'one-time' | 'persistent';
  /** Simulated faults of this instance. */
  sim?: Instance['sim'];
}

/** An Auto Scaling group as the fleet file declares it (./autoscaling.ts runs it). */
export interface GroupSeed {
  name: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  /** The launch template's instance type. @default t3.micro */
  instanceType?: string;
  /** The launch template's image. @default ami-0feed000000000001 */
  imageId?: string;
  tags?: Record<string, string>;
  /** Whether the tags are copied to the instances the group launches. @default true */
  propagateAtLaunch?: boolean;
}

/** An ECS cluster and its services as the fleet file declares them (./ecs.ts runs them). */
export interface ClusterSeed {
  name: string;
  tags?: Record<string, string>;
  services: Array<{ name: string; desiredCount: number; tags?: Record<string, string> }>;
}

export interface FleetSeed {
  description?: string;
  instances: SeedInstance[];
  /** RDS DB instances and Aurora clusters (local/services/rds-world.ts). @default none */
  rds?: RdsSeed;
  /** Auto Scaling groups (./autoscaling.ts); a group's members are the instances tagged `aws:autoscaling:groupName` with its name. */
  autoScalingGroups?: GroupSeed[];
  /** ECS clusters with their services (./ecs.ts). */
  ecsClusters?: ClusterSeed[];
}

function seedIdentity(by: SeedIdentity): UserIdentity {
  if ('iamUser' in by) return identity.iamUser(by.iamUser);
  if ('assumedRole' in by) return identity.assumedRole(by.assumedRole.role, by.assumedRole.session, by.assumedRole.path);
  if ('sso' in by) return identity.sso(by.sso.permissionSet, by.sso.email);
  return identity.federatedUser(by.federatedUser.name, by.federatedUser.broker);
}

/**
 * Reads a fleet file, refusing one that is not a list of seed instances. Every error names the file and the
 * field (`instances[3].state`), with what was found, so a hand-edited file is fixed in one look.
 */
export function loadFleetSeed(path: string): FleetSeed {
  const fail = (what: string): never => {
    throw new Error(`fleet file ${path} (template metadata OpsflowLocal.fleet): ${what}`);
  };
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    fail((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read: ${(err as Error).message}`);
  }
  let seed: FleetSeed;
  try {
    seed = JSON.parse(text) as FleetSeed;
  } catch (err) {
    return fail(`is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof seed !== 'object' || seed === null || !Array.isArray(seed.instances)) fail('instances: must be a list of instances');
  const got = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
  const ids = new Map<string, number>();
  seed.instances.forEach((i, n) => {
    const at = `instances[${n}]`;
    if (typeof i !== 'object' || i === null || Array.isArray(i)) fail(`${at}: must be an object, got ${got(i)}`);
    if (typeof i.instanceId !== 'string' || !INSTANCE_ID.test(i.instanceId))
      fail(`${at}.instanceId: must be an instance id (i- and 8 or 17 hex digits), got ${got(i.instanceId)}`);
    if (ids.has(i.instanceId)) fail(`${at}.instanceId: ${i.instanceId} is also instances[${ids.get(i.instanceId)}]`);
    ids.set(i.instanceId, n);
    for (const field of ['name', 'instanceType', 'imageId'] as const) {
      if (typeof i[field] !== 'string' || i[field] === '') fail(`${at}.${field}: must be a non-empty string, got ${got(i[field])}`);
    }
    if (i.state !== 'running' && i.state !== 'stopped') fail(`${at}.state: must be "running" or "stopped", got ${got(i.state)}`);
    if (typeof i.launchedDaysAgo !== 'number' || !(i.launchedDaysAgo >= 0 && i.launchedDaysAgo <= 89)) {
      fail(`${at}.launchedDaysAgo: must be a number from 0 to 89 (CloudTrail keeps 90 days), got ${got(i.launchedDaysAgo)}`);
    }
    const by = i.launchedBy as unknown;
    if (typeof by !== 'object' || by === null || !['iamUser', 'assumedRole', 'sso', 'federatedUser'].some((k) => k in by)) {
      fail(`${at}.launchedBy: must be one of {"iamUser"}, {"assumedRole"}, {"sso"}, {"federatedUser"}, got ${got(by)}`);
    }
    if (typeof i.tags !== 'object' || i.tags === null || Array.isArray(i.tags)) fail(`${at}.tags: must be an object of tag values, got ${got(i.tags)}`);
    for (const [key, value] of Object.entries(i.tags)) {
      if (typeof value !== 'string') fail(`${at}.tags.${key}: must be a string, got ${got(value)}`);
    }
  });
  if (seed.rds !== undefined) checkRdsSeed(seed.rds, fail);
  const list = (field: 'autoScalingGroups' | 'ecsClusters') => {
    const v = seed[field] as unknown;
    if (v !== undefined && !Array.isArray(v)) fail(`${field}: must be a list, got ${got(v)}`);
    return (v ?? []) as unknown[];
  };
  const object = (at: string, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${at}: must be an object, got ${got(v)}`);
    return v as Record<string, unknown>;
  };
  const name = (at: string, v: unknown, seen: Set<string>) => {
    if (typeof v !== 'string' || !/^[A-Za-z0-9_.-]{1,255}$/.test(v)) fail(`${at}: must be a name of 1 to 255 letters, digits, '.', '_' or '-', got ${got(v)}`);
    if (seen.has(v as string)) fail(`${at}: ${v} is named twice`);
    seen.add(v as string);
  };
  const count = (at: string, v: unknown) => {
    if (!Number.isInteger(v) || (v as number) < 0) fail(`${at}: must be a whole number from 0, got ${got(v)}`);
    return v as number;
  };
  const tags = (at: string, v: unknown) => {
    if (v === undefined) return;
    for (const [key, value] of Object.entries(object(at, v))) if (typeof value !== 'string') fail(`${at}.${key}: must be a string, got ${got(value)}`);
  };
  const groups = new Set<string>();
  list('autoScalingGroups').forEach((raw, n) => {
    const at = `autoScalingGroups[${n}]`;
    const g = object(at, raw);
    name(`${at}.name`, g.name, groups);
    const [min, max, desired] = (['minSize', 'maxSize', 'desiredCapacity'] as const).map((f) => count(`${at}.${f}`, g[f]));
    // The sizes Auto Scaling accepts: "MinSize <= DesiredCapacity <= MaxSize" (API_CreateAutoScalingGroup.html).
    if (!(min <= desired && desired <= max)) fail(`${at}: needs minSize <= desiredCapacity <= maxSize, got ${min}, ${desired}, ${max}`);
    for (const f of ['instanceType', 'imageId'] as const)
      if (g[f] !== undefined && (typeof g[f] !== 'string' || g[f] === '')) fail(`${at}.${f}: must be a non-empty string, got ${got(g[f])}`);
    if (g.propagateAtLaunch !== undefined && typeof g.propagateAtLaunch !== 'boolean')
      fail(`${at}.propagateAtLaunch: must be true or false, got ${got(g.propagateAtLaunch)}`);
    tags(`${at}.tags`, g.tags);
  });
  const clusters = new Set<string>();
  list('ecsClusters').forEach((raw, n) => {
    const at = `ecsClusters[${n}]`;
    const c = object(at, raw);
    name(`${at}.name`, c.name, clusters);
    tags(`${at}.tags`, c.tags);
    if (!Array.isArray(c.services)) fail(`${at}.services: must be a list, got ${got(c.services)}`);
    const services = new Set<string>();
    (c.services as unknown[]).forEach((rawService, k) => {
      const sat = `${at}.services[${k}]`;
      const svc = object(sat, rawService);
      name(`${sat}.name`, svc.name, services);
      count(`${sat}.desiredCount`, svc.desiredCount);
      tags(`${sat}.tags`, svc.tags);
    });
  });
  return seed;
}

/** The seed's instances as launched before `nowMs`, each with the RunInstances record of the identity that launched it. */
export function seedFleet(seed: FleetSeed, nowMs: number, partition: Partition = HUB): { instances: Instance[]; trail: TrailRecord[] } {
  const instances: Instance[] = [];
  const trail: TrailRecord[] = [];
  seed.instances.forEach((row, i) => {
    const n = i + 1;
    const launchedMs = Math.floor((nowMs - row.launchedDaysAgo * DAY) / 60_000) * 60_000;
    const stoppedMs = launchedMs + DAY;
    const stopped = row.state === 'stopped';
    const { instanceId, name, instanceType, imageId, tags, launchedBy, state: _state, launchedDaysAgo: _days, sim, ...extra } = row;
    const inst: Instance = {
      instanceId,
      reservationId: `r-${instanceId.slice(2)}`,
      instanceType,
      imageId,
      state: row.state,
      stateTransitionReason: stopped ? userInitiated(stoppedMs) : '',
      ...(stopped && { stateReason: USER_SHUTDOWN }),
      launchTime: iso(launchedMs),
      stateChangedMs: stopped ? stoppedMs : launchedMs,
      tags: [{ Key: 'Name', Value: name }, ...Object.entries(tags).map(([Key, Value]) => ({ Key, Value }))],
      availabilityZone: zone(partition, n),
      privateIpAddress: `10.0.${n % 3}.${10 + n}`,
      rootDeviceType: 'ebs',
      disableApiTermination: false,
      sim: { ...sim },
      launchedBy: inAccount(seedIdentity(launchedBy), partition.account),
      ...extra,
    };
    instances.push(inst);
    const run = { imageId: inst.imageId, instanceType: inst.instanceType, count: 1, tags: inst.tags };
    trail.push(
      runRecord(partition, [inst], run, { identity: inst.launchedBy, requestId: uuidFrom(`req/${inst.instanceId}`) }, launchedMs, uuidFrom(inst.instanceId)),
    );
  });
  return { instances, trail };
}

/** A seed's identity in a member account's fleet: the same shape, in that account (seeds name no account). */
export function inAccount(id: UserIdentity, account: string): UserIdentity {
  if (account === ACCOUNT) return id;
  return JSON.parse(JSON.stringify(id).replaceAll(`:${ACCOUNT}:`, `:${account}:`).replaceAll(`"${ACCOUNT}`, `"${account}`)) as UserIdentity;
}

/** The partition's region's three zones, in turn. */
const zone = (partition: Partition, n: number) => `${partition.region}${'abc'[n % 3]}`;

function uuidFrom(seed: string): string {
  const h = hex(seed, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

// ---------------------------------------------------------------------------------------------------------
// CloudTrail record shapes (lowerCamel, `items` lists, as CloudTrail writes EC2 events)

const stateOf = (name: InstanceStateName) => ({ code: STATE_CODES[name], name });
const tagItems = (tags: readonly Tag[]) => tags.map((t) => ({ key: t.Key, value: t.Value }));
const idItems = (ids: readonly string[]) => ({ items: ids.map((instanceId) => ({ instanceId })) });
const changeItems = (changes: StateChange[]) => ({
  items: changes.map((c) => ({ instanceId: c.instanceId, currentState: stateOf(c.currentState), previousState: stateOf(c.previousState) })),
});

function record(
  partition: Partition,
  eventName: string,
  caller: Caller,
  atMs: number,
  ids: readonly string[],
  requestParameters: Record<string, unknown>,
  responseElements: Record<string, unknown>,
  eventId: string = randomUUID(),
): TrailRecord {
  const requestId = caller.requestId ?? randomUUID();
  return {
    eventId,
    eventTime: trailTime(atMs),
    eventName,
    eventSource: 'ec2.amazonaws.com',
    awsRegion: partition.region,
    ...(partition.account !== ACCOUNT && { recipientAccountId: partition.account }),
    userIdentity: caller.identity,
    userAgent: caller.userAgent ?? 'opsflow-local',
    requestId,
    requestParameters,
    responseElements: { requestId, ...responseElements },
    resources: ids.map((name) => ({ type: 'AWS::EC2::Instance' as const, name })),
  };
}

function runRecord(partition: Partition, instances: Instance[], req: RunRequest, caller: Caller, atMs: number, eventId?: string): TrailRecord {
  const first = instances[0];
  const tags = req.tags ?? [];
  return record(
    partition,
    'RunInstances',
    caller,
    atMs,
    instances.map((i) => i.instanceId),
    {
      instancesSet: { items: [{ imageId: req.imageId, minCount: req.minCount ?? req.count, maxCount: req.maxCount ?? req.count }] },
      instanceType: req.instanceType,
      blockDeviceMapping: {},
      monitoring: { enabled: false },
      disableApiTermination: req.disableApiTermination ?? false,
      ...(req.clientToken !== undefined && { clientToken: req.clientToken }),
      ...(tags.length > 0 && { tagSpecificationSet: { items: [{ resourceType: 'instance', tags: tagItems(tags) }] } }),
    },
    {
      reservationId: first.reservationId,
      ownerId: partition.account,
      groupSet: {},
      instancesSet: {
        items: instances.map((i) => ({
          instanceId: i.instanceId,
          imageId: i.imageId,
          instanceState: stateOf('pending'),
          privateIpAddress: i.privateIpAddress,
          instanceType: i.instanceType,
          launchTime: Date.parse(i.launchTime),
          placement: { availabilityZone: i.availabilityZone, tenancy: 'default' },
          ...(i.tags.length > 0 && { tagSet: { items: tagItems(i.tags) } }),
        })),
      },
    },
    eventId,
  );
}

// ---------------------------------------------------------------------------------------------------------
// The fleet

export interface FleetOptions {
  clock: Clock;
  state: StateDir;
  /** Instances to start with when the state directory has no fleet yet (see also `seed()`). @default none */
  seed?: FleetSeed;
  /** The account and region this fleet is in; a member's state is stored apart from the hub's. @default HUB */
  partition?: Partition;
}

const incorrectState = (id: string, verb: string) =>
  new AwsError('IncorrectInstanceState', `The instance '${id}' is not in a state from which it can be ${verb}.`);

export class Fleet {
  readonly clock: Clock;
  private readonly stored: { instances: Store<Instance>; trail: Store<TrailRecord>; meta: Store<boolean> };
  private readonly instances = new Map<string, Instance>();
  /** Instances changed since they were last journaled. */
  private readonly dirty = new Set<string>();
  private records: TrailRecord[] = [];
  /** Ids with a pending transition, so settling never scans a 10,000-instance fleet. */
  private readonly transitioning = new Set<string>();
  private timer?: { dueMs: number; cancel: () => void };
  /** No saved fleet was found: a seed may still be planted (see `seed()`). */
  private fresh: boolean;

  readonly partition: Partition;

  constructor(opts: FleetOptions) {
    this.clock = opts.clock;
    this.partition = opts.partition ?? HUB;
    // The hub's stores keep today's names, so a state directory from before organizations still loads.
    const prefix =
      this.partition.account === HUB.account && this.partition.region === HUB.region ? 'fleet' : `fleet.${this.partition.account}.${this.partition.region}`;
    this.stored = { instances: opts.state.store(`${prefix}.instances`), trail: opts.state.store(`${prefix}.trail`), meta: opts.state.store(`${prefix}.meta`) };
    const saved = this.stored.meta.get('created') === true;
    this.fresh = !saved;
    if (saved) {
      for (const inst of this.stored.instances.values()) this.index(inst, false);
      this.records = [...this.stored.trail.values()].sort((a, b) => (a.eventTime < b.eventTime ? -1 : a.eventTime > b.eventTime ? 1 : 0));
    } else {
      const initial = opts.seed ? seedFleet(opts.seed, this.clock.nowMs(), this.partition) : { instances: [], trail: [] };
      for (const inst of initial.instances) this.index(inst);
      for (const r of initial.trail) this.append(r);
      this.stored.meta.put('created', true);
      this.flush();
    }
    this.settle();
  }

  /**
   * Plants the app's seed in a fleet that started empty with no saved state (a first run); a fleet that has
   * state, or instances already, is left as it is.
   */
  seed(seed: FleetSeed): void {
    if (!this.fresh || this.instances.size > 0) return;
    this.fresh = false;
    const initial = seedFleet(seed, this.clock.nowMs(), this.partition);
    for (const inst of initial.instances) this.index(inst);
    for (const r of initial.trail) this.append(r);
    this.flush();
  }

  /** All instances, transitions due by now completed. Treat as read-only: change them through the methods. */
  list(): readonly Instance[] {
    this.settle();
    return [...this.instances.values()];
  }

  get(id: string): Instance | undefined {
    this.settle();
    return this.instances.get(id);
  }

  /** CloudTrail records, oldest first. */
  get trail(): readonly TrailRecord[] {
    return this.records;
  }

  /**
   * A management event of another service (Step Functions' StartExecution, local/services/cloudtrail.ts): the account
   * has one event history, kept here with the EC2 records so LookupEvents sees both, in time order, for 90 days.
   */
  recordCall(r: TrailRecord): void {
    this.append(r);
  }

  /** The instances for `ids` in request order, or EC2's Malformed / NotFound error naming the bad ones. */
  require(ids: readonly string[]): Instance[] {
    const malformed = ids.find((id) => !INSTANCE_ID.test(id));
    if (malformed !== undefined) throw new AwsError('InvalidInstanceID.Malformed', `Invalid id: "${malformed}" (expecting "i-...")`);
    this.settle();
    const unique = [...new Set(ids)];
    const missing = unique.filter((id) => !this.instances.has(id));
    if (missing.length === 1) throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${missing[0]}' does not exist`);
    if (missing.length > 1) throw new AwsError('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
    return unique.map((id) => this.instances.get(id)!);
  }

  run(req: RunRequest, caller: Caller): Instance[] {
    for (const t of req.tags ?? []) checkTag(t);
    const now = this.clock.nowMs();
    const reservationId = `r-0${randomBytes(8).toString('hex')}`;
    const created: Instance[] = [];
    for (let k = 0; k < req.count; k++) {
      const n = this.instances.size;
      const inst: Instance = {
        ...this.blank(n, now),
        reservationId,
        imageId: req.imageId,
        instanceType: req.instanceType,
        state: 'pending',
        tags: [...(req.tags ?? []), ...(req.serviceTags ?? [])].map((t) => ({ ...t })),
        availabilityZone: req.availabilityZone ?? zone(this.partition, n),
        disableApiTermination: req.disableApiTermination ?? false,
        ...(req.hibernationConfigured && { hibernationConfigured: true }),
        ...(req.clientToken !== undefined && { clientToken: req.clientToken }),
        launchedBy: caller.identity,
        transition: { to: 'running', dueMs: now + TRANSITION_MS.boot, stateTransitionReason: '' },
      };
      this.index(inst);
      created.push(inst);
    }
    this.append(runRecord(this.partition, created, req, caller, now));
    this.mutated();
    return created;
  }

  /** Instances whose next start is refused the volume key's grant (set by IAM for the caller of StartInstances). */
  readonly grantDenied = new Set<string>();

  start(ids: readonly string[], caller: Caller): StateChange[] {
    const targets = this.require(ids);
    for (const i of targets) if (['stopping', 'shutting-down', 'terminated'].includes(i.state)) throw incorrectState(i.instanceId, 'started');
    const now = this.clock.nowMs();
    const changes = targets.map((i) =>
      this.change(i, () => {
        if (i.state !== 'stopped') return; // pending/running: starting again is a no-op, as in EC2
        i.launchTime = iso(now);
        this.enter(i, 'pending', '', undefined, now);
        // A volume whose KMS key has no grant cannot be attached: EC2 gives up and the instance falls back to stopped.
        i.transition =
          i.sim.kmsGrantMissing || this.grantDenied.has(i.instanceId)
            ? { to: 'stopped', dueMs: now + TRANSITION_MS.launchFailure, stateTransitionReason: 'Client.InternalError', stateReason: LAUNCH_ERROR }
            : { to: 'running', dueMs: now + TRANSITION_MS.boot, stateTransitionReason: '' };
      }),
    );
    for (const i of targets) this.grantDenied.delete(i.instanceId);
    this.append(
      record(
        this.partition,
        'StartInstances',
        caller,
        now,
        targets.map((i) => i.instanceId),
        { instancesSet: idItems(targets.map((i) => i.instanceId)) },
        { instancesSet: changeItems(changes) },
      ),
    );
    this.mutated();
    return changes;
  }

  stop(ids: readonly string[], opts: { force?: boolean; hibernate?: boolean }, caller: Caller): StateChange[] {
    const targets = this.require(ids);
    for (const i of targets) {
      if (['pending', 'shutting-down', 'terminated'].includes(i.state)) throw incorrectState(i.instanceId, 'stopped');
      if (i.rootDeviceType === 'instance-store') {
        throw new AwsError('UnsupportedOperation', `The instance '${i.instanceId}' does not have an 'ebs' root device type and cannot be stopped.`);
      }
      if (i.instanceLifecycle === 'spot' && i.spotRequestType !== 'persistent') {
        throw new AwsError(
          'UnsupportedOperation',
          `You can't stop the Spot Instance '${i.instanceId}' because it is associated with a one-time Spot Instance request. You can only stop Spot Instances associated with persistent Spot Instance requests.`,
        );
      }
      if (opts.hibernate && !i.hibernationConfigured) {
        // "You can hibernate an instance only if it's enabled for hibernation" (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Hibernate.html);
        // the code is EC2's UnsupportedHibernationConfiguration (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html),
        // whose message ends with the instance id, as AWS Instance Scheduler parses it (aws-solutions/instance-scheduler-on-aws,
        // source/code/schedulers/ec2_service.py: `Message.split(":")[-1]`). The wording before the id is not recorded.
        throw new AwsError('UnsupportedHibernationConfiguration', `The instance is not enabled for hibernation: ${i.instanceId}`);
      }
    }
    const now = this.clock.nowMs();
    const duration = opts.force ? TRANSITION_MS.forcedStop : TRANSITION_MS.stop;
    const changes = targets.map((i) =>
      this.change(i, () => {
        if (i.state === 'stopping' && opts.force && i.transition) {
          i.transition.dueMs = Math.min(i.transition.dueMs, now + duration);
        }
        if (i.state !== 'running') return;
        const reason = opts.hibernate ? USER_HIBERNATE : USER_SHUTDOWN;
        this.enter(i, 'stopping', userInitiated(now), reason, now);
        const takes = opts.force ? duration : (i.sim.stopMs ?? duration);
        i.transition = { to: 'stopped', dueMs: now + takes, stateTransitionReason: userInitiated(now), stateReason: reason };
      }),
    );
    const params = { instancesSet: idItems(targets.map((i) => i.instanceId)), force: opts.force ?? false, ...(opts.hibernate && { hibernate: true }) };
    this.append(
      record(
        this.partition,
        'StopInstances',
        caller,
        now,
        targets.map((i) => i.instanceId),
        params,
        { instancesSet: changeItems(changes) },
      ),
    );
    this.mutated();
    return changes;
  }

  terminate(ids: readonly string[], caller: Caller): StateChange[] {
    const targets = this.require(ids);
    const locked = targets.find((i) => i.disableApiTermination);
    if (locked) {
      throw new AwsError(
        'OperationNotPermitted',
        `The instance '${locked.instanceId}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`,
      );
    }
    const now = this.clock.nowMs();
    const changes = targets.map((i) =>
      this.change(i, () => {
        if (i.state === 'shutting-down' || i.state === 'terminated') return;
        this.enter(i, 'shutting-down', userInitiated(now), USER_SHUTDOWN, now);
        i.transition = { to: 'terminated', dueMs: now + TRANSITION_MS.terminate, stateTransitionReason: userInitiated(now), stateReason: USER_SHUTDOWN };
      }),
    );
    this.append(
      record(
        this.partition,
        'TerminateInstances',
        caller,
        now,
        targets.map((i) => i.instanceId),
        { instancesSet: idItems(targets.map((i) => i.instanceId)) },
        { instancesSet: changeItems(changes) },
      ),
    );
    this.mutated();
    return changes;
  }

  createTags(ids: readonly string[], tags: readonly Tag[], caller: Caller): void {
    for (const t of tags) checkTag(t);
    const targets = this.require(ids);
    for (const i of targets) {
      const keys = new Set([...i.tags.map((t) => t.Key), ...tags.map((t) => t.Key)]);
      if (keys.size > 50) throw new AwsError('TagLimitExceeded', `The maximum number of tags (50) for resource '${i.instanceId}' has been reached.`);
    }
    for (const i of targets) {
      for (const t of tags) {
        const existing = i.tags.find((x) => x.Key === t.Key);
        if (existing) existing.Value = t.Value;
        else i.tags.push({ Key: t.Key, Value: t.Value });
      }
      this.dirty.add(i.instanceId);
    }
    this.append(
      record(
        this.partition,
        'CreateTags',
        caller,
        this.clock.nowMs(),
        ids,
        { resourcesSet: { items: ids.map((resourceId) => ({ resourceId })) }, tagSet: { items: tagItems(tags) } },
        { _return: true },
      ),
    );
    this.mutated();
  }

  /** Deletes the given keys (only where the value matches, when one is given); no tags means every user tag. */
  deleteTags(ids: readonly string[], tags: readonly { Key: string; Value?: string }[], caller: Caller): void {
    for (const t of tags) checkTag(t);
    const targets = this.require(ids);
    const doomed = (t: Tag) =>
      tags.length === 0 ? !t.Key.startsWith('aws:') : tags.some((d) => d.Key === t.Key && (d.Value === undefined || d.Value === t.Value));
    for (const i of targets) {
      i.tags = i.tags.filter((t) => !doomed(t));
      this.dirty.add(i.instanceId);
    }
    const tagSet = tags.map((t) => ({ key: t.Key, ...(t.Value !== undefined && { value: t.Value }) }));
    this.append(
      record(
        this.partition,
        'DeleteTags',
        caller,
        this.clock.nowMs(),
        ids,
        { resourcesSet: { items: ids.map((resourceId) => ({ resourceId })) }, tagSet: { items: tagSet } },
        { _return: true },
      ),
    );
    this.mutated();
  }

  /**
   * Adds `count` instances directly (no API call, no CloudTrail record): bulk setup for benchmarks and tests.
   * `template` fields apply to every instance; ids, reservation and address are generated.
   */
  addInstances(count: number, template: Partial<Omit<Instance, 'instanceId' | 'reservationId'>> = {}): Instance[] {
    const now = this.clock.nowMs();
    const created: Instance[] = [];
    for (let k = 0; k < count; k++) {
      const inst: Instance = {
        ...this.blank(this.instances.size, now),
        ...template,
        tags: (template.tags ?? []).map((t) => ({ ...t })),
        sim: { ...template.sim },
      };
      this.index(inst);
      created.push(inst);
    }
    this.mutated();
    return created;
  }

  /** Journals every instance changed since the last flush (the state directory's commit puts it on disk). */
  flush(): void {
    for (const id of this.dirty) {
      const i = this.instances.get(id);
      if (i) this.stored.instances.put(id, i);
    }
    this.dirty.clear();
  }

  /** Stops the transition timer and journals what changed: call before dropping the fleet or its state directory. */
  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.flush();
  }

  private blank(n: number, now: number): Instance {
    return {
      instanceId: `i-0${randomBytes(8).toString('hex')}`,
      reservationId: `r-0${randomBytes(8).toString('hex')}`,
      instanceType: 't3.micro',
      imageId: 'ami-0feed000000000001',
      state: 'running',
      stateTransitionReason: '',
      launchTime: iso(now),
      stateChangedMs: now,
      tags: [],
      availabilityZone: zone(this.partition, n),
      privateIpAddress: `10.1.${Math.floor(n / 250) % 256}.${(n % 250) + 4}`,
      rootDeviceType: 'ebs',
      disableApiTermination: false,
      sim: {},
      launchedBy: identity.iamUser('opsflow-benchmark'),
    };
  }

  private index(inst: Instance, changed = true): void {
    this.instances.set(inst.instanceId, inst);
    if (changed) this.dirty.add(inst.instanceId);
    if (inst.transition) this.transitioning.add(inst.instanceId);
  }

  private change(i: Instance, apply: () => void): StateChange {
    const previousState = i.state;
    apply();
    this.dirty.add(i.instanceId);
    if (i.transition) this.transitioning.add(i.instanceId);
    return { instanceId: i.instanceId, previousState, currentState: i.state };
  }

  private enter(i: Instance, state: InstanceStateName, reason: string, stateReason: StateReason | undefined, atMs: number): void {
    i.state = state;
    i.stateTransitionReason = reason;
    i.stateReason = stateReason;
    i.stateChangedMs = atMs;
    i.transition = undefined;
    this.dirty.add(i.instanceId);
  }

  private append(r: TrailRecord): void {
    const oldest = trailTime(this.clock.nowMs() - TRAIL_RETENTION_MS);
    let expired = 0;
    while (expired < this.records.length && this.records[expired].eventTime < oldest) this.stored.trail.delete(this.records[expired++].eventId);
    if (expired > 0) this.records = this.records.slice(expired);
    this.records.push(r);
    this.stored.trail.put(r.eventId, r);
  }

  /** An API call changed the world: persist before answering, so a client never sees a success a restart forgets. */
  private mutated(): void {
    this.flush();
    this.arm();
  }

  /** Completes every transition due by now. */
  private settle(): void {
    const now = this.clock.nowMs();
    let changed = false;
    for (const id of this.transitioning) {
      const i = this.instances.get(id);
      const t = i?.transition;
      if (!i || !t) {
        this.transitioning.delete(id);
      } else if (t.dueMs <= now) {
        this.enter(i, t.to, t.stateTransitionReason, t.stateReason, t.dueMs);
        this.transitioning.delete(id);
        changed = true;
      }
    }
    if (changed) this.flush();
    this.arm();
  }

  /** One timer for the earliest pending transition. */
  private arm(): void {
    let next = Infinity;
    for (const id of this.transitioning) next = Math.min(next, this.instances.get(id)?.transition?.dueMs ?? Infinity);
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

/**
 * EC2's tag restrictions (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions):
 * "Maximum key length – 128 Unicode characters in UTF-8", "Maximum value length – 256 Unicode characters in UTF-8",
 * and the `aws:` prefix is reserved ("you can't edit or delete a tag key with this prefix"), in any case. "Although
 * EC2 allows for any character in its tags", EC2 answers in XML 1.0, which cannot carry C0 controls other than tab,
 * LF and CR, lone surrogates, U+FFFE or U+FFFF: a tag holding one would make every later DescribeInstances
 * unreadable, so they are refused (stricter than documented; README, unconfirmed behaviours). The messages follow
 * EC2's InvalidParameterValue form, "Value ( x ) for parameter key is invalid. ..." (the reserved-prefix wording is
 * EC2's as recorded; the others are the runtime's in that form).
 */
function checkTag(t: { Key: string; Value?: string }): void {
  const key = t.Key;
  const shown = (s: string) => JSON.stringify(s).slice(1, -1);
  if (key.length === 0) throw new AwsError('InvalidParameterValue', 'Value (  ) for parameter key is invalid. Tag keys must not be empty');
  if (codePoints(key) > 128)
    throw new AwsError('InvalidParameterValue', `Value ( ${shown(key)} ) for parameter key is invalid. Tag key exceeds the maximum length of 128 characters`);
  if (key.toLowerCase().startsWith('aws:'))
    throw new AwsError(
      'InvalidParameterValue',
      `Value ( ${shown(key)} ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved for internal use`,
    );
  const badKey = notXml(key);
  if (badKey)
    throw new AwsError(
      'InvalidParameterValue',
      `Value ( ${shown(key)} ) for parameter key is invalid. Tags may not contain ${badKey}, which XML 1.0 cannot carry`,
    );
  if (t.Value === undefined) return;
  if (codePoints(t.Value) > 256)
    throw new AwsError(
      'InvalidParameterValue',
      `Value ( ${shown(t.Value)} ) for parameter value is invalid. Tag value exceeds the maximum length of 256 characters`,
    );
  const badValue = notXml(t.Value);
  if (badValue)
    throw new AwsError(
      'InvalidParameterValue',
      `Value ( ${shown(t.Value)} ) for parameter value is invalid. Tags may not contain ${badValue}, which XML 1.0 cannot carry`,
    );
}

const codePoints = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** The first character XML 1.0 cannot carry (https://www.w3.org/TR/xml/#charsets), as `U+XXXX`, or undefined. */
function notXml(s: string): string | undefined {
  const m = NOT_XML.exec(s);
  return m ? `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}

/** Characters outside XML 1.0's Char production: C0 controls but tab, LF, CR; U+FFFE, U+FFFF; lone surrogates. */
export const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
