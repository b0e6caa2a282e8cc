/**
 * EventBridge: rules with event patterns on named buses (the template's rules, registered with `addRule`),
 * in-process `put` for events the runtime itself emits (CloudTrail, EC2 state changes), and the AWS JSON 1.1
 * API subset apps call: PutEvents, ListRules, TestEventPattern.
 *
 * Delivery is at-most-once with no retries: a failing target is logged and the other targets still run. Each rule
 * counts its target invocations and the ones that failed, as EventBridge's `Invocations` and `FailedInvocations`
 * metrics do (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html): a delivery the target
 * refuses (its resource policy, the key of an encrypted topic) is lost, and only the count says so.
 */
import { randomUUID } from 'node:crypto';
import {
  AwsError,
  HUB,
  type AwsRequest,
  type AwsResponse,
  type BusEvent,
  type Clock,
  type EventBus,
  type Partition,
  type ServiceHandler,
  type TargetInvoker,
} from '../kernel';
import { parseBusArn } from '../org/event-buses';
import { jsonError } from '../wire/errors';
import { matches, patternProblems, selectPath, transformInput, type InputTransformer } from './event-pattern';

export interface RuleTarget {
  id: string;
  arn: string;
  /** Constant JSON text (CloudFormation `Input`). */
  input?: string;
  /** JSONPath selecting part of the event, e.g. `$.detail`. */
  inputPath?: string;
  inputTransformer?: InputTransformer;
  /** The role EventBridge assumes to invoke the target (state machines); without it, the target's resource policy decides. */
  roleArn?: string;
}

export interface RuleDefinition {
  name: string;
  /** @default 'default' */
  eventBusName?: string;
  eventPattern: object;
  /** @default 'ENABLED' */
  state?: 'ENABLED' | 'DISABLED';
  targets: RuleTarget[];
}

/** A rule's EventBridge metrics (dimension RuleName), counted since the runtime started. */
export interface RuleMetrics {
  /** Target invocations, failed ones included. */
  invocations: number;
  /** Invocations that failed for good (the runtime does not retry, so every failed one). */
  failedInvocations: number;
}

interface Rule extends Required<Omit<RuleDefinition, 'targets'>> {
  arn: string;
  targets: RuleTarget[];
  metrics: RuleMetrics;
}

export interface RuleSummary {
  name: string;
  arn: string;
  eventBusName: string;
  state: 'ENABLED' | 'DISABLED';
  eventPattern: object;
  targets: { id: string; arn: string }[];
  metrics: RuleMetrics;
}

interface PutEventsEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  Resources?: string[];
  EventBusName?: string;
  Time?: number | string;
}

export class EventsService implements ServiceHandler, EventBus {
  readonly services = ['events'] as const;
  private readonly clock: Clock;
  private readonly invoke: TargetInvoker;
  private readonly rules = new Map<string, Rule>();

  /** The account and region of this EventBridge (local/org/partitions.ts). */
  private readonly partition: Partition;
  private readonly otherBuses?: OtherBuses;

  constructor(opts: { clock: Clock; invoke: TargetInvoker; partition?: Partition; otherBuses?: OtherBuses }) {
    this.clock = opts.clock;
    this.invoke = opts.invoke;
    this.partition = opts.partition ?? HUB;
    this.otherBuses = opts.otherBuses;
  }

  addRule(def: RuleDefinition): void {
    const problems = patternProblems(def.eventPattern);
    if (problems.length) throw new Error(`rule ${def.name}: invalid event pattern: ${problems.join('; ')}`);
    for (const t of def.targets) {
      if ([t.input, t.inputPath, t.inputTransformer].filter((x) => x !== undefined).length > 1) {
        throw new Error(`rule ${def.name} target ${t.id}: set at most one of input, inputPath and inputTransformer`);
      }
    }
    const eventBusName = def.eventBusName ?? 'default';
    const busPart = eventBusName === 'default' ? '' : `${eventBusName}/`;
    this.rules.set(`${eventBusName}/${def.name}`, {
      name: def.name,
      eventBusName,
      eventPattern: def.eventPattern,
      state: def.state ?? 'ENABLED',
      targets: def.targets,
      arn: `arn:aws:events:${this.partition.region}:${this.partition.account}:rule/${busPart}${def.name}`,
      metrics: { invocations: 0, failedInvocations: 0 },
    });
  }

  listRules(): RuleSummary[] {
    return [...this.rules.values()].map((r) => ({
      name: r.name,
      arn: r.arn,
      eventBusName: r.eventBusName,
      state: r.state,
      eventPattern: r.eventPattern,
      targets: r.targets.map((t) => ({ id: t.id, arn: t.arn })),
      metrics: { ...r.metrics },
    }));
  }

  /** Puts an event on the default bus and resolves once every matching target has been invoked (or failed). */
  async put(event: BusEvent): Promise<void> {
    await this.dispatch('default', this.complete(event));
  }

  /**
   * An event another account or region sent to one of this partition's buses (PutEvents by ARN, a rule's bus target),
   * already admitted by the bus's policy: dispatched as it was sent, its `account` and `region` the source's.
   */
  async receive(bus: string, event: BusEvent): Promise<void> {
    await this.dispatch(bus, event);
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    try {
      const op = req.target?.replace(/^AWSEvents\./, '') ?? '';
      let input: any;
      try {
        input = req.body.length ? JSON.parse(req.body.toString('utf8')) : {};
      } catch {
        throw new AwsError('SerializationException', 'Request body is not valid JSON');
      }
      switch (op) {
        case 'PutEvents':
          return ok(this.putEvents(input.Entries, req.accessKeyId));
        case 'ListRules':
          return ok(this.listRulesApi(input));
        case 'TestEventPattern':
          return ok(this.testEventPattern(input));
        default:
          throw new AwsError('UnknownOperationException', `EventBridge operation '${op}' is not emulated by the opsflow local runtime`);
      }
    } catch (err) {
      const error = err instanceof AwsError ? err : new AwsError('InternalException', (err as Error).message, 500);
      const response = jsonError(error);
      return { ...response, headers: { ...response.headers, 'content-type': 'application/x-amz-json-1.1' } };
    }
  }

  private putEvents(entries: PutEventsEntry[] | undefined, accessKeyId: string) {
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > 10) {
      throw new AwsError('ValidationException', 'Entries must contain between 1 and 10 entries');
    }
    // Another account's or region's bus, named by ARN: its policy decides before any entry is sent. Refused as the
    // IAM denial of the whole call (the stricter reading: AWS's pages do not say; README "Unconfirmed behaviours").
    const elsewhere = new Map<string, EventsService>();
    for (const arn of new Set(entries.map((e) => e.EventBusName).filter((n): n is string => !!n?.startsWith('arn:')))) {
      const bus = parseBusArn(arn);
      if (!bus || (bus.account === this.partition.account && bus.region === this.partition.region)) continue;
      const there = this.otherBuses?.at(bus);
      if (!there) throw new AwsError('ResourceNotFoundException', `Event bus ${bus.name} does not exist.`);
      const refused = this.otherBuses!.refusal(accessKeyId, arn);
      if (refused) throw new AwsError('AccessDeniedException', refused);
      elsewhere.set(arn, there);
    }
    const results = entries.map((entry) => {
      const missing = (['Source', 'DetailType', 'Detail'] as const).filter((k) => !entry[k]);
      if (missing.length) return { ErrorCode: 'InvalidArgument', ErrorMessage: `Parameter(s) ${missing.join(', ')} must be specified.` };
      let detail: unknown;
      try {
        detail = JSON.parse(entry.Detail!);
      } catch {
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
      }
      if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed: it must be a JSON object.' };
      }
      const event = this.complete({
        source: entry.Source!,
        'detail-type': entry.DetailType!,
        resources: entry.Resources ?? [],
        detail: detail as Record<string, unknown>,
        time: entry.Time === undefined ? undefined : isoSeconds(typeof entry.Time === 'number' ? entry.Time * 1000 : Date.parse(entry.Time)),
      });
      // Like AWS, PutEvents answers once the event is accepted; delivery happens afterwards.
      const there = entry.EventBusName ? elsewhere.get(entry.EventBusName) : undefined;
      void (there ? there.receive(busName(entry.EventBusName), event) : this.dispatch(busName(entry.EventBusName), event));
      return { EventId: event.id };
    });
    return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
  }

  private listRulesApi(input: { NamePrefix?: string; EventBusName?: string }) {
    const bus = busName(input.EventBusName);
    const rules = [...this.rules.values()].filter((r) => r.eventBusName === bus && r.name.startsWith(input.NamePrefix ?? ''));
    return {
      Rules: rules.map((r) => ({ Name: r.name, Arn: r.arn, EventPattern: JSON.stringify(r.eventPattern), State: r.state, EventBusName: r.eventBusName })),
    };
  }

  private testEventPattern(input: { EventPattern?: string; Event?: string }) {
    let pattern: unknown;
    let event: unknown;
    try {
      pattern = JSON.parse(input.EventPattern ?? '');
      event = JSON.parse(input.Event ?? '');
    } catch {
      throw new AwsError('InvalidEventPatternException', 'EventPattern and Event must be JSON text');
    }
    const problems = patternProblems(pattern);
    if (problems.length) throw new AwsError('InvalidEventPatternException', `Event pattern is not valid: ${problems.join('; ')}`);
    return { Result: matches(pattern, event as object) };
  }

  private complete(event: BusEvent): BusEvent {
    return {
      version: '0',
      id: randomUUID(),
      account: this.partition.account,
      region: this.partition.region,
      time: isoSeconds(this.clock.nowMs()),
      resources: [],
      ...stripUndefined(event),
    };
  }

  private async dispatch(bus: string, event: BusEvent): Promise<void> {
    const deliveries: Promise<void>[] = [];
    for (const rule of this.rules.values()) {
      if (rule.eventBusName !== bus || rule.state !== 'ENABLED') continue;
      let matched: boolean;
      try {
        matched = matches(rule.eventPattern, event);
      } catch (err) {
        console.error(`events: rule ${rule.name} pattern failed: ${(err as Error).message}`);
        continue;
      }
      if (!matched) continue;
      for (const target of rule.targets) deliveries.push(this.deliver(rule, target, event));
    }
    await Promise.all(deliveries);
  }

  private async deliver(rule: Rule, target: RuleTarget, event: BusEvent): Promise<void> {
    rule.metrics.invocations++;
    try {
      await this.invoke({
        arn: target.arn,
        input: renderInput(rule, target, event),
        roleArn: target.roleArn,
        source: { service: 'events.amazonaws.com', arn: rule.arn },
      });
    } catch (err) {
      rule.metrics.failedInvocations++;
      console.error(`events: rule ${rule.name} target ${target.id} (${target.arn}) failed: ${(err as Error).message}`);
    }
  }
}

/** The buses of the organization's other accounts and regions (local/org/event-buses.ts), for PutEvents by ARN. */
export interface OtherBuses {
  /** The EventBridge of that account and region, if the runtime simulates it. */
  at(partition: Partition): EventsService | undefined;
  /** Why the bus refuses the caller's events (its resource policy), or undefined. */
  refusal(accessKeyId: string, busArn: string): string | undefined;
}

function renderInput(rule: Rule, target: RuleTarget, event: BusEvent): string {
  if (target.input !== undefined) return target.input;
  if (target.inputPath !== undefined) return JSON.stringify(selectPath(event, target.inputPath) ?? null);
  if (target.inputTransformer) return transformInput(event, target.inputTransformer, { ruleName: rule.name, ruleArn: rule.arn });
  return JSON.stringify(event);
}

/** EventBusName may be a name or an ARN (`arn:aws:events:...:event-bus/name`). */
function busName(nameOrArn: string | undefined): string {
  if (!nameOrArn) return 'default';
  return nameOrArn.startsWith('arn:') ? nameOrArn.slice(nameOrArn.indexOf('event-bus/') + 'event-bus/'.length) : nameOrArn;
}

/** EventBridge event times have second precision: 2024-01-01T00:00:00Z. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function ok(body: unknown): AwsResponse {
  return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(body) };
}
