/**
 * The server side of the `/_opsflow/` API (see api.ts): `LocalApi` implements `OpsflowApi` over the runtime's
 * services, and `routeApi` maps HTTP requests onto it. The CLI and the browser console call the same routes.
 */
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { StepFunctionsService } from '../engine';
import { applyFaultPatch, type Faults as RuntimeFaults } from '../faults';
import { AwsError, HUB, type AwsRequest, type AwsResponse, type Clock, type Outbox, type ServiceHandler } from '../kernel';
import {
  API_PREFIX,
  ApiError,
  EXECUTION_STATUSES,
  paths,
  type AslDefinition,
  type ChatClickRequest,
  type ChatClickResult,
  type ChatState,
  type ChatSubmitResult,
  type ChildGroup,
  type Deployed,
  type ExecutionDetail,
  type ExecutionPage,
  type ExecutionQuery,
  type ExecutionStatus,
  type ExecutionSummary,
  type Faults,
  type FleetFilter,
  type FleetInstance,
  type Health,
  type HistoryEvent,
  type OpsflowApi,
  type OutboxMessage,
  type RecordView,
  type Schedule,
  type StartRequest,
  type StartResult,
  type StateRun,
  type WaitingGroup,
  type Workflow,
} from './api';
import { mergeRuns, stateRuns } from './app/status';
import { ChatError, type ChatServer } from '../services/chat/server';
import { recordView, waitingItem, type ExecutionFacts, type RecordPanel } from './records';

/** What the API reads from the runtime; a structural view so this module does not import the Runtime class. */
export interface ApiDeps {
  clock: Clock;
  endpoint: () => string;
  sfn: StepFunctionsService;
  outbox: Outbox;
  /** The local chat server (Slack, Mattermost, Teams). */
  chat?: ChatServer;
  fleet: { list(): readonly unknown[] };
  /** With a simulated organization: every account's fleet in every region (the hub's included); undefined without. */
  fleets?: () => Array<{ account: string; region: string; fleet: { list(): readonly unknown[] } }> | undefined;
  scheduler: { list(): Schedule[]; fire(name: string): Promise<void> };
  faults: RuntimeFaults;
  deployed: Deployed;
  dynamodb: ServiceHandler;
  /** The record panels the app's tables declare (README "Record panels"), filled as the template is deployed. */
  recordPanels: readonly RecordPanel[];
  /** Deployed definitions by state machine ARN. */
  definitions: ReadonlyMap<string, object>;
  /** The state directory's write health. */
  storage?: () => NonNullable<Health['storage']>;
  /** Whether the app is deployed; until then health answers 'deploying' (503). @default true */
  ready?: () => boolean;
}

const PAGE_DEFAULT = 50;
const PAGE_MAX = 1000;
/** Child executions listed per group; the group's counts cover all of them. */
const CHILDREN_SHOWN = 100;
/** State runs of finished Map Run children kept computed (their history no longer changes). */
const CHILD_RUNS_CACHED = 20_000;

/** DescribeExecution's fields; a Distributed Map child's also carry its Map Run (local/engine describe()). */
type Description = ReturnType<StepFunctionsService['describeExecution']> & { mapRunArn?: string };

export class LocalApi implements OpsflowApi {
  private readonly childRuns = new Map<string, Map<string, StateRun>>();

  constructor(private readonly deps: ApiDeps) {}

  async health(): Promise<Health> {
    const d = this.deps;
    const storage = d.storage?.();
    return {
      status: d.ready && !d.ready() ? 'deploying' : storage && !storage.ok ? 'failing' : 'ready',
      endpoint: d.endpoint(),
      timeScale: d.clock.scale,
      now: d.clock.now().toISOString(),
      stateMachines: d.deployed.stateMachines.map((s) => s.name),
      workflows: d.deployed.stateMachines.map((s) => this.workflowOf(s.arn)),
      running: d.sfn.activeCount(),
      ...(storage && { storage }),
    };
  }

  async deployed(): Promise<Deployed> {
    return this.deps.deployed;
  }

  /** Every deployed state machine, by the name its app declares (README "Local runtime metadata"), with exactly the examples declared for it. */
  async workflows(): Promise<Workflow[]> {
    return Promise.all(
      this.deps.deployed.stateMachines.map(async ({ arn }) => {
        const definition = await this.definition(arn);
        return {
          name: this.workflowOf(arn),
          arn,
          description: typeof definition.Comment === 'string' ? definition.Comment : null,
          examples: this.deps.deployed.workflows.find((w) => w.arn === arn)?.examples ?? [],
          definition,
        };
      }),
    );
  }

  async start(request: StartRequest): Promise<StartResult> {
    if (typeof request?.workflow !== 'string' || typeof request.input !== 'string') {
      throw new ApiError('ValidationException', 'the body must be {"workflow": name or ARN, "input": JSON text, "name"?: string}', 400);
    }
    const arn = this.stateMachineArn(request.workflow);
    const started = await this.deps.sfn.startExecution(arn, request.input, request.name || undefined);
    return { executionArn: started.executionArn, startDate: iso(started.startDate)! };
  }

  async executions(query: ExecutionQuery = {}): Promise<ExecutionPage> {
    const smArn = query.workflow ? this.stateMachineArn(query.workflow) : undefined;
    if (query.status !== undefined && !EXECUTION_STATUSES.includes(query.status)) {
      throw new ApiError('ValidationException', `status must be one of ${EXECUTION_STATUSES.join(', ')}`, 400);
    }
    const offset = Math.max(0, Math.floor(Number(query.offset ?? 0)) || 0);
    const limit = Math.min(PAGE_MAX, Math.max(1, Math.floor(Number(query.limit ?? PAGE_DEFAULT)) || PAGE_DEFAULT));
    const all = this.deps.sfn.listExecutions(smArn);
    const counts = Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, 0])) as Record<ExecutionStatus, number>;
    for (const e of all) counts[e.status] += 1;
    const matching = query.status ? all.filter((e) => e.status === query.status) : all;
    return { items: matching.slice(offset, offset + limit).map((e) => summary(e, this.workflowOf)), offset, limit, total: matching.length, counts };
  }

  async execution(ref: string): Promise<ExecutionDetail> {
    const arn = this.executionArn(ref);
    const d = this.deps.sfn.describeExecution(arn);
    const events = this.deps.sfn.history(arn).map((e) => ({ ...e, timestamp: iso(e.timestamp)! }));
    const definition = await this.definition(d.stateMachineArn);
    return {
      ...summary(d, this.workflowOf),
      stateMachineArn: d.stateMachineArn,
      input: d.input,
      output: d.output ?? null,
      cause: d.cause ?? null,
      definition,
      events,
      records: await this.records(d),
      parent: await this.parentOf(d),
      children: this.children(d, events),
    };
  }

  async waiting(): Promise<WaitingGroup[]> {
    return Promise.all(
      this.deps.recordPanels.map(async (panel) => {
        const open = await this.scan(
          panel.table,
          `#s IN (${panel.openStatuses.map((_, i) => `:o${i}`).join(', ')})`,
          { '#s': panel.statusAttribute },
          Object.fromEntries(panel.openStatuses.map((v, i) => [`:o${i}`, { S: v }])),
        );
        const items = [];
        for (const record of open) {
          const arn = record[panel.executionAttribute];
          const execution = typeof arn === 'string' ? this.facts(arn) : undefined;
          // A record whose execution no longer runs waits on nobody, whatever it says (README "Record panels").
          if (execution?.status !== 'RUNNING') continue;
          items.push({
            executionArn: arn as string,
            execution: execution.name,
            workflow: this.workflowOf(execution.stateMachineArn),
            startDate: iso(execution.startDate)!,
            ...(await waitingItem(panel, record, this.deps.clock.nowMs())),
          });
        }
        items.sort((a, b) => (a.deadline ?? '\uffff').localeCompare(b.deadline ?? '\uffff') || a.startDate.localeCompare(b.startDate));
        return { panel: panel.name, title: panel.waitingTitle, items };
      }),
    );
  }

  async stop(ref: string, reason: { error?: string; cause?: string } = {}): Promise<{ stopDate: string }> {
    const { stopDate } = await this.deps.sfn.stopExecution(this.executionArn(ref), reason.error, reason.cause);
    return { stopDate: iso(stopDate)! };
  }

  /** Mail and notifications, and the chat messages the app posted (text only), oldest first. */
  async outbox(): Promise<OutboxMessage[]> {
    const mail: OutboxMessage[] = this.deps.outbox.list();
    const chat: OutboxMessage[] = (this.deps.chat?.list() ?? []).map((m) => ({
      id: m.id,
      service: 'chat',
      from: m.author,
      to: [`${m.platform} #${m.channel}${m.visibleTo ? ` (to ${m.visibleTo} only)` : ''}`],
      subject: m.lines[0] ?? '',
      text: m.lines.join('\n'),
      links: [...m.buttons.flatMap((b) => (b.url ? [b.url] : [])), ...m.lines.flatMap((l) => l.match(/https?:\/\/[^\s<>|"']+/g) ?? [])],
      sentAt: m.postedAt,
    }));
    return chat.length ? [...mail, ...chat].sort((a, b) => a.sentAt.localeCompare(b.sentAt)) : mail;
  }

  async chat(): Promise<ChatState> {
    const chat = this.chatServer();
    return { messages: chat.list(), views: chat.openViews(), users: chat.users().map((u) => ({ name: u.name, email: u.email })) };
  }

  async chatClick(message: string, request: ChatClickRequest): Promise<ChatClickResult> {
    if (typeof request?.button !== 'string' || typeof request.as !== 'string' || (request.values !== undefined && !isStrings(request.values)))
      throw new ApiError('ValidationException', 'the body must be {"button": id or label, "as": name or email, "values"?: [text, ...]}', 400);
    return this.chatCall(() => this.chatServer().click(message, request.button, request.as, request.values));
  }

  async chatSubmit(view: string, request: { as: string; values: string[] }): Promise<ChatSubmitResult> {
    if (typeof request?.as !== 'string' || !isStrings(request.values))
      throw new ApiError('ValidationException', 'the body must be {"as": name or email, "values": [text, ...]}', 400);
    return this.chatCall(() => this.chatServer().submit(view, request.as, request.values));
  }

  async chatMention(request: { as: string; text: string }): Promise<{ callback: { url: string; status: number }; reply?: string }> {
    if (typeof request?.as !== 'string' || typeof request.text !== 'string' || !request.text.trim())
      throw new ApiError('ValidationException', 'the body must be {"as": name or email, "text": what they say to the app}', 400);
    return this.chatCall(() => this.chatServer().mention(request.as, request.text));
  }

  private chatServer(): ChatServer {
    if (!this.deps.chat) throw new ApiError('NoChatServer', 'this runtime has no local chat server', 404);
    return this.deps.chat;
  }

  /** A chat refusal keeps its name and says what to do. */
  private async chatCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof ChatError) throw new ApiError(err.code, err.message, err.status);
      throw err;
    }
  }

  /** The hub's fleet; with a simulated organization, every partition's, each instance naming its account and region. */
  async fleet(filter: FleetFilter = {}): Promise<FleetInstance[]> {
    const problems = [
      ...(filter.account !== undefined && !/^\d{12}$/.test(filter.account) ? [`account must be twelve digits, got ${JSON.stringify(filter.account)}`] : []),
      ...(filter.region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(filter.region)
        ? [`region must be a region code such as eu-west-1, got ${JSON.stringify(filter.region)}`]
        : []),
    ];
    if (problems.length) throw new ApiError('ValidationException', problems.join('; '), 400);
    const wanted = (p: { account: string; region: string }) =>
      (filter.account === undefined || p.account === filter.account) && (filter.region === undefined || p.region === filter.region);
    const fleets = this.deps.fleets?.();
    if (!fleets) return wanted(HUB) ? (this.deps.fleet.list() as FleetInstance[]) : [];
    return fleets.filter(wanted).flatMap((p) => (p.fleet.list() as FleetInstance[]).map((i) => ({ ...i, account: p.account, region: p.region })));
  }

  async schedules(): Promise<Schedule[]> {
    return this.deps.scheduler.list();
  }

  async fire(schedule: string): Promise<{ fired: string }> {
    try {
      await this.deps.scheduler.fire(schedule);
    } catch (err) {
      throw new ApiError('ScheduleNotFound', (err as Error).message, 404);
    }
    return { fired: schedule };
  }

  async faults(): Promise<Faults> {
    return this.deps.faults;
  }

  async setFaults(patch: Partial<Faults>): Promise<Faults> {
    try {
      return applyFaultPatch(this.deps.faults, patch);
    } catch (err) {
      throw new ApiError('ValidationException', (err as Error).message, 400);
    }
  }

  /** This execution's record in each table with a record panel, read by the attribute the panel names. */
  private async records(d: Description): Promise<RecordView[]> {
    const views: RecordView[] = [];
    for (const panel of this.deps.recordPanels) {
      const [record] = await this.scan(panel.table, '#e = :e', { '#e': panel.executionAttribute }, { ':e': { S: d.executionArn } }, 1);
      if (record) views.push(await recordView(panel, record, d as ExecutionFacts));
    }
    return views;
  }

  /**
   * Items of `table` matching `filter`, every page (a Scan page stops at 1 MB of data read, as on AWS), up to `limit`.
   * Through the runtime's DynamoDB, as the console's own reader (not the app's IAM).
   */
  private async scan(
    table: string,
    filter: string,
    names: Record<string, string>,
    values: Record<string, unknown>,
    limit = Infinity,
  ): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    let start: unknown;
    do {
      const res = await this.deps.dynamodb.handle({
        method: 'POST',
        path: '/',
        query: new URLSearchParams(),
        headers: {},
        service: 'dynamodb',
        accessKeyId: 'opsflow-console',
        target: 'DynamoDB_20120810.Scan',
        body: Buffer.from(
          JSON.stringify({
            TableName: table,
            FilterExpression: filter,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ExclusiveStartKey: start,
          }),
        ),
      });
      if (res.status !== 200) break;
      const page = JSON.parse(res.body.toString()) as { Items?: Record<string, never>[]; LastEvaluatedKey?: unknown };
      for (const item of page.Items ?? []) out.push(unmarshall(item) as Record<string, unknown>);
      start = page.LastEvaluatedKey;
    } while (start && out.length < limit);
    return out;
  }

  private facts(executionArn: string): Description | undefined {
    try {
      return this.deps.sfn.describeExecution(executionArn);
    } catch {
      return undefined;
    }
  }

  /** The execution that started this one: named in its input (associateWithParent), or the Map Run's parent. */
  private async parentOf(d: Description): Promise<string | null> {
    try {
      const started = (JSON.parse(d.input) as Record<string, unknown>)?.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID;
      if (typeof started === 'string') return started;
    } catch {
      // not JSON: no parent named
    }
    if (!d.mapRunArn) return null;
    const res = await this.deps.sfn.handle({
      method: 'POST',
      path: '/',
      query: new URLSearchParams(),
      headers: {},
      service: 'states',
      accessKeyId: 'opsflow-console',
      target: 'AWSStepFunctions.DescribeMapRun',
      body: Buffer.from(JSON.stringify({ mapRunArn: d.mapRunArn })),
    });
    return res.status === 200 ? ((JSON.parse(res.body.toString()) as { executionArn?: string }).executionArn ?? null) : null;
  }

  /**
   * The executions this one started, grouped so that hundreds of them stay one line each: the child executions of
   * each Distributed Map's Map Run (MapRunStarted), with the status of each inner state over all of them, and the
   * executions started by tasks (their ARNs in the task events), by state machine.
   */
  private children(d: Description, events: HistoryEvent[]): ChildGroup[] {
    const groups: ChildGroup[] = [];
    const mapRuns = [
      ...new Set(events.flatMap((e) => (/^MapRun(Started|Redriven)$/.test(e.type) ? [String(detailsOf(e).mapRunArn ?? '')] : [])).filter(Boolean)),
    ];
    if (mapRuns.length) {
      const all: Description[] = this.deps.sfn.listExecutions();
      for (const mapRunArn of mapRuns) {
        const members = all.filter((e) => e.mapRunArn === mapRunArn);
        const label = /:mapRun:[^/]+\/(.+):[^:]+$/.exec(mapRunArn)?.[1] ?? mapRunArn;
        const states = mergeRuns(members.map((m) => this.runsOf(m)));
        groups.push({ ...group('map-run', label, members[0]?.stateMachineArn ?? '', members, this.workflowOf), mapRunArn, states: Object.fromEntries(states) });
      }
    }
    const started = new Set<string>();
    for (const e of events) {
      if (!/^Task(Submitted|Succeeded|Failed)$/.test(e.type)) continue;
      for (const m of JSON.stringify(e).matchAll(/arn:aws:states:[^:"\\]+:\d+:execution:[^"\\\s]+/g)) if (m[0] !== d.executionArn) started.add(m[0]);
    }
    const byMachine = new Map<string, Description[]>();
    for (const arn of started) {
      const child = this.facts(arn);
      if (child) byMachine.set(child.stateMachineArn, [...(byMachine.get(child.stateMachineArn) ?? []), child]);
    }
    for (const [machine, members] of byMachine)
      groups.push({ ...group('started', machine.split(':').pop()!, machine, members, this.workflowOf), mapRunArn: null, states: null });
    return groups;
  }

  /** A child's state runs; computed once for a finished child (its history no longer changes). */
  private runsOf(child: Description): Map<string, StateRun> {
    const cached = this.childRuns.get(child.executionArn);
    if (cached) return cached;
    const runs = stateRuns(
      this.deps.sfn.history(child.executionArn).map((e) => ({ ...e, timestamp: iso(e.timestamp)! })),
      child.status as ExecutionStatus,
    );
    if (child.status !== 'RUNNING') {
      if (this.childRuns.size >= CHILD_RUNS_CACHED) this.childRuns.clear();
      this.childRuns.set(child.executionArn, runs);
    }
    return runs;
  }

  /** From the template; a machine created otherwise (CreateStateMachine, a bench) through DescribeStateMachine. */
  private async definition(stateMachineArn: string): Promise<AslDefinition> {
    const known = this.deps.definitions.get(stateMachineArn);
    if (known) return known as AslDefinition;
    const res = await this.deps.sfn.handle({
      method: 'POST',
      path: '/',
      query: new URLSearchParams(),
      headers: {},
      service: 'states',
      accessKeyId: 'opsflow-console',
      target: 'AWSStepFunctions.DescribeStateMachine',
      body: Buffer.from(JSON.stringify({ stateMachineArn })),
    });
    if (res.status !== 200) throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`, 404);
    return JSON.parse(JSON.parse(res.body.toString()).definition) as AslDefinition;
  }

  private stateMachineArn(ref: string): string {
    const deployed = this.deps.deployed.stateMachines;
    const match = deployed.find((s) => s.name === ref || s.arn === ref) ?? deployed.find((s) => this.workflowOf(s.arn) === ref);
    if (!match)
      throw new ApiError('StateMachineDoesNotExist', `no workflow named '${ref}'; deployed: ${deployed.map((s) => s.name).join(', ') || 'none'}`, 404);
    return match.arn;
  }

  private executionArn(ref: string): string {
    if (ref.startsWith('arn:')) return ref;
    const hits = this.deps.sfn.listExecutions().filter((e) => e.name === ref);
    if (hits.length === 0) throw new ApiError('ExecutionDoesNotExist', `no execution named '${ref}'`, 404);
    if (hits.length > 1)
      throw new ApiError('AmbiguousName', `${hits.length} executions are named '${ref}': use the ARN (${hits.map((h) => h.executionArn).join(', ')})`, 400);
    return hits[0].executionArn;
  }

  /** The name the app declares for the state machine, else the state machine's own name (as for one created by CreateStateMachine). */
  private readonly workflowOf = (stateMachineArn: string): string =>
    this.deps.deployed.workflows.find((w) => w.arn === stateMachineArn)?.name ?? stateMachineArn.split(':').pop()!;
}

type WorkflowOf = (stateMachineArn: string) => string;

function summary(
  d: { executionArn: string; stateMachineArn: string; name: string; status: string; startDate: number; stopDate?: number; error?: string },
  workflowOf: WorkflowOf,
): ExecutionSummary {
  return {
    executionArn: d.executionArn,
    workflow: workflowOf(d.stateMachineArn),
    name: d.name,
    status: d.status as ExecutionStatus,
    startDate: iso(d.startDate)!,
    stopDate: iso(d.stopDate),
    error: d.error ?? null,
  };
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

const STATUS_ORDER: Record<string, number> = { FAILED: 0, TIMED_OUT: 0, ABORTED: 0, RUNNING: 1 };

function group(
  kind: ChildGroup['kind'],
  label: string,
  stateMachineArn: string,
  members: Description[],
  workflowOf: WorkflowOf,
): Omit<ChildGroup, 'mapRunArn' | 'states'> {
  const counts = Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, 0])) as Record<ExecutionStatus, number>;
  for (const m of members) counts[m.status as ExecutionStatus] = (counts[m.status as ExecutionStatus] ?? 0) + 1;
  const order = (m: Description) => STATUS_ORDER[m.status] ?? 2;
  const items = [...members]
    .sort((a, b) => order(a) - order(b) || b.startDate - a.startDate)
    .slice(0, CHILDREN_SHOWN)
    .map((e) => summary(e, workflowOf));
  return { kind, label, stateMachineArn, total: members.length, counts, items };
}

function detailsOf(event: HistoryEvent): Record<string, unknown> {
  for (const [key, value] of Object.entries(event))
    if (key.endsWith('EventDetails') && value && typeof value === 'object') return value as Record<string, unknown>;
  return {};
}

// ---------------------------------------------------------------------------------------------------------
// HTTP routing

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

function json(status: number, body: unknown): AwsResponse {
  return { status, headers: JSON_HEADERS, body: JSON.stringify(body) };
}

/** Answers `/_opsflow/*` requests, or undefined for any other path. */
export async function routeApi(api: LocalApi & OpsflowApi, outboxHtml: (id: string) => AwsResponse, req: AwsRequest): Promise<AwsResponse | undefined> {
  if (req.path !== API_PREFIX && !req.path.startsWith(`${API_PREFIX}/`)) return undefined;
  const body = (): Record<string, unknown> => {
    const text = req.body.toString('utf8');
    if (!text) return {};
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError('SerializationException', 'the request body is not valid JSON', 400);
    }
  };
  const q = (name: string) => req.query.get(name) ?? undefined;
  let segments: string[];
  try {
    segments = req.path
      .slice(API_PREFIX.length + 1)
      .split('/')
      .map(decodeURIComponent);
  } catch {
    // decodeURIComponent throws URIError on `%` not followed by two hex digits or on bytes that are not UTF-8.
    return json(400, {
      error: 'BadRequest',
      message: `the path ${JSON.stringify(req.path)} has a malformed percent-encoding (RFC 3986: % and two hex digits, UTF-8)`,
    });
  }
  const route = `${req.method} ${segments.map((s, i) => (i === 1 && ['executions', 'outbox', 'schedules', 'chat', 'chat-views'].includes(segments[0]) ? ':ref' : s)).join('/')}`;
  const ref = segments[1];
  try {
    switch (route) {
      case 'GET health': {
        // 503 until the app is deployed (a deploy check may still refuse it), and while writes fail.
        const health = await api.health();
        return json(health.status === 'ready' ? 200 : 503, health);
      }
      case 'GET deployed':
        return json(200, await api.deployed());
      case 'GET workflows':
        return json(200, await api.workflows());
      case 'POST executions':
        return json(200, await api.start(body() as unknown as StartRequest));
      case 'GET executions':
        return json(
          200,
          await api.executions({
            workflow: q('workflow'),
            status: q('status') as ExecutionStatus | undefined,
            offset: num(q('offset')),
            limit: num(q('limit')),
          }),
        );
      case 'GET executions/:ref':
        return json(200, await api.execution(ref));
      case 'GET waiting':
        return json(200, await api.waiting());
      case 'POST executions/:ref/stop':
        return json(200, await api.stop(ref, body() as { error?: string; cause?: string }));
      case 'GET outbox':
        return json(200, await api.outbox());
      case 'GET outbox/:ref/html':
        return outboxHtml(ref);
      case 'GET chat':
        return json(200, await api.chat());
      case 'POST chat/:ref/click':
        return json(200, await api.chatClick(ref, body() as unknown as ChatClickRequest));
      case 'POST chat-views/:ref/submit':
        return json(200, await api.chatSubmit(ref, body() as unknown as { as: string; values: string[] }));
      case 'POST chat-mention':
        return json(200, await api.chatMention(body() as unknown as { as: string; text: string }));
      case 'GET fleet':
        return json(200, await api.fleet({ account: q('account'), region: q('region') }));
      case 'GET schedules':
        return json(200, await api.schedules());
      case 'POST schedules/:ref/fire':
        return json(200, await api.fire(ref));
      case 'GET faults':
        return json(200, await api.faults());
      case 'POST faults':
        return json(200, await api.setFaults(body() as Partial<Faults>));
    }
    const known = Object.keys(paths).join(', ');
    return json(404, { error: 'NotFound', message: `no /_opsflow/ route ${req.method} ${req.path}; the API has: ${known} (see local/console/api.ts)` });
  } catch (err) {
    if (err instanceof ApiError) return json(err.status, { error: err.error, message: err.message });
    if (err instanceof AwsError) return json(err.status, { error: err.code, message: err.message });
    return json(500, { error: 'InternalFailure', message: (err as Error).message });
  }
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function num(v: string | undefined): number | undefined {
  return v === undefined ? undefined : Number(v);
}
