/**
 * What the local Step Functions keeps in the state directory ('sfn.*' stores): executions and their history (one
 * record per event, journaled as events are added), activities, task tokens, the API-created state machines and
 * Map Runs. EXPRESS executions are never persisted ("Execution history is not captured by Step Functions":
 * https://docs.aws.amazon.com/step-functions/latest/dg/express-at-least-once-execution.html).
 */
import type { StateDir, Store } from '../kernel';
import type { ChildDescription } from './dispatch';
import type { MapRunRecord } from './distributed';
import type { HistoryEvent } from './history';
import type { RegistrySnapshot } from './registry';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** An execution as the runtime keeps it; dates are epoch ms. */
export interface ExecutionDescription extends ChildDescription {
  status: ExecutionStatus;
}

export interface ExecutionRecord extends ExecutionDescription {
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
  /** An EXPRESS execution: not persisted, no history through the API (see EXPRESS in executions.ts). */
  express?: boolean;
}

/**
 * Where RedriveExecution starts again: the top-level state that did not succeed, its input, the variables as they
 * were when it was entered ("Step Functions preserves the results ... of the successful steps":
 * https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html), and, for an inline Map or
 * Parallel, the iterations or branches that succeeded with their results (only the others run again).
 */
export interface RedriveFrom {
  state: string;
  input: unknown;
  variables?: Record<string, unknown>;
  succeeded?: Record<string, unknown>;
}

export interface ActivityRecord {
  arn: string;
  name: string;
  creationDate: number;
}

/** An execution as its store keeps it: everything but the history, which has a store of its own. */
type ExecutionMeta = Omit<ExecutionRecord, 'events'>;

export class EngineStore {
  private readonly executions: Store<ExecutionMeta>;
  private readonly history: Store<HistoryEvent>;
  private readonly activities: Store<ActivityRecord>;
  private readonly tokens: Store<1>;
  private readonly registry: Store<RegistrySnapshot>;
  private readonly mapRuns: Store<MapRunRecord>;
  /** How many of each execution's events are in the history store. */
  private readonly savedEvents = new Map<string, number>();

  constructor(state: StateDir) {
    this.executions = state.store('sfn.executions');
    this.history = state.store('sfn.history');
    this.activities = state.store('sfn.activities');
    this.tokens = state.store('sfn.tokens');
    this.registry = state.store('sfn.registry');
    this.mapRuns = state.store('sfn.mapRuns');
  }

  /** The executions kept, each with its history in order. */
  loadExecutions(): ExecutionRecord[] {
    const executions = new Map<string, ExecutionRecord>();
    for (const meta of this.executions.values()) executions.set(meta.executionArn, { ...meta, events: [] });
    for (const [key, event] of this.history.entries()) {
      const record = executions.get(key.slice(0, key.lastIndexOf('#')));
      if (record) record.events.push(event);
      // An event whose execution is gone was left by a retention sweep cut short.
      else this.history.delete(key);
    }
    for (const record of executions.values()) {
      record.events.sort((a, b) => a.id - b.id);
      this.savedEvents.set(record.executionArn, record.events.length);
    }
    return [...executions.values()];
  }

  /** Journals the events added since the last save, and the execution itself when it changed (start, end). */
  saveExecution(record: ExecutionRecord, meta: boolean): void {
    if (record.express) return;
    if (meta) {
      const { events: _events, ...rest } = record;
      this.executions.put(record.executionArn, rest);
    }
    const from = this.savedEvents.get(record.executionArn) ?? 0;
    for (let i = from; i < record.events.length; i++) this.history.put(`${record.executionArn}#${record.events[i].id}`, record.events[i]);
    this.savedEvents.set(record.executionArn, record.events.length);
  }

  /** Removes an execution and its history (the retention sweep). */
  deleteExecution(record: ExecutionRecord): void {
    for (const e of record.events) this.history.delete(`${record.executionArn}#${e.id}`);
    this.executions.delete(record.executionArn);
    this.savedEvents.delete(record.executionArn);
  }

  loadActivities(): Iterable<ActivityRecord> {
    return this.activities.values();
  }

  saveActivity(record: ActivityRecord): void {
    this.activities.put(record.arn, record);
  }

  tokenKeys(): Iterable<string> {
    return this.tokens.keys();
  }

  tokenIssued(token: string): void {
    this.tokens.put(token, 1);
  }

  tokenForgotten(token: string): void {
    void this.tokens.delete(token);
  }

  registrySnapshot(): RegistrySnapshot | undefined {
    return this.registry.get('snapshot');
  }

  saveRegistry(snapshot: RegistrySnapshot): void {
    this.registry.put('snapshot', snapshot);
  }

  loadMapRuns(): Iterable<MapRunRecord> {
    return this.mapRuns.values();
  }

  saveMapRun(run: MapRunRecord): void {
    this.mapRuns.put(run.mapRunArn, run);
  }
}
