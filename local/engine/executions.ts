/**
 * The execution lifecycle of the local Step Functions: starting an execution (StartExecution, a task's child, a
 * Distributed Map's child), running it through the interpreter with the dispatcher behind every Task, timeouts,
 * stopping, redriving, ending it (final event, status-change event on the bus) and the 90-day retention sweep.
 * What is kept goes through store.ts; the API (api.ts) calls in here.
 */
import { randomUUID } from 'node:crypto';
import { ACCOUNT, AwsError, REGION, arn, type Clock, type EventBus, type StateDir, type TaskIam } from '../kernel';
import { stepFunctionsCall, trailDate } from '../services/cloudtrail';
import type { Caller, TrailRecord, UserIdentity } from '../services/fleet';
import { authorizedS3 } from '../services/s3';
import { Dispatcher } from './dispatch';
import { runDistributedMap, type ChildResult, type MapRunRecord, type S3Access } from './distributed';
import { ABORTED, StatesError } from './errors';
import { History, type HistoryEvent } from './history';
import { Interpreter } from './interpreter';
import type { Registry, Resolved } from './registry';
import type { EngineStore, ExecutionDescription, ExecutionRecord, ExecutionStatus, RedriveFrom } from './store';
import { TaskTokens } from './tokens';
import { Variables } from './variables';

export interface StepFunctionsDeps {
  clock: Clock;
  state: StateDir;
  bus: EventBus;
  /** Rejects with an Error carrying errorType/errorMessage/trace when the function fails. */
  invokeLambda: (functionArn: string, payload: unknown) => Promise<unknown>;
  /** The local AWS endpoint, for SDK integrations. */
  endpoint: () => string;
  /** SigV4 signing names of the services that endpoint answers: the aws-sdk integrations that can run. Unset: all installed. */
  served?: () => readonly string[];
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

interface Running {
  record: ExecutionRecord;
  controller: AbortController;
  cancelTimeout?: () => void;
  waiters: ((d: ExecutionDescription) => void)[];
  interpreter?: Interpreter;
}

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

export class Executions {
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly running = new Map<string, Running>();
  private readonly mapRuns = new Map<string, MapRunRecord>();
  readonly tokens: TaskTokens;
  readonly dispatcher: Dispatcher;
  /** Closed executions, oldest stop first, for the retention sweep. */
  private closedOrder: ExecutionRecord[] = [];
  /** Finished EXPRESS executions, oldest first. */
  private expressClosed: string[] = [];
  private closed = false;

  constructor(
    private readonly deps: StepFunctionsDeps,
    private readonly store: EngineStore,
    private readonly registry: Registry,
    activityExists: (activityArn: string) => boolean,
  ) {
    this.tokens = new TaskTokens(
      deps.clock,
      {
        issued: (token) => store.tokenIssued(token),
        forgotten: (token) => store.tokenForgotten(token),
      },
      deps.crashActivityWorker,
    );
    this.dispatcher = new Dispatcher({
      clock: deps.clock,
      tokens: this.tokens,
      endpoint: deps.endpoint,
      served: deps.served,
      invokeLambda: deps.invokeLambda,
      iam: deps.iam,
      activityExists,
      children: {
        // A .sync or fire-and-forget child is started by Step Functions with the parent's execution role.
        start: (smArn, input, name, parentArn) => this.startExecution(smArn, input, name, this.roleCaller(parentArn)),
        waitFor: (executionArn) => this.waitForExecution(executionArn),
        stop: (executionArn, error, cause) => void this.stopExecution(executionArn, error, cause),
      },
    });
  }

  /** Takes back what the store kept (at construction, before anything runs). */
  restore(): void {
    for (const record of this.store.loadExecutions()) this.executions.set(record.executionArn, record);
    this.closedOrder = [...this.executions.values()].filter((e) => e.status !== 'RUNNING').sort((a, b) => (a.stopDate ?? 0) - (b.stopDate ?? 0));
    this.tokens.restore(this.store.tokenKeys());
    for (const run of this.store.loadMapRuns()) this.mapRuns.set(run.mapRunArn, run);
  }

  /** The kept execution, EXPRESS ones included (the API shapes what it answers). */
  record(executionArn: string): ExecutionRecord | undefined {
    return this.executions.get(executionArn);
  }

  records(): Iterable<ExecutionRecord> {
    return this.executions.values();
  }

  mapRun(mapRunArn: string): MapRunRecord | undefined {
    return this.mapRuns.get(mapRunArn);
  }

  allMapRuns(): Iterable<MapRunRecord> {
    return this.mapRuns.values();
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
    this.store.saveExecution(record, true);
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

  /** Stops timers and long polls; executions still running stay RUNNING on disk for recover(). */
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
        this.store.saveExecution(record, false);
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
            this.store.saveMapRun(run);
          },
          changed: () => {
            if (mapRun) this.store.saveMapRun(mapRun);
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
    this.store.saveExecution(record, true);
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

  /** Removes executions closed longer than the retention period, with their history. */
  private sweep(): void {
    const cutoff = this.deps.clock.nowMs() - CLOSED_EXECUTION_RETENTION_MS;
    let n = 0;
    while (n < this.closedOrder.length && (this.closedOrder[n].stopDate ?? 0) < cutoff) {
      const record = this.closedOrder[n++];
      // Gone already, or redriven (running again: it rejoins the queue when it closes).
      if (this.executions.get(record.executionArn) !== record || record.status === 'RUNNING') continue;
      this.store.deleteExecution(record);
      this.executions.delete(record.executionArn);
    }
    if (n > 0) this.closedOrder = this.closedOrder.slice(n);
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
    this.store.saveExecution(record, true);
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

  /** https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html: failed, timed out or aborted, within 14 days. */
  redrivable(record: ExecutionRecord): boolean {
    if (!['FAILED', 'TIMED_OUT', 'ABORTED'].includes(record.status) || !record.redriveFrom || !record.revisionId) return false;
    return this.deps.clock.nowMs() - (record.stopDate ?? 0) <= REDRIVE_WINDOW_MS;
  }

  redrive(executionArn: string): { redriveDate: number } {
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
    this.store.saveExecution(record, true);
    this.statusChanged(record);
    return { redriveDate: now };
  }
}

const REDRIVE_WINDOW_MS = 14 * 24 * 3600 * 1000;

export function redriveReason(record: ExecutionRecord): string {
  if (record.status === 'RUNNING') return 'Execution is RUNNING and cannot be redriven';
  if (record.status === 'SUCCEEDED') return 'Execution is SUCCEEDED and cannot be redriven';
  if (!record.redriveFrom) return 'Execution has no state to redrive from';
  return 'Execution can no longer be redriven';
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
