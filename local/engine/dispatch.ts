/**
 * The work behind every Task state: the interpreter (interpreter.ts) calls `run` with the effective input;
 * this file picks the integration from the Resource, records the task events AWS shows in history,
 * enforces TimeoutSeconds/HeartbeatSeconds on the virtual clock and turns failures into the error names
 * Retry/Catch match.
 */
import { randomUUID } from 'node:crypto';
import { AwsError, arn, type Clock, type TaskIam } from '../kernel';
import { ABORTED, asStatesError, runtimeError as statesRuntimeError, StatesError } from './errors';
import { TOKEN_SENTINEL, type TaskPort, type TaskRequest } from './host';
import { isOfferedIntegration, parseIntegration, type Pattern, SdkCaller, sdkTarget, type SdkTarget } from './sdk';
import type { TaskTokens } from './tokens';

/** What the dispatcher needs from the running execution. */
export type ExecutionPort = TaskPort;

/** An execution as `.sync` integrations see it (times in epoch ms). */
export interface ChildDescription {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: string;
  startDate: number;
  stopDate?: number;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
}

export interface ChildExecutions {
  /** `parentArn`: the execution whose task starts it (its role makes the call, as CloudTrail records it). */
  start(stateMachineArn: string, input: string, name: string | undefined, parentArn: string): Promise<{ executionArn: string; startDate: number }>;
  waitFor(executionArn: string): Promise<ChildDescription>;
  stop(executionArn: string, error: string, cause: string): void;
}

export interface DispatcherDeps {
  clock: Clock;
  tokens: TaskTokens;
  endpoint: () => string;
  invokeLambda: (functionArn: string, payload: unknown) => Promise<unknown>;
  children: ChildExecutions;
  activityExists: (activityArn: string) => boolean;
  iam?: TaskIam;
  /** SigV4 signing names of the services the local endpoint answers: the aws-sdk integrations that can run. Unset: all installed. */
  served?: () => readonly string[];
}

type Target =
  | { kind: 'activity'; arn: string }
  | { kind: 'lambdaFunction'; arn: string }
  | { kind: 'lambdaInvoke'; pattern: Pattern; resourceType: string; resource: string }
  | { kind: 'startExecution'; pattern: Pattern; resourceType: string; resource: string }
  | { kind: 'sdk'; sdk: SdkTarget; pattern: Pattern; resourceType: string; resource: string };

/** Settings of one task run. */
interface Run {
  exec: ExecutionPort;
  /** Aborted when the task is over for us: finished, timed out, or the execution stopped. */
  signal: AbortSignal;
  target: Target;
  input: unknown;
  token?: string;
  timeoutSeconds?: number;
  heartbeatSeconds?: number;
}

export class Dispatcher {
  private readonly sdk: SdkCaller;

  constructor(private readonly deps: DispatcherDeps) {
    this.sdk = new SdkCaller(deps.endpoint);
  }

  async run(exec: ExecutionPort, request: TaskRequest): Promise<unknown> {
    if (exec.signal.aborted) throw stopped();
    const { stateName, resource, timeoutSeconds, heartbeatSeconds } = request;
    const target = classify(resource, this.deps.served?.());
    if (!target) {
      const why = isOfferedIntegration(resource) === false ? 'which is not an integration AWS offers' : 'which the opsflow local runtime does not support';
      throw runtimeError(`State '${stateName}' uses the resource '${resource}', ${why}`);
    }
    const usesToken = target.kind === 'activity' || ('pattern' in target && target.pattern === 'waitForTaskToken');
    const token = usesToken || JSON.stringify(request.input ?? null).includes(TOKEN_SENTINEL) ? this.deps.tokens.issue(exec.arn) : undefined;
    const input = substitute(request.input, token);
    const over = new AbortController();
    const run: Run = { exec, signal: AbortSignal.any([exec.signal, over.signal]), target, input, token, timeoutSeconds, heartbeatSeconds };
    try {
      this.scheduled(run);
      const output = await this.guard(run, this.perform(run));
      this.emit(run, 'Succeeded', { output: JSON.stringify(output ?? null), outputDetails: { truncated: false } });
      return output;
    } catch (err) {
      // Whatever went wrong is reported under a Step Functions name, never a JavaScript one (TypeError, ...).
      const e = err instanceof StatesError || (err as Error)?.name?.includes('.') ? (err as Error) : asStatesError(err);
      if (!exec.signal.aborted) {
        this.emit(run, e.name === 'States.Timeout' || e.name === 'States.HeartbeatTimeout' ? 'TimedOut' : 'Failed', { error: e.name, cause: e.message });
      }
      throw e;
    } finally {
      over.abort(ABORTED);
      if (token) this.deps.tokens.kill(token);
    }
  }

  private scheduled(run: Run): void {
    const { target, input, timeoutSeconds: timeoutInSeconds, heartbeatSeconds: heartbeatInSeconds } = run;
    const json = JSON.stringify(input ?? null);
    if (target.kind === 'activity') {
      run.exec.emit('ActivityScheduled', { resource: target.arn, input: json, inputDetails: { truncated: false }, timeoutInSeconds, heartbeatInSeconds });
    } else if (target.kind === 'lambdaFunction') {
      run.exec.emit('LambdaFunctionScheduled', { resource: target.arn, input: json, inputDetails: { truncated: false }, timeoutInSeconds });
      run.exec.emit('LambdaFunctionStarted');
    } else {
      const { resourceType, resource } = target;
      run.exec.emit('TaskScheduled', { resourceType, resource, region: 'us-east-1', parameters: json, timeoutInSeconds, heartbeatInSeconds });
      run.exec.emit('TaskStarted', { resourceType, resource });
    }
  }

  /** Emits `<Family><suffix>`: ActivitySucceeded, LambdaFunctionFailed, TaskTimedOut, ... */
  private emit(run: Run, suffix: string, details: Record<string, unknown>): void {
    const { target } = run;
    if (target.kind === 'activity') run.exec.emit(`Activity${suffix}`, details);
    else if (target.kind === 'lambdaFunction') run.exec.emit(`LambdaFunction${suffix}`, details);
    else run.exec.emit(`Task${suffix}`, { resourceType: target.resourceType, resource: target.resource, ...details });
  }

  private async perform(run: Run): Promise<unknown> {
    const { target, input, exec } = run;
    switch (target.kind) {
      case 'activity':
        if (!this.deps.activityExists(target.arn)) throw runtimeError(`Activity '${target.arn}' does not exist`);
        this.deps.tokens.enqueue(run.token!, target.arn, JSON.stringify(input ?? null), ms(run.heartbeatSeconds), (workerName) =>
          exec.emit('ActivityStarted', workerName === undefined ? {} : { workerName }),
        );
        return this.settlement(run);
      case 'lambdaFunction':
        this.authorize(exec, 'lambda:InvokeFunction', target.arn);
        return this.invoke(target.arn, input);
      case 'lambdaInvoke':
        return this.afterCall(run, await this.lambdaInvoke(input as Record<string, unknown>, exec));
      case 'sdk':
        return this.afterCall(run, await this.sdk.call(target.sdk, input, run.signal, this.deps.iam?.credentials(exec.arn)));
      case 'startExecution':
        return this.startExecution(run, input as Record<string, unknown>);
    }
  }

  /** For `.waitForTaskToken` the call only submits the work; the result comes with the token. */
  private async afterCall(run: Run, callOutput: unknown): Promise<unknown> {
    if (!('pattern' in run.target) || run.target.pattern !== 'waitForTaskToken') return callOutput;
    this.emit(run, 'Submitted', { output: JSON.stringify(callOutput ?? null), outputDetails: { truncated: false } });
    return this.settlement(run);
  }

  private async settlement(run: Run): Promise<unknown> {
    if (run.target.kind !== 'activity') this.deps.tokens.startHeartbeat(run.token!, ms(run.heartbeatSeconds));
    const settled = await this.deps.tokens.settled(run.token!);
    switch (settled.kind) {
      case 'success':
        return JSON.parse(settled.output);
      case 'failure':
        throw taskError(settled.error ?? '', settled.cause ?? '');
      case 'heartbeat-timeout':
        throw await timeoutError('States.HeartbeatTimeout', `No heartbeat within ${run.heartbeatSeconds} seconds`);
      case 'cancelled':
        throw stopped();
    }
  }

  /**
   * A call the role may not make fails the task as Step Functions reports it: the service's AccessDenied
   * under the integration's error prefix (Lambda answers 403 AccessDeniedException, which Step Functions
   * surfaces as `Lambda.AWSLambdaException`).
   */
  private authorize(exec: ExecutionPort, action: string, resource: string): void {
    const denied = this.deps.iam?.authorize(exec.arn, action, resource);
    if (!denied) return;
    const details = `(Service: ${action.startsWith('lambda:') ? 'AWSLambda' : 'AWSStepFunctions'}; Status Code: ${action.startsWith('lambda:') ? 403 : 400}; Error Code: AccessDeniedException; Request ID: ${randomUUID()})`;
    throw taskError(action.startsWith('lambda:') ? 'Lambda.AWSLambdaException' : 'StepFunctions.AccessDeniedException', `${denied} ${details}`);
  }

  private async invoke(functionArn: string, payload: unknown): Promise<unknown> {
    try {
      return await this.deps.invokeLambda(functionArn, payload);
    } catch (err) {
      const e = err as Error & { errorType?: string; errorMessage?: string; trace?: string[] };
      if (e.errorType) throw taskError(e.errorType, JSON.stringify({ errorType: e.errorType, errorMessage: e.errorMessage, trace: e.trace }));
      throw taskError(e.name?.endsWith('Exception') ? `Lambda.${e.name}` : 'Lambda.Unknown', e.message);
    }
  }

  /** `arn:aws:states:::lambda:invoke`: the Lambda Invoke API response as Step Functions returns it. */
  private async lambdaInvoke(params: Record<string, unknown>, exec: ExecutionPort): Promise<unknown> {
    const name = String(params?.FunctionName ?? '');
    if (!name) throw taskError('Lambda.InvalidParameterValueException', 'FunctionName is required');
    const functionArn = name.startsWith('arn:') ? name : arn.lambda(name);
    this.authorize(exec, 'lambda:InvokeFunction', functionArn);
    const requestId = randomUUID();
    const async = params.InvocationType === 'Event';
    let payload: unknown = '';
    if (async) {
      // Fire and forget, as Lambda does for Event invocations; a failure is the function's own business.
      this.deps.invokeLambda(functionArn, params.Payload ?? {}).catch(() => undefined);
    } else {
      payload = await this.invoke(functionArn, params.Payload ?? {});
    }
    const headers = { 'Content-Type': 'application/json', 'X-Amz-Executed-Version': '$LATEST', 'x-amzn-RequestId': requestId };
    return {
      ExecutedVersion: '$LATEST',
      Payload: payload,
      SdkHttpMetadata: {
        AllHttpHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
        HttpHeaders: headers,
        HttpStatusCode: async ? 202 : 200,
      },
      SdkResponseMetadata: { RequestId: requestId },
      StatusCode: async ? 202 : 200,
    };
  }

  private async startExecution(run: Run, params: Record<string, unknown>): Promise<unknown> {
    const target = run.target as Extract<Target, { kind: 'startExecution' }>;
    const input = params?.Input === undefined ? '{}' : typeof params.Input === 'string' ? params.Input : JSON.stringify(params.Input);
    let started: { executionArn: string; startDate: number };
    this.authorize(run.exec, 'states:StartExecution', String(params?.StateMachineArn ?? ''));
    try {
      started = await this.deps.children.start(
        String(params?.StateMachineArn ?? ''),
        input,
        params?.Name === undefined ? undefined : String(params.Name),
        run.exec.arn,
      );
    } catch (err) {
      if (err instanceof AwsError) throw taskError(`StepFunctions.${err.code.endsWith('Exception') ? err.code : `${err.code}Exception`}`, err.message);
      throw err;
    }
    const submitted = { ExecutionArn: started.executionArn, StartDate: started.startDate };
    if (target.pattern !== 'sync' && target.pattern !== 'sync:2') return this.afterCall(run, submitted);

    this.emit(run, 'Submitted', { output: JSON.stringify(submitted), outputDetails: { truncated: false } });
    let child: ChildDescription | undefined;
    try {
      child = await untilAborted(this.deps.children.waitFor(started.executionArn), run.signal);
    } finally {
      // A parent that stops or whose task times out takes its .sync child down with it, as in AWS.
      if (!child) this.deps.children.stop(started.executionArn, 'States.Aborted', 'The parent execution stopped waiting for this execution');
    }
    const output = syncOutput(child, target.pattern === 'sync:2');
    if (child.status === 'SUCCEEDED') return output;
    throw taskError('States.TaskFailed', JSON.stringify(output));
  }

  /** Races the work with the execution stopping and the task's TimeoutSeconds on the virtual clock. */
  private async guard(run: Run, work: Promise<unknown>): Promise<unknown> {
    // An SDK call is real work: virtual time runs at real speed while it runs (Clock.busy), so its TimeoutSeconds
    // counts what AWS would count. A Lambda function holds the clock itself, only while it works (LambdaRunner).
    // Tasks that wait on people or other executions (tokens, activities, .sync) are waits, and their virtual time
    // runs at the scale.
    const waitsOnOthers = run.token !== undefined || ('pattern' in run.target && String(run.target.pattern).startsWith('sync'));
    if (run.target.kind === 'sdk' && !waitsOnOthers) {
      const release = this.deps.clock.busy();
      work.then(release, release);
    }
    const guarded = untilAborted(work, run.exec.signal);
    if (run.timeoutSeconds === undefined) return guarded;
    const limit = run.timeoutSeconds;
    const timer = this.deps.clock.sleep(limit * 1000, run.signal).then(
      async () => {
        throw await timeoutError('States.Timeout', `The task did not finish within TimeoutSeconds (${limit})`);
      },
      // The task ended first: this contender never settles.
      () => new Promise<never>(() => undefined),
    );
    return Promise.race([guarded, timer]);
  }
}

/** Settles like `work`, or rejects as stopped once `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(stopped());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(stopped());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function classify(resource: string, served: readonly string[] | undefined): Target | undefined {
  if (/^arn:aws:states:[^:]+:\d+:activity:.+$/.test(resource)) return { kind: 'activity', arn: resource };
  if (/^arn:aws:lambda:[^:]+:\d+:function:.+$/.test(resource)) return { kind: 'lambdaFunction', arn: resource };
  const parsed = parseIntegration(resource);
  if (!parsed || !isOfferedIntegration(resource)) return undefined;
  const { integration, pattern } = parsed;
  const split = integration.lastIndexOf(':');
  const resourceType = integration.slice(0, split);
  const names = { pattern, resourceType, resource: `${integration.slice(split + 1)}${pattern ? `.${pattern}` : ''}` };
  if (integration === 'states:startExecution') return { kind: 'startExecution', ...names };
  if (integration === 'lambda:invoke') return { kind: 'lambdaInvoke', ...names };
  const sdk = sdkTarget(integration, served);
  return sdk ? { kind: 'sdk', sdk, ...names } : undefined;
}

/** DescribeExecution-like output of `.sync` (`.sync:2` parses Input/Output as JSON). */
function syncOutput(d: ChildDescription, parsed: boolean): Record<string, unknown> {
  const json = (s: string | undefined) => (parsed && s !== undefined ? JSON.parse(s) : s);
  return {
    ExecutionArn: d.executionArn,
    Input: json(d.input),
    InputDetails: { Included: true },
    Name: d.name,
    Output: json(d.output),
    OutputDetails: { Included: true },
    StartDate: d.startDate,
    StateMachineArn: d.stateMachineArn,
    Status: d.status,
    StopDate: d.stopDate,
    ...(d.error !== undefined ? { Error: d.error } : {}),
    ...(d.cause !== undefined ? { Cause: d.cause } : {}),
  };
}

function substitute(value: unknown, token: string | undefined): unknown {
  if (typeof value === 'string') return token ? value.split(TOKEN_SENTINEL).join(token) : value;
  if (Array.isArray(value)) return value.map((v) => substitute(v, token));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, token)]));
  return value;
}

function ms(secondsValue: number | undefined): number | undefined {
  return secondsValue === undefined ? undefined : secondsValue * 1000;
}

/** An error Retry/Catch match by name; its message becomes the Cause. */
function taskError(name: string, cause: string): Error {
  return new StatesError(name, cause, { fatal: false, terminal: false });
}

/** States.Runtime: neither retried nor caught, it fails the execution. */
function runtimeError(message: string): Error {
  return statesRuntimeError(message);
}

function stopped(): Error {
  return runtimeError('The execution stopped');
}

async function timeoutError(name: 'States.Timeout' | 'States.HeartbeatTimeout', cause: string): Promise<Error> {
  return new StatesError(name, cause, { fatal: false, terminal: false });
}
