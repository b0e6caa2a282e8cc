/**
 * The AWSStepFunctions JSON 1.0 API (https://docs.aws.amazon.com/step-functions/latest/apireference/API_Operations.html):
 * decodes a request, checks it, calls the control plane (registry.ts, activities.ts) or the execution lifecycle
 * (executions.ts) and answers in AWS's shapes (dates in epoch seconds, pages, errors in the JSON protocol).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { AwsError, arn, type AwsRequest, type AwsResponse, type Clock } from '../kernel';
import { jsonError } from '../wire/errors';
import type { Activities } from './activities';
import { type Executions, redriveReason, type StepFunctionsDeps } from './executions';
import { historyPage, page } from './history';
import { Registry } from './registry';
import { testState } from './test-state';

export class StepFunctionsApi {
  private readonly pollSignals = new Map<string, AbortSignal>();

  constructor(
    private readonly deps: { clock: Clock; trail?: StepFunctionsDeps['trail'] },
    private readonly registry: Registry,
    private readonly executions: Executions,
    private readonly activities: Activities,
  ) {}

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
        return testState(b, { clock: this.deps.clock, dispatcher: this.executions.dispatcher });
      case 'DescribeStateMachineForExecution': {
        const record = this.executions.record(notExpress(required(b, 'executionArn')));
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
        if (!this.executions.record(executionArn)) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
        const runs = [...this.executions.allMapRuns()]
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
        const { redriveDate } = this.executions.redrive(notExpress(required(b, 'executionArn')));
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
        const started = await this.executions.startExecution(required(b, 'stateMachineArn'), b.input, b.name, caller);
        return { executionArn: started.executionArn, startDate: secs(started.startDate) };
      }
      case 'StartSyncExecution':
        return this.startSyncExecution(required(b, 'stateMachineArn'), b.input, b.name);
      case 'StopExecution': {
        const { stopDate } = await this.executions.stopExecution(notExpress(required(b, 'executionArn')), b.error, b.cause);
        return { stopDate: secs(stopDate) };
      }
      case 'DescribeExecution': {
        const d = this.executions.describeExecution(notExpress(required(b, 'executionArn')));
        const record = this.executions.record(d.executionArn)!;
        return {
          ...d,
          startDate: secs(d.startDate),
          stopDate: secs(d.stopDate),
          inputDetails: { included: true },
          ...(d.output !== undefined ? { outputDetails: { included: true } } : {}),
          redriveCount: record.redriveCount ?? 0,
          ...(record.redriveDate !== undefined ? { redriveDate: secs(record.redriveDate) } : {}),
          redriveStatus: this.executions.redrivable(record) ? 'REDRIVABLE' : 'NOT_REDRIVABLE',
          ...(this.executions.redrivable(record) ? {} : { redriveStatusReason: redriveReason(record) }),
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
          const children = [...this.executions.records()]
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
        const all = this.executions
          .listExecutions(base)
          .filter((e) => !b.statusFilter || e.status === b.statusFilter)
          .filter(
            (e) =>
              !qualifier ||
              [this.executions.record(e.executionArn)?.stateMachineVersionArn, this.executions.record(e.executionArn)?.stateMachineAliasArn].includes(
                qualifier,
              ),
          )
          .filter((e) => !b.redriveFilter || (b.redriveFilter === 'REDRIVEN') === (this.executions.record(e.executionArn)?.redriveCount ?? 0) > 0);
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
        return historyPage(this.executions.history(notExpress(required(b, 'executionArn'))), { ...b, executionArn: b.executionArn });
      case 'CreateActivity': {
        const name = required(b, 'name');
        const activityArn = arn.activity(name);
        this.activities.deploy({ arn: activityArn, name });
        return { activityArn, creationDate: secs(this.activities.get(activityArn).creationDate) };
      }
      case 'ListActivities': {
        const all = this.activities.list().map((a) => ({ activityArn: a.arn, name: a.name, creationDate: secs(a.creationDate) }));
        const { items, nextToken } = page(all, b, 'ListActivities');
        return { activities: items, nextToken };
      }
      case 'DescribeActivity': {
        const a = this.activities.get(required(b, 'activityArn'));
        return { activityArn: a.arn, name: a.name, creationDate: secs(a.creationDate) };
      }
      case 'GetActivityTask': {
        const a = this.activities.get(required(b, 'activityArn'));
        const signal = this.pollSignals.get(req.headers['amz-sdk-invocation-id'] ?? '');
        // A function that long-polls waits: it does not hold the clock at real speed meanwhile.
        return (await this.deps.clock.waitFor(req, this.executions.tokens.poll(a.arn, b.workerName, signal))) ?? {};
      }
      case 'SendTaskSuccess': {
        const output = required(b, 'output');
        try {
          JSON.parse(output);
        } catch {
          throw new AwsError('InvalidOutput', 'Invalid output: not valid JSON');
        }
        this.executions.tokens.succeed(required(b, 'taskToken'), output);
        return {};
      }
      case 'SendTaskFailure':
        this.executions.tokens.fail(required(b, 'taskToken'), b.error, b.cause);
        return {};
      case 'SendTaskHeartbeat':
        this.executions.tokens.heartbeat(required(b, 'taskToken'));
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
    const { executionArn } = await this.executions.startExecution(stateMachineArn, input, name);
    const done = await this.executions.waitForExecution(executionArn);
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

  private describeMapRun(mapRunArn: string): Record<string, unknown> {
    const run = this.executions.mapRun(mapRunArn);
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
