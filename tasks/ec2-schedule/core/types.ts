/**
 * Shapes shared by the Ec2Schedule tasks. Everything here is what travels in the state machine's payload or
 * in the run table, so it is kept small: the state carries ids of batches, never the fleet.
 */
/** The kinds of resource a schedule moves (core/kinds/*.ts); `Resource.kind` and each wave carry one. */
export const KINDS = ['rds-cluster', 'rds-instance', 'ec2', 'asg', 'ecs-service'] as const;
export type Kind = (typeof KINDS)[number];

export type Ec2Action = 'start' | 'stop';

/**
 * Where a resource lives when the hub acts in an organisation's accounts and regions (config `targets`, issue 23):
 * both set, or neither (the hub's own account and region). Spread into refs, waves and report lines.
 */
export interface Where {
  account?: string;
  region?: string;
}

/** One resource named by a caller (a control link, a chat command, an RDS event). */
export interface ResourceRef extends Where {
  kind: Kind;
  id: string;
}

/** The validated execution input. */
export interface Ec2Request {
  action: Ec2Action;
  schedule: string | null;
  instanceIds: string[] | null;
  /** Resources of any kind, by kind and id (exactly one of schedule, instanceIds, resources). */
  resources: ResourceRef[] | null;
  dryRun: boolean;
  requestedBy: string | null;
  /** Only these ordering groups of the schedule (a period limited to some groups). */
  groups: string[] | null;
}

/** What the tasks know about a named schedule at run time (from the SCHEDULES environment variable). */
export interface ScheduleRuntime {
  timezone: string;
  skipDates: string[];
  groups: string[];
  /** Stop EC2 instances configured for hibernation with `Hibernate=true`. */
  hibernate?: boolean;
  /** The accounts and regions this schedule acts in, over `TARGETS`' (config `ec2Schedule.schedules.<name>.targets`). */
  targets?: { accounts?: string[]; regions?: string[] };
}

export type Schedules = Record<string, ScheduleRuntime>;

/** The instance facts the plan decides on. */
export interface InstanceFacts {
  instanceId: string;
  name: string;
  state: string;
  instanceType: string;
  tags: Record<string, string>;
  rootDeviceType: string;
  /** `HibernationOptions.Configured`: set at launch, it alone lets `StopInstances` hibernate the instance. */
  hibernationConfigured?: boolean;
  lifecycle?: string;
  stateReason?: { code: string; message: string };
}

export type Outcome = 'moved' | 'skipped' | 'failed' | 'dry-run';

/** One line of the report. */
export interface ReportEntry extends Where {
  kind: Kind;
  /** The resource's id (`Resource.id`): an instance id for EC2, a DB identifier, a group name, `<cluster>/<service>`. */
  instanceId: string;
  name: string;
  from: string;
  to: string;
  outcome: Outcome;
  reason: string;
}

/** The working state of one instance inside a stored batch. */
export interface BatchEntry {
  instanceId: string;
  name: string;
  from: string;
  /** acted: the API call succeeded, verification pending; capacity: retry later; the rest are final. */
  status: 'planned' | 'acted' | 'capacity' | Outcome;
  to?: string;
  reason?: string;
  /** acted: when verification gives up on this instance (ISO). */
  verifyBy?: string;
  /** capacity: calls that met InsufficientInstanceCapacity so far, and when to try again (ISO). */
  tries?: number;
  retryAt?: string;
  /** EC2: stop with `Hibernate=true` (planned in batches of their own, since the option is per call). */
  hibernate?: boolean;
  /** Auto Scaling group and ECS service sizes when planned (stop stores them, start restores the stored ones). */
  sizes?: Sizes;
  /** Said in the report whatever the outcome: "restarted by RDS after seven days stopped; stopped again". */
  note?: string;
}

/** An Auto Scaling group's min/desired/max, or an ECS service's desired count (`desired` alone). */
export interface Sizes {
  min?: number;
  desired: number;
  max?: number;
}

/** `account`/`region` of its target when the run acts in an organisation's accounts and regions (`Plan.lanes`). */
export interface StoredBatch extends Where {
  kind: Kind;
  /** EC2: a stop with `Hibernate=true` (every instance of the batch is configured for it). */
  hibernate?: boolean;
  action: Ec2Action;
  dryRun: boolean;
  group: string;
  entries: BatchEntry[];
  /** Set once a call failed for some instance: the next calls for this batch send at most this many (bisection so far). */
  callSize?: number;
}

/**
 * One ordering group's share of a run: its batches are stored as `batch#<index>-<n>`, n from 0 to `batches - 1`.
 * The state carries only this summary, so it stays the same size whatever the fleet size.
 */
export interface Wave extends Where {
  index: number;
  group: string;
  kind: Kind;
  action: Ec2Action;
  dryRun: boolean;
  batches: number;
  instances: number;
}

/** How far a wave has got, stored as `wave#<index>` between the passes of its Advance loop. */
export interface WaveProgress {
  /** Batches [0, acted) have had every instance sent to EC2 at least once. */
  acted: number;
  /** Batches with instances in transition (acted) or waiting for capacity: verified on every pass. */
  open: number[];
  /** Instances sent to EC2 so far (each once). */
  sent: number;
  /** EC2 has throttled this wave: from then on each pass waits for the tokens its next calls need. */
  paced: boolean;
  passes: number;
  /** Transient EC2 errors in a row (server errors), for their back-off. */
  errors: number;
}

export interface Plan {
  /** Set when a scheduled start falls on one of the schedule's skip dates: nothing is done. */
  holiday: string | null;
  /** Instances to act on, in `waves`. */
  targets: number;
  /** Instances already accounted for at planning time (skipped, or not found), stored as report entries. */
  settled: number;
  /** The waves of a run in its own account and region (no `TARGETS`); empty when `lanes` is set. */
  waves: Wave[];
  /**
   * With `TARGETS`: one lane per target (account × region) that has something to do, its waves in order. Lanes run
   * side by side, the waves of a lane one after the other (workflows/ec2-schedule/construct.ts).
   */
  lanes?: Lane[];
  /** With `TARGETS`: targets that could not be listed, stored as `unreachable#<n>` for the report (only the count travels). */
  unreachable?: number;
  /** After this instant (ISO) nothing more is started or stopped, so the run ends with its report in time. */
  actUntil: string;
}

/** One target's share of a run: its waves (each carrying the target's `account`/`region`), run one at a time. */
export interface Lane extends Where {
  waves: Wave[];
}

/** A target the plan could not list (AssumeRole refused, throttled, any error): reported with its reason. */
export interface UnreachableTarget {
  account: string;
  region: string;
  reason: string;
}
