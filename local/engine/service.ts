/**
 * The local Step Functions: state machines (registry.ts) and activities (activities.ts), executions
 * (executions.ts: run by the interpreter, interpreter.ts and states/, with the dispatcher behind every Task,
 * Distributed Map runs in distributed.ts), what is kept in the state directory (store.ts) and the AWSStepFunctions
 * JSON 1.0 API (api.ts). This class puts them together as the runtime's ServiceHandler for 'states'.
 */
import type { Server } from 'node:http';
import type { AwsRequest, AwsResponse, ServiceHandler } from '../kernel';
import type { Caller } from '../services/fleet';
import { Activities } from './activities';
import { StepFunctionsApi } from './api';
import { Executions, type StepFunctionsDeps } from './executions';
import type { HistoryEvent } from './history';
import { Registry } from './registry';
import { EngineStore, type ExecutionDescription } from './store';

export class StepFunctionsService implements ServiceHandler {
  readonly services = ['states'] as const;
  private readonly registry: Registry;
  private readonly activities: Activities;
  private readonly executions: Executions;
  private readonly api: StepFunctionsApi;
  private registryDirty = false;

  constructor(deps: StepFunctionsDeps) {
    const store = new EngineStore(deps.state);
    // API-created state machines change rarely (control plane): the registry is one record, written once per turn.
    this.registry = new Registry(deps.clock, () => {
      if (this.registryDirty) return;
      this.registryDirty = true;
      queueMicrotask(() => {
        this.registryDirty = false;
        store.saveRegistry(this.registry.snapshot());
      });
    });
    this.activities = new Activities(deps.clock, store);
    this.executions = new Executions(deps, store, this.registry, (activityArn) => this.activities.has(activityArn));
    this.executions.restore();
    this.registry.restore(store.registrySnapshot());
    this.api = new StepFunctionsApi(deps, this.registry, this.executions, this.activities);
  }

  /** Throws (DefinitionRefusedError) for definitions the runtime refuses or asl-validator rejects. */
  deployStateMachine(sm: { arn: string; name: string; definition: object; roleArn: string; type?: string }): void {
    this.registry.deploy(sm);
  }

  deployActivity(activity: { arn: string; name: string }): void {
    this.activities.deploy(activity);
  }

  /** Call once at startup: executions a previous process left RUNNING are failed, never silently lost. */
  recover(): Promise<void> {
    return this.executions.recover();
  }

  startExecution(stateMachineArn: string, input?: string, name?: string, caller?: Caller): Promise<{ executionArn: string; startDate: number }> {
    return this.executions.startExecution(stateMachineArn, input, name, caller);
  }

  describeExecution(executionArn: string): ExecutionDescription {
    return this.executions.describeExecution(executionArn);
  }

  /** Newest first, as AWS lists them. */
  listExecutions(stateMachineArn?: string): ExecutionDescription[] {
    return this.executions.listExecutions(stateMachineArn);
  }

  history(executionArn: string): HistoryEvent[] {
    return this.executions.history(executionArn);
  }

  /** Resolves with the final description once the execution ends (at once if it already has). */
  waitForExecution(executionArn: string): Promise<ExecutionDescription> {
    return this.executions.waitForExecution(executionArn);
  }

  stopExecution(executionArn: string, error?: string, cause?: string): Promise<{ stopDate: number }> {
    return this.executions.stopExecution(executionArn, error, cause);
  }

  activeCount(): number {
    return this.executions.activeCount();
  }

  /** GetActivityTask long polls waiting on an activity. */
  activityPollers(activityArn: string): number {
    return this.executions.tokens.waiting(activityArn);
  }

  watchDisconnects(server: Server): void {
    this.api.watchDisconnects(server);
  }

  /** Stops timers and long polls and persists; executions still running stay RUNNING on disk for recover(). */
  close(): void {
    this.executions.close();
  }

  handle(req: AwsRequest): Promise<AwsResponse> {
    return this.api.handle(req);
  }
}
