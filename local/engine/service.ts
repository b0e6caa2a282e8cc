/**
 * The local Step Functions: state machines (registry.ts) and activities, executions run by the interpreter
 * (interpreter.ts, states/) with the dispatcher behind every Task, Distributed Map runs (distributed.ts), their
 * history, persistence in the state directory's stores ('sfn.*'), status-change events on the bus, and
 * the AWSStepFunctions JSON 1.0 API.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  ACCOUNT,
  AwsError,
  REGION,
  arn,
  type AwsRequest,
  type AwsResponse,
  type Clock,
  type EventBus,
  type ServiceHandler,
  type StateDir,
  type Store,
  type TaskIam,
} from '../kernel';
import { jsonError } from '../wire/errors';
import { stepFunctionsCall, trailDate } from '../services/cloudtrail';
import type { Caller, TrailRecord, UserIdentity } from '../services/fleet';
import { authorizedS3 } from '../services/s3';
import { Dispatcher, type ChildDescription } from './dispatch';
import { ABORTED, StatesError } from './errors';
import { Interpreter } from './interpreter';
import { Variables } from './variables';
import { History, historyPage, page, type HistoryEvent } from './history';
import { runDistributedMap, type ChildResult, type MapRunRecord, type S3Access } from './distributed';
import { Registry, type RegistrySnapshot, type Resolved } from './registry';
import { testState } from './test-state';
import { TaskTokens } from './tokens';

export interface StepFunctionsDeps {
  clock: Clock;
  state: StateDir;
  bus: EventBus;
  /** Rejects with an Error carrying errorType/errorMessage/trace when the function fails. */
  invokeLambda: (functionArn: string, payload: unknown) => Promise<unknown>;
  /** The local AWS endpoint, for SDK integrations. */
  endpoint: () => string;
  /** The runtime's S3, for Distributed Map's ItemReader and ResultWriter. */
  s3?: S3Access;
  /** IAM: the execution role's credentials and authorization of the calls the engine makes itself. */
  iam?: TaskIam;
  /** Fault injection: true when the next activity task is to be taken by a worker that dies at once. */
  crashActivityWorker?: () => boolean;
  /** AWS's quotas the engine enforces (state output bytes, history events); unset: not enforced. */
  limits?: { payloadBytes: number; historyEvents: number };
  /**
   * CloudTrail: every StartExecution is recorded with its caller (local/services/cloudtrail.ts). `identity` says who
   * an access key is; `record` appends to the account's event history. Unset: nothing is recorded.
   */
  trail?: { identity(accessKeyId: string, invokedBy?: string): UserIdentity; record(r: TrailRecord): void };
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** An execution as the runtime keeps it; dates are epoch ms. */
export interface ExecutionDescription extends ChildDescription {
  status: ExecutionStatus;
}

interface ExecutionRecord extends ExecutionDescription {
  roleArn?: string;
  events: HistoryEvent[];
  /** The machine revision it runs (DescribeStateMachineForExecution, redrive). */
  revisionId?: string;
  stateMachineVersionArn?: string;
  stateMachineAliasArn?: string;
  redriveCount?: number;
  redriveDate?: number;
  /** The top-level state that did not succeed and its input: where RedriveExecution starts again. */
  redriveFrom?: RedriveFrom;
  /** A Distributed Map child: the Map Run it belongs to. */
  mapRunArn?: string;
  /** An EXPRESS execution: not persisted, no history through the API (see EXPRESS below). */
  express?: boolean;
}

interface ActivityRecord {
  arn: string;
  name: string;
  creationDate: number;
}

interface Running {
  record: ExecutionRecord;
  controller: AbortController;
  cancelTimeout?: () => void;
  waiters: ((d: ExecutionDescription) => void)[];
  interpreter?: Interpreter;
}

/**
 * Where RedriveExecution starts again: the top-level state that did not succeed, its input, the variables as they
 * were when it was entered ("Step Functions preserves the results ... of the successful steps":
 * https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html), and, for an inline Map or
 * Parallel, the iterations or branches that succeeded with their results (only the others run again).
 */
interface RedriveFrom {
  state: string;
  input: unknown;
  variables?: Record<string, unknown>;
  succeeded?: Record<string, unknown>;
}

/** An execution as its store keeps it: everything but the history, which has a store of its own. */
type ExecutionMeta = Omit<ExecutionRecord, 'events'>;

type Outcome = { status: Exclude<ExecutionStatus, 'RUNNING'>; output?: string; error?: string; cause?: string; after?: number };

/**
 * Closed executions are kept 90 days, then removed, as AWS does ("Execution history retention time: 90 days
 * after an execution is closed"): https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
 */
export const CLOSED_EXECUTION_RETENTION_MS = 90 * 24 * 3600 * 1000;
/**
 * EXPRESS: "Maximum duration: 5 minutes" (https://docs.aws.amazon.com/step-functions/latest/dg/choosing-workflow-type.html);
 * "Execution history is not captured by Step Functions" and "Idempotency is not automatically managed. Starting
 * multiple workflows with the same name results in concurrent executions"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/express-at-least-once-execution.html).
 */
export const EXPRESS_MAX_SECONDS = 5 * 60;
/** Finished EXPRESS executions kept in memory (for waiters and the console); they are never persisted. */
const EXPRESS_KEPT = 1000;
export const RESTART_ERROR = 'Local.RuntimeRestarted';
export const RESTART_CAUSE = 'The opsflow local runtime stopped while this execution was running; it was not resumed.';
const EXECUTION_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/;

export class StepFunctionsService implements ServiceHandler {
  readonly services = ['states'] as const;
  private readonly registry: Registry;
  private readonly mapRuns = new Map<string, MapRunRecord>();
  private readonly activities = new Map<string, ActivityRecord>();
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly running = new Map<string, Running>();
  private readonly tokens: TaskTokens;
  private readonly dispatcher: Dispatcher;
  private readonly pollSignals = new Map<string, AbortSignal>();
  private readonly stored: {
    executions: Store<ExecutionMeta>;
    history: Store<HistoryEvent>;
    activities: Store<ActivityRecord>;
    tokens: Store<1>;
    registry: Store<RegistrySnapshot>;
    mapRuns: Store<MapRunRecord>;
  };
  private registryDirty = false;
  /** How many of each execution's events are in the history store. */
  private readonly savedEvents = new Map<string, number>();
  /** Closed executions, oldest stop first, for the retention sweep. */
  private closedOrder: ExecutionRecord[] = [];
  /** Finished EXPRESS executions, oldest first. */
  private expressClosed: string[] = [];
  private closed = false;

  constructor(private readonly deps: StepFunctionsDeps) {
    this.stored = {
      executions: deps.state.store('sfn.executions'),
      history: deps.state.store('sfn.history'),
      activities: deps.state.store('sfn.activities'),
      tokens: deps.state.store('sfn.tokens'),
      registry: deps.state.store('sfn.registry'),
      mapRuns: deps.state.store('sfn.mapRuns'),
    };
    this.tokens = new TaskTokens(
      deps.clock,
      {
        issued: (token) => this.stored.tokens.put(token, 1),
        forgotten: (token) => void this.stored.tokens.delete(token),
      },
      deps.crashActivityWorker,
    );
    // API-created state machines change rarely (control plane): the registry is one record, written once per turn.
    this.registry = new Registry(deps.clock, () => {
      if (this.registryDirty) return;
      this.registryDirty = true;
      queueMicrotask(() => {
        this.registryDirty = false;
        this.stored.registry.put('snapshot', this.registry.snapshot());
      });
    });
    this.dispatcher = new Dispatcher({
      clock: deps.clock,
      tokens: this.tokens,
      endpoint: deps.endpoint,
      invokeLambda: deps.invokeLambda,
      iam: deps.iam,
      activityExists: (activityArn) => this.activities.has(activityArn),
      children: {
        // A .sync or fire-and-forget child is started by Step Functions with the parent's execution role.
        start: (smArn, input, name, parentArn) => this.startExecution(smArn, input, name, this.roleCaller(parentArn)),
        waitFor: (executionArn) => this.waitForExecution(executionArn),
        stop: (executionArn, error, cause) => void this.stopExecution(executionArn, error, cause),
      },
    });
    for (const meta of this.stored.executions.values()) this.executions.set(meta.executionArn, { ...meta, events: [] });
    for (const [key, event] of this.stored.history.entries()) {
      const record = this.executions.get(key.slice(0, key.lastIndexOf('#')));
      if (record) record.events.push(event);
      // An event whose execution is gone was left by a retention sweep cut short.
      else this.stored.history.delete(key);
    }
    for (const record of this.executions.values()) {
      record.events.sort((a, b) => a.id - b.id);
      this.savedEvents.set(record.executionArn, record.events.length);
    }
    this.closedOrder = [...this.executions.values()].filter((e) => e.status !== 'RUNNING').sort((a, b) => (a.stopDate ?? 0) - (b.stopDate ?? 0));
    for (const a of this.stored.activities.values()) this.activities.set(a.arn, a);
    this.tokens.restore(this.stored.tokens.keys());
    this.registry.restore(this.stored.registry.get('snapshot'));
    for (const run of this.stored.mapRuns.values()) this.mapRuns.set(run.mapRunArn, run);
  }

  // ---- deployment -------------------------------------------------------------------------------------

  /** Throws (DefinitionRefusedError) for definitions the runtime refuses or asl-validator rejects. */
  deployStateMachine(sm: { arn: string; name: string; definition: object; roleArn: string; type?: string }): void {
    this.registry.deploy(sm);
  }

  deployActivity(activity: { arn: string; name: string }): void {
    if (this.activities.has(activity.arn)) return;
    const record = { ...activity, creationDate: this.deps.clock.nowMs() };
    this.activities.set(activity.arn, record);
    this.stored.activities.put(record.arn, record);
  }

  /** Call once at startup: executions a previous process left RUNNING are failed, never silently lost. */
  async recover(): Promise<void> {
    for (const record of this.executions.values()) {
      if (record.status !== 'RUNNING' || this.running.has(record.executionArn)) continue;
      this.finish(record, { status: 'FAILED', error: RESTART_ERROR, cause: RESTART_CAUSE });
    }
    this.sweep();
    await this.deps.state.commit();
  }

  // ---- executions -------------------------------------------------------------------------------------

  /** The caller of a call a parent execution's task makes: its role's session, on behalf of Step Functions. */
  private roleCaller(parentArn: string): Caller | undefined {
    const key = this.deps.iam?.credentials(parentArn)?.accessKeyId;
    return key && this.deps.trail ? { identity: this.deps.trail.identity(key, 'states.amazonaws.com') } : undefined;
  }

  /** `caller`: who called, for CloudTrail's StartExecution record (none: not recorded). */
  async startExecution(stateMachineArn: string, input?: string, name?: string, caller?: Caller): Promise<{ executionArn: string; startDate: number }> {
    const started = await this.start(stateMachineArn, input, name);
    if (caller && this.deps.trail) {
      this.deps.trail.record(
        stepFunctionsCall(
          'StartExecution',
          caller,
          this.deps.clock.nowMs(),
          { stateMachineArn, ...(name !== undefined && { name }), input: input ?? '{}' },
          { executionArn: started.executionArn, startDate: trailDate(started.startDate) },
        ),
      );
    }
    return started;
  }

  private async start(stateMachineArn: string, input?: string, name?: string): Promise<{ executionArn: string; startDate: number }> {
    const target = this.registry.resolve(stateMachineArn);
    const sm = target.machine;
    const roleArn = target.revision.roleArn;
    const inputText = input ?? '{}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(inputText);
    } catch {
      throw new AwsError('InvalidExecutionInput', 'Invalid State Machine Execution Input: input is not valid JSON');
    }
    const executionName = name ?? randomUUID();
    if (!EXECUTION_NAME.test(executionName)) throw new AwsError('InvalidName', `Invalid Name: '${executionName}'`);
    const express = sm.type === 'EXPRESS';
    // An EXPRESS execution's ARN carries a unique id: the same name starts another, concurrent execution.
    const executionArn = express
      ? `arn:aws:states:${REGION}:${ACCOUNT}:express:${sm.name}:${executionName}:${randomUUID()}`
      : arn.execution(sm.name, executionName);
    const existing = this.executions.get(executionArn);
    if (existing) {
      // AWS: same name and input while still running returns the running execution; anything else is a conflict.
      if (existing.status === 'RUNNING' && existing.input === inputText) return { executionArn, startDate: existing.startDate };
      throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: sm.arn,
      name: executionName,
      status: 'RUNNING',
      startDate: this.deps.clock.nowMs(),
      input: inputText,
      roleArn,
      events: [],
      revisionId: target.revision.revisionId,
      ...(target.versionArn ? { stateMachineVersionArn: target.versionArn } : {}),
      ...(target.aliasArn ? { stateMachineAliasArn: target.aliasArn } : {}),
      ...(express ? { express: true } : {}),
    };
    this.executions.set(executionArn, record);
    new History(record.events, this.deps.clock).add('ExecutionStarted', {
      input: inputText,
      inputDetails: { truncated: false },
      roleArn,
      ...(target.versionArn ? { stateMachineVersionArn: target.versionArn } : {}),
      ...(target.aliasArn ? { stateMachineAliasArn: target.aliasArn } : {}),
    });
    this.save(record, true);
    this.launch(record, target, parsed);
    this.statusChanged(record);
    this.sweep();
    return { executionArn, startDate: record.startDate };
  }

  describeExecution(executionArn: string): ExecutionDescription {
    const record = this.executions.get(executionArn);
    if (!record) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return describe(record);
  }

  /** Newest first, as AWS lists them. */
  listExecutions(stateMachineArn?: string): ExecutionDescription[] {
    return [...this.executions.values()]
      .filter((e) => !stateMachineArn || e.stateMachineArn === stateMachineArn)
      .sort((a, b) => b.startDate - a.startDate)
      .map(describe);
  }

  history(executionArn: string): HistoryEvent[] {
    const record = this.executions.get(executionArn);
    if (!record) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return record.events;
  }

  /** Resolves with the final description once the execution ends (at once if it already has). */
  waitForExecution(executionArn: string): Promise<ExecutionDescription> {
    const description = this.describeExecution(executionArn);
    const running = this.running.get(executionArn);
    if (!running) return Promise.resolve(description);
    return new Promise((resolve) => running.waiters.push(resolve));
  }

  async stopExecution(executionArn: string, error?: string, cause?: string): Promise<{ stopDate: number }> {
    const record = this.executions.get(executionArn);
    if (!record) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    if (record.status === 'RUNNING') {
      // The states still running leave *StateAborted events; ExecutionAborted follows the last of them.
      const after = this.running.get(executionArn)?.interpreter?.abortRunning();
      this.finish(record, { status: 'ABORTED', error, cause, after });
    }
    return { stopDate: record.stopDate ?? this.deps.clock.nowMs() };
  }

  activeCount(): number {
    return this.running.size;
  }

  /** GetActivityTask long polls waiting on an activity. */
  activityPollers(activityArn: string): number {
    return this.tokens.waiting(activityArn);
  }

  /**
   * GetActivityTask long polls; AwsRequest carries no connection, so the service learns about clients that
   * went away from the HTTP server itself, keyed by the SDK's per-request `amz-sdk-invocation-id` header.
   */
  watchDisconnects(server: Server): void {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const id = req.headers['amz-sdk-invocation-id'];
      if (typeof id !== 'string' || req.headers['x-amz-target'] !== 'AWSStepFunctions.GetActivityTask') return;
      const controller = new AbortController();
      this.pollSignals.set(id, controller.signal);
      res.once('close', () => {
        if (!res.writableFinished) controller.abort();
        if (this.pollSignals.get(id) === controller.signal) this.pollSignals.delete(id);
      });
    });
  }

  /** Stops timers and long polls and persists; executions still running stay RUNNING on disk for recover(). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const running of this.running.values()) {
      running.cancelTimeout?.();
      running.controller.abort(ABORTED);
      // Nothing will finish these executions in this process; waiters get them as they stand.
      for (const resolve of running.waiters) resolve(describe(running.record));
    }
    this.tokens.close();
  }

  private launch(record: ExecutionRecord, target: Resolved, input: unknown, from?: RedriveFrom): void {
    const sm = target.machine;
    const prepared = target.prepared;
    const history = new History(record.events, this.deps.clock);
    const running: Running = { record, controller: new AbortController(), waiters: [] };
    this.running.set(record.executionArn, running);
    const signal = running.controller.signal;
    const interpreter = new Interpreter({
      clock: this.deps.clock,
      signal,
      executionArn: record.executionArn,
      record: (type, details, previousEventId) => {
        if (record.status !== 'RUNNING' || this.closed) return history.lastId();
        // "Maximum execution history size: 25,000 events"
        // (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-state-machine-executions).
        // At 24,999 events the execution waits for the next one: event 25,000 may be ExecutionSucceeded (added by
        // finish), anything else fails the execution instead, ExecutionFailed taking its place
        // (https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html). AWS documents no error
        // name or cause for it: both are the runtime's own (README, "How faithful the local runtime is").
        const cap = this.deps.limits?.historyEvents;
        if (cap !== undefined && history.lastId() >= cap - 1) {
          this.finish(record, { status: 'FAILED', error: 'States.Runtime', cause: `The execution reached the maximum number of history events (${cap}).` });
          return history.lastId();
        }
        const id = history.add(type, details, previousEventId);
        this.save(record, false);
        return id;
      },
      task: (port, request) => this.dispatcher.run(port, request),
      payloadLimitBytes: this.deps.limits?.payloadBytes,
      distributedMap: (request) => {
        let mapRun: MapRunRecord | undefined;
        return runDistributedMap(request, {
          // S3 authorizes Distributed Map's reads and writes with the state machine's role.
          s3:
            this.deps.s3 && this.deps.iam
              ? authorizedS3(this.deps.s3, (action, resource) => this.deps.iam!.authorize(record.executionArn, action, resource))
              : this.deps.s3,
          now: () => this.deps.clock.nowMs(),
          parent: { executionArn: record.executionArn, stateMachineArn: sm.arn, stateMachineName: sm.name },
          runChild: (childInput, childStateMachineArn, executionArn, mapRunArn, childSignal) =>
            this.runChild(target, request.state, request.language, childInput, childStateMachineArn, executionArn, mapRunArn, childSignal),
          register: (run) => {
            mapRun = run;
            this.mapRuns.set(run.mapRunArn, run);
            this.stored.mapRuns.put(run.mapRunArn, run);
          },
          changed: () => {
            if (mapRun) this.stored.mapRuns.put(mapRun.mapRunArn, mapRun);
          },
          // Resumed by a redrive: the Map Run this Map state started in the failed attempt.
          previous: request.succeeded
            ? [...this.mapRuns.values()]
                .filter(
                  (r) =>
                    r.executionArn === record.executionArn &&
                    r.mapRunArn.includes(
                      `:mapRun:${sm.name}/${typeof request.state.Label === 'string' && request.state.Label ? request.state.Label : request.stateName}:`,
                    ),
                )
                .at(-1)
            : undefined,
        });
      },
      context: {
        Execution: {
          Id: record.executionArn,
          Input: input,
          Name: record.name,
          RoleArn: target.revision.roleArn,
          StartTime: new Date(record.startDate).toISOString(),
          RedriveCount: record.redriveCount ?? 0,
          ...(record.redriveDate !== undefined ? { RedriveTime: new Date(record.redriveDate).toISOString() } : {}),
        },
        StateMachine: { Id: sm.arn, Name: sm.name },
      },
    });
    const timeoutSeconds = record.express ? Math.min(prepared.timeoutSeconds ?? EXPRESS_MAX_SECONDS, EXPRESS_MAX_SECONDS) : prepared.timeoutSeconds;
    if (timeoutSeconds !== undefined) {
      const seconds = timeoutSeconds;
      running.cancelTimeout = this.deps.clock.at((record.redriveDate ?? record.startDate) + seconds * 1000, () =>
        this.finish(record, { status: 'TIMED_OUT', error: 'States.Timeout', cause: `The execution did not finish within TimeoutSeconds (${seconds})` }),
      );
    }
    running.interpreter = interpreter;
    interpreter.onTopLevelState = (state, stateInput, variables) => {
      record.redriveFrom = { state, input: stateInput, variables, succeeded: {} };
    };
    interpreter.onBranchSucceeded = (state, index, result) => {
      if (record.redriveFrom?.state === state) record.redriveFrom.succeeded![index] = result;
    };
    const vars = new Variables();
    if (from?.variables) vars.restore(from.variables);
    interpreter.run(prepared.definition, from ? from.input : input, vars, from ? { last: history.lastId() } : undefined, from?.state, from?.succeeded).then(
      (output) => this.finish(record, { status: 'SUCCEEDED', output: JSON.stringify(output ?? null) }),
      (err: unknown) => {
        if (signal.aborted) return;
        this.finish(record, { status: 'FAILED', ...failure(err) });
      },
    );
  }

  /** Ends an execution (first outcome wins): final event, stop the run, persist, notify. */
  private finish(record: ExecutionRecord, outcome: Outcome): void {
    if (record.status !== 'RUNNING' || this.closed) return;
    const history = new History(record.events, this.deps.clock);
    if (outcome.status === 'SUCCEEDED') history.add('ExecutionSucceeded', { output: outcome.output, outputDetails: { truncated: false } });
    else
      history.add(
        `Execution${{ FAILED: 'Failed', TIMED_OUT: 'TimedOut', ABORTED: 'Aborted' }[outcome.status]}`,
        { error: outcome.error, cause: outcome.cause },
        outcome.after,
      );
    Object.assign(record, { status: outcome.status, stopDate: this.deps.clock.nowMs(), output: outcome.output, error: outcome.error, cause: outcome.cause });
    const running = this.running.get(record.executionArn);
    this.running.delete(record.executionArn);
    if (running) {
      running.cancelTimeout?.();
      running.controller.abort(ABORTED);
      for (const resolve of running.waiters) resolve(describe(record));
    }
    if (record.express) {
      this.expressClosed.push(record.executionArn);
      if (this.expressClosed.length > EXPRESS_KEPT) this.executions.delete(this.expressClosed.shift()!);
    } else this.closedOrder.push(record);
    this.save(record, true);
    this.statusChanged(record);
  }

  /**
   * The status-change event, with the fields AWS documents and no others: no error or cause (a consumer reads them
   * from the execution), https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html
   * ("Execution Status Change"). "Only standard workflows emit events to EventBridge" (same page).
   */
  private statusChanged(record: ExecutionRecord): void {
    if (record.express) return;
    this.deps.bus
      .put({
        source: 'aws.states',
        'detail-type': 'Step Functions Execution Status Change',
        resources: [record.executionArn],
        detail: {
          executionArn: record.executionArn,
          stateMachineArn: record.stateMachineArn,
          name: record.name,
          status: record.status,
          startDate: record.startDate,
          stopDate: record.stopDate ?? null,
          input: record.input,
          inputDetails: { included: true },
          output: record.output ?? null,
          outputDetails: record.output === undefined ? null : { included: true },
        },
      })
      // A failing bus must not break the execution that reports to it.
      .catch(() => undefined);
  }

  /** Journals the events added since the last save, and the execution itself when it changed (start, end). */
  private save(record: ExecutionRecord, meta: boolean): void {
    if (record.express) return;
    if (meta) {
      const { events: _events, ...rest } = record;
      this.stored.executions.put(record.executionArn, rest);
    }
    const from = this.savedEvents.get(record.executionArn) ?? 0;
    for (let i = from; i < record.events.length; i++) this.stored.history.put(`${record.executionArn}#${record.events[i].id}`, record.events[i]);
    this.savedEvents.set(record.executionArn, record.events.length);
  }

  /** Removes executions closed longer than the retention period, with their history. */
  private sweep(): void {
    const cutoff = this.deps.clock.nowMs() - CLOSED_EXECUTION_RETENTION_MS;
    let n = 0;
    while (n < this.closedOrder.length && (this.closedOrder[n].stopDate ?? 0) < cutoff) {
      const record = this.closedOrder[n++];
      // Gone already, or redriven (running again: it rejoins the queue when it closes).
      if (this.executions.get(record.executionArn) !== record || record.status === 'RUNNING') continue;
      for (const e of record.events) this.stored.history.delete(`${record.executionArn}#${e.id}`);
      this.stored.executions.delete(record.executionArn);
      this.executions.delete(record.executionArn);
      this.savedEvents.delete(record.executionArn);
    }
    if (n > 0) this.closedOrder = this.closedOrder.slice(n);
  }

  // ---- API --------------------------------------------------------------------------------------------

  async handle(req: AwsRequest): Promise<AwsResponse> {
    try {
      const op = req.target?.startsWith('AWSStepFunctions.') ? req.target.slice('AWSStepFunctions.'.length) : '';
      let body: Record<string, any>;
      try {
        body = req.body.length ? JSON.parse(req.body.toString('utf8')) : {};
      } catch {
        throw new AwsError('SerializationException', 'Request body is not valid JSON');
      }
      const result = await this.operation(op, body, req);
      return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify(result) };
    } catch (err) {
      return jsonError(err instanceof AwsError ? err : new AwsError('InternalFailure', (err as Error).message, 500));
    }
  }

  private async operation(op: string, b: Record<string, any>, req: AwsRequest): Promise<unknown> {
    const secs = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
    switch (op) {
      case 'ListStateMachines': {
        const { items, nextToken } = page(this.registry.list(), b, 'ListStateMachines');
        return { stateMachines: items, nextToken };
      }
      case 'DescribeStateMachine':
        return this.registry.describe(b);
      case 'CreateStateMachine':
        return this.registry.create(b);
      case 'UpdateStateMachine':
        return this.registry.update(b);
      case 'DeleteStateMachine':
        return this.registry.delete(b);
      case 'PublishStateMachineVersion':
        return this.registry.publish(b);
      case 'ListStateMachineVersions': {
        const { items, nextToken } = page(this.registry.listVersions(b), b, `ListStateMachineVersions ${b.stateMachineArn}`);
        return { stateMachineVersions: items, nextToken };
      }
      case 'DeleteStateMachineVersion':
        return this.registry.deleteVersion(b);
      case 'CreateStateMachineAlias':
        return this.registry.createAlias(b);
      case 'DescribeStateMachineAlias':
        return this.registry.describeAlias(b);
      case 'UpdateStateMachineAlias':
        return this.registry.updateAlias(b);
      case 'DeleteStateMachineAlias':
        return this.registry.deleteAlias(b);
      case 'ListStateMachineAliases': {
        const { items, nextToken } = page(this.registry.listAliases(b), b, `ListStateMachineAliases ${b.stateMachineArn}`);
        return { stateMachineAliases: items, nextToken };
      }
      case 'ValidateStateMachineDefinition':
        return Registry.validate(b);
      case 'TestState':
        return testState(b, { clock: this.deps.clock, dispatcher: this.dispatcher });
      case 'DescribeStateMachineForExecution': {
        const record = this.executions.get(notExpress(required(b, 'executionArn')));
        if (!record) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${b.executionArn}'`);
        const machine = this.registry.machine(record.stateMachineArn);
        const revision = (record.revisionId && this.registry.revisionOf(machine.arn, record.revisionId)) || machine.revisions[machine.revisionId];
        return {
          stateMachineArn: machine.arn,
          name: machine.name,
          definition: revision.definition,
          roleArn: revision.roleArn,
          updateDate: secs(revision.date),
          loggingConfiguration: machine.loggingConfiguration ?? { level: 'OFF', includeExecutionData: false },
          tracingConfiguration: machine.tracingConfiguration ?? { enabled: false },
          revisionId: revision.revisionId,
        };
      }
      case 'DescribeMapRun':
        return this.describeMapRun(required(b, 'mapRunArn'));
      case 'ListMapRuns': {
        const executionArn = required(b, 'executionArn');
        if (!this.executions.has(executionArn)) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
        const runs = [...this.mapRuns.values()]
          .filter((r) => r.executionArn === executionArn)
          .map((r) => ({
            executionArn: r.executionArn,
            mapRunArn: r.mapRunArn,
            stateMachineArn: r.stateMachineArn,
            startDate: r.startDate / 1000,
            ...(r.stopDate !== undefined ? { stopDate: r.stopDate / 1000 } : {}),
          }));
        const { items, nextToken } = page(runs, b, `ListMapRuns ${executionArn}`);
        return { mapRuns: items, nextToken };
      }
      case 'RedriveExecution': {
        const { redriveDate } = this.redrive(notExpress(required(b, 'executionArn')));
        return { redriveDate: secs(redriveDate) };
      }
      case 'TagResource':
        this.taggable(required(b, 'resourceArn'));
        this.registry.tag(b.resourceArn, b.tags ?? []);
        return {};
      case 'UntagResource':
        this.taggable(required(b, 'resourceArn'));
        this.registry.untag(b.resourceArn, b.tagKeys);
        return {};
      case 'ListTagsForResource':
        this.taggable(required(b, 'resourceArn'));
        return { tags: this.registry.listTags(b.resourceArn) };
      case 'StartExecution': {
        const caller = this.deps.trail && { identity: this.deps.trail.identity(req.accessKeyId), userAgent: req.headers['user-agent'] };
        const started = await this.startExecution(required(b, 'stateMachineArn'), b.input, b.name, caller);
        return { executionArn: started.executionArn, startDate: secs(started.startDate) };
      }
      case 'StartSyncExecution':
        return this.startSyncExecution(required(b, 'stateMachineArn'), b.input, b.name);
      case 'StopExecution': {
        const { stopDate } = await this.stopExecution(notExpress(required(b, 'executionArn')), b.error, b.cause);
        return { stopDate: secs(stopDate) };
      }
      case 'DescribeExecution': {
        const d = this.describeExecution(notExpress(required(b, 'executionArn')));
        const record = this.executions.get(d.executionArn)!;
        return {
          ...d,
          startDate: secs(d.startDate),
          stopDate: secs(d.stopDate),
          inputDetails: { included: true },
          ...(d.output !== undefined ? { outputDetails: { included: true } } : {}),
          redriveCount: record.redriveCount ?? 0,
          ...(record.redriveDate !== undefined ? { redriveDate: secs(record.redriveDate) } : {}),
          redriveStatus: this.redrivable(record) ? 'REDRIVABLE' : 'NOT_REDRIVABLE',
          ...(this.redrivable(record) ? {} : { redriveStatusReason: redriveReason(record) }),
          ...(record.revisionId ? { stateMachineVersionArn: record.stateMachineVersionArn, stateMachineAliasArn: record.stateMachineAliasArn } : {}),
        };
      }
      case 'ListExecutions': {
        if (b.stateMachineArn && b.mapRunArn)
          throw new AwsError('ValidationException', '1 validation error detected: Only one of stateMachineArn and mapRunArn can be specified');
        if (b.statusFilter && !['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'].includes(b.statusFilter)) {
          throw new AwsError(
            'ValidationException',
            `1 validation error detected: Value '${b.statusFilter}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]`,
          );
        }
        if (b.mapRunArn) {
          this.describeMapRun(b.mapRunArn);
          const children = [...this.executions.values()]
            .filter((e) => e.mapRunArn === b.mapRunArn && (!b.statusFilter || e.status === b.statusFilter))
            .sort((x, y) => y.startDate - x.startDate);
          const { items, nextToken } = page(children, b, `ListExecutions ${b.mapRunArn} ${b.statusFilter ?? ''}`);
          return {
            executions: items.map((e) => ({
              executionArn: e.executionArn,
              stateMachineArn: e.stateMachineArn,
              name: e.name,
              status: e.status,
              startDate: secs(e.startDate),
              stopDate: secs(e.stopDate),
              mapRunArn: e.mapRunArn,
            })),
            nextToken,
          };
        }
        let qualifier: string | undefined;
        if (b.stateMachineArn) {
          const resolved = this.registry.resolve(b.stateMachineArn);
          // "This API action is not supported by EXPRESS state machines": https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html
          if (resolved.machine.type === 'EXPRESS')
            throw new AwsError('StateMachineTypeNotSupported', 'This operation is not supported by this type of state machine');
          qualifier = b.stateMachineArn === resolved.machine.arn ? undefined : b.stateMachineArn;
        }
        const base = b.stateMachineArn ? b.stateMachineArn.replace(/^(arn:[^:]+:states:[^:]+:\d+:stateMachine:[^:]+).*$/, '$1') : undefined;
        const all = this.listExecutions(base)
          .filter((e) => !b.statusFilter || e.status === b.statusFilter)
          .filter(
            (e) =>
              !qualifier ||
              [this.executions.get(e.executionArn)?.stateMachineVersionArn, this.executions.get(e.executionArn)?.stateMachineAliasArn].includes(qualifier),
          )
          .filter((e) => !b.redriveFilter || (b.redriveFilter === 'REDRIVEN') === (this.executions.get(e.executionArn)?.redriveCount ?? 0) > 0);
        const { items, nextToken } = page(all, b, `ListExecutions ${b.stateMachineArn ?? ''} ${b.statusFilter ?? ''} ${b.redriveFilter ?? ''}`);
        return {
          executions: items.map((e) => ({
            executionArn: e.executionArn,
            stateMachineArn: e.stateMachineArn,
            name: e.name,
            status: e.status,
            startDate: secs(e.startDate),
            stopDate: secs(e.stopDate),
          })),
          nextToken,
        };
      }
      case 'GetExecutionHistory':
        return historyPage(this.history(notExpress(required(b, 'executionArn'))), { ...b, executionArn: b.executionArn });
      case 'CreateActivity': {
        const name = required(b, 'name');
        const activityArn = arn.activity(name);
        this.deployActivity({ arn: activityArn, name });
        return { activityArn, creationDate: secs(this.activities.get(activityArn)!.creationDate) };
      }
      case 'ListActivities': {
        const all = [...this.activities.values()].map((a) => ({ activityArn: a.arn, name: a.name, creationDate: secs(a.creationDate) }));
        const { items, nextToken } = page(all, b, 'ListActivities');
        return { activities: items, nextToken };
      }
      case 'DescribeActivity': {
        const a = this.activity(required(b, 'activityArn'));
        return { activityArn: a.arn, name: a.name, creationDate: secs(a.creationDate) };
      }
      case 'GetActivityTask': {
        const a = this.activity(required(b, 'activityArn'));
        const signal = this.pollSignals.get(req.headers['amz-sdk-invocation-id'] ?? '');
        // A function that long-polls waits: it does not hold the clock at real speed meanwhile.
        return (await this.deps.clock.waitFor(req, this.tokens.poll(a.arn, b.workerName, signal))) ?? {};
      }
      case 'SendTaskSuccess': {
        const output = required(b, 'output');
        try {
          JSON.parse(output);
        } catch {
          throw new AwsError('InvalidOutput', 'Invalid output: not valid JSON');
        }
        this.tokens.succeed(required(b, 'taskToken'), output);
        return {};
      }
      case 'SendTaskFailure':
        this.tokens.fail(required(b, 'taskToken'), b.error, b.cause);
        return {};
      case 'SendTaskHeartbeat':
        this.tokens.heartbeat(required(b, 'taskToken'));
        return {};
      default:
        throw new AwsError('UnknownOperationException', `opsflow local Step Functions does not implement '${req.target ?? ''}'`);
    }
  }

  /**
   * StartSyncExecution (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartSyncExecution.html):
   * EXPRESS only ("not available for STANDARD workflows": StateMachineTypeNotSupported); answers once the execution
   * ends, with its status (SUCCEEDED, FAILED or TIMED_OUT), output or error and cause, and 200 even when it failed.
   */
  private async startSyncExecution(stateMachineArn: string, input: string | undefined, name: string | undefined): Promise<Record<string, unknown>> {
    if (this.registry.resolve(stateMachineArn).machine.type !== 'EXPRESS')
      throw new AwsError('StateMachineTypeNotSupported', 'This operation is not supported by this type of state machine');
    const { executionArn } = await this.startExecution(stateMachineArn, input, name);
    const done = await this.waitForExecution(executionArn);
    return {
      executionArn,
      stateMachineArn: done.stateMachineArn,
      name: done.name,
      startDate: done.startDate / 1000,
      stopDate: (done.stopDate ?? this.deps.clock.nowMs()) / 1000,
      status: done.status,
      input: done.input,
      inputDetails: { included: true },
      ...(done.output !== undefined ? { output: done.output, outputDetails: { included: true } } : {}),
      ...(done.error !== undefined ? { error: done.error } : {}),
      ...(done.cause !== undefined ? { cause: done.cause } : {}),
    };
  }

  /** A Distributed Map child execution: the item processor run as an execution of its own, with its own history. */
  private async runChild(
    parent: Resolved,
    mapState: Record<string, any>,
    language: 'JSONPath' | 'JSONata',
    input: unknown,
    childStateMachineArn: string,
    executionArn: string,
    mapRunArn: string,
    signal: AbortSignal,
  ): Promise<ChildResult> {
    const processor = mapState.ItemProcessor ?? mapState.Iterator;
    const definition = { ...processor, QueryLanguage: processor.QueryLanguage ?? language };
    delete definition.ProcessorConfig;
    const inputText = JSON.stringify(input ?? null);
    const name = executionArn.split(':').pop()!;
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: childStateMachineArn,
      name,
      status: 'RUNNING',
      startDate: this.deps.clock.nowMs(),
      input: inputText,
      roleArn: parent.revision.roleArn,
      events: [],
      mapRunArn,
    };
    this.executions.set(executionArn, record);
    new History(record.events, this.deps.clock).add('ExecutionStarted', {
      input: inputText,
      inputDetails: { truncated: false },
      roleArn: parent.revision.roleArn,
    });
    this.save(record, true);
    const target: Resolved = {
      machine: { ...parent.machine, arn: childStateMachineArn, name: childStateMachineArn.split(':stateMachine:')[1] },
      revision: parent.revision,
      prepared: { definition, stateTypes: new Map(), timeoutSeconds: undefined },
    };
    this.launch(record, target, input);
    const stop = () => void this.stopExecution(executionArn, 'States.Aborted', 'The Map Run stopped this execution');
    signal.addEventListener('abort', stop, { once: true });
    const done = await this.waitForExecution(executionArn);
    signal.removeEventListener('abort', stop);
    return done;
  }

  private describeMapRun(mapRunArn: string): Record<string, unknown> {
    const run = this.mapRuns.get(mapRunArn);
    if (!run) throw new AwsError('ResourceNotFound', `Resource not found: '${mapRunArn}'`);
    return {
      ...run,
      startDate: run.startDate / 1000,
      ...(run.stopDate !== undefined ? { stopDate: run.stopDate / 1000 } : {}),
      redriveCount: run.redriveCount ?? 0,
      ...(run.redriveDate !== undefined ? { redriveDate: run.redriveDate / 1000 } : {}),
    };
  }

  /** Tags apply to state machines and activities. */
  private taggable(resourceArn: string): void {
    if (this.activities.has(resourceArn)) return;
    if (/:stateMachine:/.test(resourceArn)) {
      this.registry.machine(resourceArn);
      return;
    }
    throw new AwsError('ResourceNotFound', `Resource not found: '${resourceArn}'`);
  }

  /** https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html: failed, timed out or aborted, within 14 days. */
  private redrivable(record: ExecutionRecord): boolean {
    if (!['FAILED', 'TIMED_OUT', 'ABORTED'].includes(record.status) || !record.redriveFrom || !record.revisionId) return false;
    return this.deps.clock.nowMs() - (record.stopDate ?? 0) <= REDRIVE_WINDOW_MS;
  }

  private redrive(executionArn: string): { redriveDate: number } {
    const record = this.executions.get(executionArn);
    if (!record) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    if (!this.redrivable(record)) throw new AwsError('ExecutionNotRedrivable', `Execution is not redrivable: ${redriveReason(record)}`);
    const machine = this.registry.machine(record.stateMachineArn);
    const revision = this.registry.revisionOf(machine.arn, record.revisionId!);
    if (!revision) throw new AwsError('ExecutionNotRedrivable', 'Execution is not redrivable: its state machine revision is no longer available');
    const now = this.deps.clock.nowMs();
    Object.assign(record, {
      status: 'RUNNING',
      redriveCount: (record.redriveCount ?? 0) + 1,
      redriveDate: now,
      stopDate: undefined,
      output: undefined,
      error: undefined,
      cause: undefined,
    });
    new History(record.events, this.deps.clock).add('ExecutionRedriven', { redriveCount: record.redriveCount });
    const target: Resolved = { machine, revision, prepared: this.registry.preparedOf(revision) };
    this.launch(record, target, JSON.parse(record.input), record.redriveFrom);
    this.save(record, true);
    this.statusChanged(record);
    return { redriveDate: now };
  }

  private activity(activityArn: string): ActivityRecord {
    const a = this.activities.get(activityArn);
    if (!a) throw new AwsError('ActivityDoesNotExist', `Activity Does Not Exist: '${activityArn}'`);
    return a;
  }
}

const REDRIVE_WINDOW_MS = 14 * 24 * 3600 * 1000;

function redriveReason(record: ExecutionRecord): string {
  if (record.status === 'RUNNING') return 'Execution is RUNNING and cannot be redriven';
  if (record.status === 'SUCCEEDED') return 'Execution is SUCCEEDED and cannot be redriven';
  if (!record.redriveFrom) return 'Execution has no state to redrive from';
  return 'Execution can no longer be redriven';
}

/**
 * DescribeExecution, GetExecutionHistory, StopExecution, RedriveExecution and DescribeStateMachineForExecution
 * are "not supported by EXPRESS state machines" (each operation's page in the API reference); AWS names no error
 * for it, and the runtime answers InvalidArn, an error each of them documents (see DIVERGENCES.md).
 */
function notExpress(executionArn: string): string {
  if (/^arn:aws[\w-]*:states:[^:]*:\d*:express:/.test(executionArn))
    throw new AwsError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: express'`);
  return executionArn;
}

function required(body: Record<string, any>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || !value)
    throw new AwsError('ValidationException', `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
  return value;
}

function describe(record: ExecutionRecord): ExecutionDescription {
  const fields = ['executionArn', 'stateMachineArn', 'name', 'status', 'startDate', 'stopDate', 'input', 'output', 'error', 'cause', 'mapRunArn'] as const;
  return Object.fromEntries(fields.filter((k) => record[k] !== undefined).map((k) => [k, record[k]])) as unknown as ExecutionDescription;
}

/** The execution's error and cause (a Fail state without Error/Cause leaves them out) and the event it follows. */
function failure(err: unknown): { error?: string; cause?: string; after?: number } {
  if (err instanceof StatesError) return { error: err.name || undefined, cause: err.cause, after: err.lastEventId };
  const e = err as Error;
  return { error: 'States.Runtime', cause: e?.message ?? String(err) };
}
