/**
 * Amazon ECS over AWS JSON 1.1 (`X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Action>`), as
 * `@aws-sdk/client-ecs` and `aws ecs` speak it: ListClusters, DescribeClusters, ListServices, DescribeServices,
 * UpdateService (desiredCount), ListTagsForResource, TagResource. API reference:
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/Welcome.html
 *
 * A service runs Fargate tasks that exist only as counts and ids here (no containers run). Changing desiredCount
 * starts or stops tasks, and the counts converge on the virtual clock with durations that are the runtime's choice
 * (AWS gives none): a started task is PENDING for TASK_START_MS, then RUNNING; a stopped task stays RUNNING for
 * TASK_STOP_MS (the default stopTimeout before SIGKILL, "the default value is 30 seconds",
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html), then is gone. The service's
 * events say so in ECS's words ("(service x) has started 2 tasks: (task a) (task b).", "... has stopped 1 running
 * tasks: ...", "... has reached a steady state."), newest first, at most 100 as DescribeServices shows them
 * ("A maximum of 100 of the latest events are displayed", API_Service.html). The state is derived from stored due
 * instants whenever it is read, so it survives a restart (store `ecs`, one record per cluster).
 *
 * Not modelled: creating or deleting clusters and services (they come from the app's fleet file), task definitions,
 * deployments other than the one PRIMARY deployment, load balancers, capacity providers, EC2 launch type.
 */
import { createHash, randomUUID } from 'node:crypto';
import { AwsError, HUB, type AwsRequest, type AwsResponse, type Clock, type Partition, type ServiceHandler, type StateDir, type Store } from '../kernel';
import { jsonRequest } from '../wire/decode';
import type { ClusterSeed } from './fleet';

export type { ClusterSeed } from './fleet';
import { jsonError } from '../wire/errors';

const TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113.';
export const TASK_START_MS = 30_000;
export const TASK_STOP_MS = 30_000;
const MAX_EVENTS = 100;

interface EcsTag {
  key: string;
  value: string;
}

interface Task {
  id: string;
  lastStatus: 'PENDING' | 'RUNNING';
  desiredStatus: 'RUNNING' | 'STOPPED';
  /** When it next changes: PENDING → RUNNING, or (desired STOPPED) gone. */
  dueMs?: number;
}

interface ServiceEvent {
  id: string;
  createdAt: number;
  message: string;
}

interface ServiceRecord {
  name: string;
  arn: string;
  desiredCount: number;
  taskDefinition: string;
  createdMs: number;
  updatedMs: number;
  deploymentId: string;
  tags: EcsTag[];
  tasks: Task[];
  events: ServiceEvent[];
  /** A steady-state event is owed once every task has settled. */
  steadyOwed: boolean;
}

interface Cluster {
  name: string;
  arn: string;
  tags: EcsTag[];
  services: ServiceRecord[];
}

const arnPrefix = (p: Partition) => `arn:aws:ecs:${p.region}:${p.account}:`;
const epochSeconds = (ms: number) => ms / 1000;

export class EcsService implements ServiceHandler {
  readonly services = ['ecs'] as const;
  private readonly clock: Clock;
  private readonly clusters: Store<Cluster>;
  /** The account and region of these clusters (local/org/partitions.ts): their ARNs name it. */
  readonly partition: Partition;

  /** `partition`: a member partition's clusters are stored apart from the hub's. @default HUB */
  constructor(opts: { clock: Clock; state: StateDir; partition?: Partition }) {
    this.clock = opts.clock;
    this.partition = opts.partition ?? HUB;
    const p = this.partition;
    // The hub keeps the store name it always had, so existing state directories load unchanged.
    this.clusters = opts.state.store<Cluster>(p.account === HUB.account && p.region === HUB.region ? 'ecs' : `ecs.${p.account}.${p.region}`);
  }

  private clusterArn(name: string): string {
    return `${arnPrefix(this.partition)}cluster/${name}`;
  }

  private serviceArn(cluster: string, name: string): string {
    return `${arnPrefix(this.partition)}service/${cluster}/${name}`;
  }

  /** What an ARN of this account and region names after `arn:aws:ecs:<region>:<account>:`; undefined for any other ARN. */
  private local(arn: string): string | undefined {
    const prefix = arnPrefix(this.partition);
    return arn.startsWith(prefix) ? arn.slice(prefix.length) : undefined;
  }

  /** The app's clusters and services, created once: one that exists keeps its counts (a restart must not undo a schedule). */
  seed(seeds: readonly ClusterSeed[]): void {
    const now = this.clock.nowMs();
    for (const s of seeds) {
      const cluster: Cluster = this.clusters.get(s.name) ?? { name: s.name, arn: this.clusterArn(s.name), tags: ecsTags(s.tags), services: [] };
      for (const svc of s.services) {
        if (cluster.services.some((x) => x.name === svc.name)) continue;
        const tasks: Task[] = Array.from({ length: svc.desiredCount }, () => ({ id: taskId(), lastStatus: 'RUNNING', desiredStatus: 'RUNNING' }));
        cluster.services.push({
          name: svc.name,
          arn: this.serviceArn(s.name, svc.name),
          desiredCount: svc.desiredCount,
          taskDefinition: `${arnPrefix(this.partition)}task-definition/${svc.name}:1`,
          createdMs: now,
          updatedMs: now,
          deploymentId: `ecs-svc/${BigInt(`0x${createHash('sha1').update(`${s.name}/${svc.name}`).digest('hex').slice(0, 15)}`)
            .toString()
            .padStart(19, '0')}`,
          tags: ecsTags(svc.tags),
          tasks,
          events: [{ id: randomUUID(), createdAt: now, message: `(service ${svc.name}) has reached a steady state.` }],
          steadyOwed: false,
        });
      }
      this.clusters.put(cluster.name, cluster);
    }
  }

  /** Tags of a cluster or service by ARN, for IAM's `aws:ResourceTag` (local/iam/requests.ts). */
  tagsOf(arn: string): Record<string, string> | undefined {
    const found = this.byArn(arn);
    return found && Object.fromEntries(found.tags.map((t) => [t.key, t.value]));
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    try {
      const { op, input } = jsonRequest(req, TARGET_PREFIX);
      return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(this.dispatch(op, input)) };
    } catch (err) {
      if (!(err instanceof AwsError)) console.error('opsflow: ECS handler failed', err);
      return jsonError(err instanceof AwsError ? err : new AwsError('ServerException', 'Server exception.', 500));
    }
  }

  private dispatch(op: string, input: Record<string, unknown>): unknown {
    switch (op) {
      case 'ListClusters':
        return this.listClusters(input);
      case 'DescribeClusters':
        return this.describeClusters(input);
      case 'ListServices':
        return this.listServices(input);
      case 'DescribeServices':
        return this.describeServices(input);
      case 'UpdateService':
        return this.updateService(input);
      case 'ListTagsForResource':
        return { tags: this.resource(input.resourceArn).tags };
      case 'TagResource':
        return this.tagResource(input);
      default:
        throw new AwsError('UnknownOperationException', `The action ${op || '(none)'} is not served by the opsflow local runtime's ECS`);
    }
  }

  // ---------------------------------------------------------------------------------------------------------

  /** "maxResults ... between 1 and 100 ... If this parameter isn't used, then ListClusters returns up to 100 results" (API_ListClusters.html). */
  private listClusters(input: Record<string, unknown>): unknown {
    const arns = [...this.clusters.values()].map((c) => c.arn).sort();
    const { page, nextToken } = paginate(arns, input, 100);
    return { clusterArns: page, ...(nextToken && { nextToken }) };
  }

  /**
   * "clusters: A list of up to 100 cluster names or full cluster Amazon Resource Name (ARN) entries. If you do not
   * specify a cluster, the default cluster is assumed." A cluster that does not exist is a failure with reason
   * MISSING, not an error (API_DescribeClusters.html; API_Failure.html).
   */
  private describeClusters(input: Record<string, unknown>): unknown {
    const refs = stringList(input.clusters, 'clusters', 100);
    const tags = stringList(input.include, 'include', 10).includes('TAGS');
    const clusters: unknown[] = [];
    const failures: unknown[] = [];
    for (const ref of refs.length > 0 ? refs : ['default']) {
      const c = this.findCluster(ref);
      if (!c) failures.push({ arn: ref.startsWith('arn:') ? ref : this.clusterArn(ref), reason: 'MISSING' });
      else {
        clusters.push(this.clusterJson(c, tags));
        this.clusters.put(c.name, c);
      }
    }
    return { clusters, failures };
  }

  /** "maxResults ... between 1 and 100 ... If this parameter isn't used, then ListServices returns up to 10 results" (API_ListServices.html). */
  private listServices(input: Record<string, unknown>): unknown {
    const cluster = this.cluster(input.cluster);
    const arns = cluster.services.map((s) => s.arn).sort();
    const { page, nextToken } = paginate(arns, input, 10);
    return { serviceArns: page, ...(nextToken && { nextToken }) };
  }

  /**
   * "services: A list of services to describe. You may specify up to 10 services to describe in a single
   * operation"; a service that does not exist is a failure with reason MISSING (API_DescribeServices.html).
   */
  private describeServices(input: Record<string, unknown>): unknown {
    const cluster = this.cluster(input.cluster);
    const refs = stringList(input.services, 'services', 10);
    const tags = stringList(input.include, 'include', 10).includes('TAGS');
    const services: unknown[] = [];
    const failures: unknown[] = [];
    for (const ref of refs) {
      const s = this.findService(cluster, ref);
      if (!s) failures.push({ arn: ref.startsWith('arn:') ? ref : this.serviceArn(cluster.name, ref), reason: 'MISSING' });
      else services.push(this.serviceJson(cluster, this.settle(s), tags));
    }
    this.clusters.put(cluster.name, cluster);
    return { services, failures };
  }

  /**
   * UpdateService with a desiredCount: "The number of instantiations of the task to place and keep running in your
   * service" (API_UpdateService.html). An unknown cluster is ClusterNotFoundException, an unknown service
   * ServiceNotFoundException ("The specified service wasn't found"); a negative count InvalidParameterException.
   */
  private updateService(input: Record<string, unknown>): unknown {
    const cluster = this.cluster(input.cluster);
    const ref = input.service;
    if (typeof ref !== 'string' || ref === '') throw new AwsError('InvalidParameterException', 'Service cannot be empty.');
    const service = this.findService(cluster, ref);
    if (!service) throw new AwsError('ServiceNotFoundException', 'Service not found.');
    this.settle(service);
    if (input.desiredCount !== undefined) {
      const n = input.desiredCount;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
        throw new AwsError('InvalidParameterException', 'Desired count must be a non-negative integer.');
      this.scale(service, n);
    }
    this.clusters.put(cluster.name, cluster);
    return { service: this.serviceJson(cluster, service, false) };
  }

  /**
   * "tags: The tags to add to the resource ... Maximum number of 50 items", and "Do not use aws:, AWS:, or any upper or
   * lowercase combination of such as a prefix for either keys or values as it is reserved for AWS use"
   * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TagResource.html); the messages are the runtime's.
   */
  private tagResource(input: Record<string, unknown>): unknown {
    const target = this.resource(input.resourceArn);
    const tags = input.tags;
    if (!Array.isArray(tags)) throw new AwsError('InvalidParameterException', 'Tags cannot be empty.');
    for (const t of tags as Array<{ key?: unknown; value?: unknown }>) {
      if (typeof t?.key !== 'string' || t.key === '') throw new AwsError('InvalidParameterException', 'Tag keys must be non-empty strings.');
      const value = typeof t.value === 'string' ? t.value : '';
      if (t.key.toLowerCase().startsWith('aws:') || value.toLowerCase().startsWith('aws:'))
        throw new AwsError('InvalidParameterException', 'Tag keys and values starting with aws: are reserved for AWS use.');
      const existing = target.tags.find((x) => x.key === t.key);
      if (existing) existing.value = value;
      else target.tags.push({ key: t.key, value });
    }
    if (target.tags.length > 50) throw new AwsError('InvalidParameterException', 'The maximum number of tags (50) for the resource has been exceeded.');
    this.clusters.put(target.cluster.name, target.cluster);
    return {};
  }

  // ---------------------------------------------------------------------------------------------------------

  /** Starts or stops tasks so that `desired` will run; each change is one event, as ECS writes them. */
  private scale(service: ServiceRecord, desired: number): void {
    const now = this.clock.nowMs();
    service.desiredCount = desired;
    service.updatedMs = now;
    const live = service.tasks.filter((t) => t.desiredStatus === 'RUNNING');
    if (live.length < desired) {
      const started = Array.from(
        { length: desired - live.length },
        (): Task => ({ id: taskId(), lastStatus: 'PENDING', desiredStatus: 'RUNNING', dueMs: now + TASK_START_MS }),
      );
      service.tasks.push(...started);
      this.event(service, now, `(service ${service.name}) has started ${started.length} tasks: ${started.map((t) => `(task ${t.id})`).join(' ')}.`);
    } else if (live.length > desired) {
      // The newest tasks go first: ECS's own choice among tasks of one deployment is not documented (README, unconfirmed).
      const stopping = live.slice(desired).reverse();
      for (const t of stopping) {
        t.desiredStatus = 'STOPPED';
        t.dueMs = now + (t.lastStatus === 'PENDING' ? 0 : TASK_STOP_MS);
      }
      this.event(service, now, `(service ${service.name}) has stopped ${stopping.length} running tasks: ${stopping.map((t) => `(task ${t.id})`).join(' ')}.`);
    }
    service.steadyOwed = true;
  }

  /** Applies every task change due by now, at its own instant, and the steady-state event once all have settled. */
  private settle(service: ServiceRecord): ServiceRecord {
    const now = this.clock.nowMs();
    let last = 0;
    for (const t of service.tasks) {
      if (t.dueMs === undefined || t.dueMs > now) continue;
      last = Math.max(last, t.dueMs);
      if (t.desiredStatus === 'STOPPED') t.dueMs = -1;
      else {
        t.lastStatus = 'RUNNING';
        t.dueMs = undefined;
      }
    }
    service.tasks = service.tasks.filter((t) => t.dueMs !== -1);
    if (service.steadyOwed && service.tasks.every((t) => t.dueMs === undefined)) {
      service.steadyOwed = false;
      this.event(service, Math.max(last, service.updatedMs), `(service ${service.name}) has reached a steady state.`);
    }
    return service;
  }

  private event(service: ServiceRecord, at: number, message: string): void {
    service.events.unshift({ id: randomUUID(), createdAt: at, message });
    service.events.length = Math.min(service.events.length, MAX_EVENTS);
  }

  private cluster(ref: unknown): Cluster {
    const name = ref === undefined ? 'default' : ref;
    if (typeof name !== 'string') throw new AwsError('InvalidParameterException', 'Cluster must be a string.');
    const c = this.findCluster(name);
    // "ClusterNotFoundException: The specified cluster wasn't found" (every operation's Errors); message as ECS answers it.
    if (!c) throw new AwsError('ClusterNotFoundException', 'Cluster not found.');
    return c;
  }

  private findCluster(ref: string): Cluster | undefined {
    const name = ref.startsWith('arn:') ? /^cluster\/(.+)$/.exec(this.local(ref) ?? '')?.[1] : ref;
    return name === undefined ? undefined : this.clusters.get(name);
  }

  /** A service by name, or by ARN in either format (`service/<cluster>/<name>` or the older `service/<name>`). */
  private findService(cluster: Cluster, ref: string): ServiceRecord | undefined {
    const name = ref.startsWith('arn:') ? /^service\/(?:[^/]+\/)?([^/]+)$/.exec(this.local(ref) ?? '')?.[1] : ref;
    return cluster.services.find((s) => s.name === name);
  }

  private byArn(arn: string): { tags: EcsTag[]; cluster: Cluster } | undefined {
    const m = /^(cluster|service)\/([^/]+)(?:\/([^/]+))?$/.exec(this.local(arn) ?? '');
    if (!m) return undefined;
    const cluster = this.clusters.get(m[2]);
    if (!cluster) return undefined;
    if (m[1] === 'cluster') return m[3] === undefined ? { tags: cluster.tags, cluster } : undefined;
    const service = m[3] === undefined ? undefined : cluster.services.find((s) => s.name === m[3]);
    return service && { tags: service.tags, cluster };
  }

  /**
   * The resource a tagging call names. ECS answers an ARN of no resource with InvalidParameterException for a
   * malformed ARN and the resource type's not-found exception otherwise (README, unconfirmed wording).
   */
  private resource(ref: unknown): { tags: EcsTag[]; cluster: Cluster } {
    if (typeof ref !== 'string' || !/^arn:aws:ecs:[^:]+:\d{12}:(cluster|service)\//.test(ref))
      throw new AwsError('InvalidParameterException', `The ARN provided is invalid or not supported: ${String(ref)}`);
    const found = this.byArn(ref);
    if (found) return found;
    if (/:cluster\//.test(ref)) throw new AwsError('ClusterNotFoundException', 'Cluster not found.');
    throw new AwsError('ServiceNotFoundException', 'Service not found.');
  }

  private clusterJson(c: Cluster, withTags: boolean): unknown {
    const services = c.services.map((s) => this.settle(s));
    const count = (status: Task['lastStatus']) => services.reduce((n, s) => n + s.tasks.filter((t) => t.lastStatus === status).length, 0);
    return {
      clusterArn: c.arn,
      clusterName: c.name,
      status: 'ACTIVE',
      registeredContainerInstancesCount: 0,
      runningTasksCount: count('RUNNING'),
      pendingTasksCount: count('PENDING'),
      activeServicesCount: services.length,
      statistics: [],
      ...(withTags && { tags: c.tags }),
      settings: [{ name: 'containerInsights', value: 'disabled' }],
      capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
      defaultCapacityProviderStrategy: [],
    };
  }

  private serviceJson(cluster: Cluster, s: ServiceRecord, withTags: boolean): unknown {
    const running = s.tasks.filter((t) => t.lastStatus === 'RUNNING').length;
    const pending = s.tasks.filter((t) => t.lastStatus === 'PENDING').length;
    return {
      serviceArn: s.arn,
      serviceName: s.name,
      clusterArn: cluster.arn,
      loadBalancers: [],
      serviceRegistries: [],
      status: 'ACTIVE',
      desiredCount: s.desiredCount,
      runningCount: running,
      pendingCount: pending,
      launchType: 'FARGATE',
      platformVersion: 'LATEST',
      platformFamily: 'Linux',
      taskDefinition: s.taskDefinition,
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: false, rollback: false }, maximumPercent: 200, minimumHealthyPercent: 100 },
      deployments: [
        {
          id: s.deploymentId,
          status: 'PRIMARY',
          taskDefinition: s.taskDefinition,
          desiredCount: s.desiredCount,
          pendingCount: pending,
          runningCount: running,
          failedTasks: 0,
          createdAt: epochSeconds(s.createdMs),
          updatedAt: epochSeconds(s.updatedMs),
          launchType: 'FARGATE',
          platformVersion: '1.4.0',
          platformFamily: 'Linux',
          rolloutState: 'COMPLETED',
          rolloutStateReason: 'ECS deployment ecs-svc completed.',
        },
      ],
      events: s.events.map((e) => ({ id: e.id, createdAt: epochSeconds(e.createdAt), message: e.message })),
      createdAt: epochSeconds(s.createdMs),
      placementConstraints: [],
      placementStrategy: [],
      schedulingStrategy: 'REPLICA',
      createdBy: `arn:aws:iam::${this.partition.account}:role/opsflow-demo`,
      enableECSManagedTags: false,
      propagateTags: 'NONE',
      enableExecuteCommand: false,
      ...(withTags && { tags: s.tags }),
    };
  }
}

/** A task id as ECS writes them: 32 hex digits. */
const taskId = () => randomUUID().replace(/-/g, '');

function ecsTags(tags: Record<string, string> | undefined): EcsTag[] {
  return Object.entries(tags ?? {}).map(([key, value]) => ({ key, value }));
}

function stringList(value: unknown, name: string, max: number): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new AwsError('InvalidParameterException', `${name} must be a list of strings.`);
  if (value.length > max) throw new AwsError('InvalidParameterException', `${name} can have at most ${max} items.`);
  return value as string[];
}

function paginate(items: string[], input: Record<string, unknown>, defaultSize: number): { page: string[]; nextToken?: string } {
  const max = input.maxResults ?? defaultSize;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 100)
    throw new AwsError('InvalidParameterException', 'maxResults must be between 1 and 100.');
  let offset = 0;
  if (input.nextToken !== undefined) {
    const m = typeof input.nextToken === 'string' ? /^o(\d+)$/.exec(Buffer.from(input.nextToken, 'base64url').toString('utf8')) : null;
    if (!m) throw new AwsError('InvalidParameterException', 'Invalid token');
    offset = Number(m[1]);
  }
  const end = offset + max;
  return { page: items.slice(offset, end), nextToken: end < items.length ? Buffer.from(`o${end}`).toString('base64url') : undefined };
}
