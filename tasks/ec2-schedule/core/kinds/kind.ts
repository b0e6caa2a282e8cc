/**
 * One schedule, several kinds of resource. The engine (plan, waves, pacing, verification, report, links, chat) is the
 * same for all of them; what differs per kind sits behind this small interface, one module each (ec2.ts, rds.ts,
 * asg.ts, ecs.ts): how to list the resources that opted in by the `Schedule` tag, whether to act on one (plan), the
 * one API call that starts or stops them (act), and what its state says after (verify).
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { Bucket } from '../pace';
import type { Ec2Store } from '../store';
import type { BatchEntry, Ec2Action, Kind, Where } from '../types';

/** The SDK clients the kinds call; a handler builds them once, tests pass mocks. */
export interface Clients {
  ec2: EC2Client;
  rds: RDSClient;
  autoscaling: AutoScalingClient;
  ecs: ECSClient;
}

/** What the engine knows of any resource: its kind's own id and state words, its Name and tags. */
export interface Resource {
  kind: Kind;
  /** EC2 instance id, DB instance or cluster identifier, Auto Scaling group name, `<cluster>/<service>` for ECS. */
  id: string;
  name: string;
  /** The kind's state, as its API says it (`running`, `available`, `stopped`) or as sizes (`1/2/4`, `2 tasks`). */
  state: string;
  tags: Record<string, string>;
}

export interface TagFilter {
  key: string;
  value: string;
}

export type Verdict = { kind: 'act'; entry?: Partial<BatchEntry> } | { kind: 'skip' | 'fail'; reason: string };

export interface PlanContext {
  action: Ec2Action;
  now: Date;
  /** The schedule asks for hibernation (`hibernate: true`); an instance may ask too, by tag. */
  hibernate: boolean;
  /** Identifiers RDS started by itself after seven days stopped, from its events (rds.ts). */
  restartedByRds: ReadonlySet<string>;
}

export interface CallContext {
  action: Ec2Action;
  dryRun: boolean;
  clients: Clients;
  store: Ec2Store;
  runId: string;
  /** The wave's target (config `targets`): the account and region its resources are in; empty for the function's own. */
  where?: Where;
  /** The batch's call option: EC2's `Hibernate`. */
  hibernate: boolean;
}

export interface KindModule<R extends Resource = Resource> {
  readonly kind: Kind;
  /** How the report and chat name one: `EC2 instance`, `RDS DB instance`, ... */
  readonly noun: string;
  /** Ids one call takes: EC2's Start/StopInstances take many, the others one. */
  readonly idsPerCall: number;
  /** EC2 answers DryRun; the other APIs have none, so a dry run of them only says what it would do. */
  readonly dryRun: boolean;
  /** The service's token buckets for the call that starts and the one that stops (pace.ts). */
  readonly buckets: Record<Ec2Action, { resource: Bucket; request: Bucket }>;
  /** How long verification waits at least for this kind (a database starts in minutes, not seconds). */
  readonly verifySeconds: number;
  /** The resources tagged `key=value` (the plan: `Schedule=<schedule>`), or every one (the chat's `ls`), page by page. */
  list(c: Clients, tag?: TagFilter): AsyncGenerator<R>;
  /** These resources, unknown ids left out. */
  find(c: Clients, ids: readonly string[]): Promise<R[]>;
  /** Whether to act on it, or why not (checked after the engine's own: override tag). */
  plan(r: R, ctx: PlanContext): Verdict;
  /** One call for these entries; throws the service's error (act.ts bisects and classifies). */
  call(entries: BatchEntry[], ctx: CallContext): Promise<void>;
  /** What the service's refusal means for one resource, when the kind knows better than the generic reading. */
  refusal(e: Error, action: Ec2Action): { status: BatchEntry['status']; reason: string } | undefined;
  /** Settles one `acted` entry from the resource's state now (`undefined`: it is gone). */
  settle(e: BatchEntry, r: R | undefined, action: Ec2Action, now: Date): void;
}
