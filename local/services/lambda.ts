/**
 * Runs Lambda bundles the way Lambda does: each function in its own execution environment (a Node.js process on
 * the major its Lambda runtime names, see local/services/lambda-worker.ts and `nodeForRuntime`) with its own
 * environment variables, kept warm between invocations, recycled after a timeout or a crash so the next
 * invocation is a cold start.
 * An environment holds the virtual clock at real speed (Clock.busy) while it works for an invocation, and not while
 * it waits: on its timers, which the runner sets on the clock, or on calls the runtime answers later (Clock.waitFor).
 * Between invocations it is frozen, as Lambda freezes it: its timers that fall due fire at the next invocation.
 * Handlers reach the local endpoint through AWS_ENDPOINT_URL, which SDK v3 (@smithy/core endpoints,
 * installed 3.41) honours for every client that is not given an explicit endpoint.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { transformSync } from 'esbuild';
import { LAMBDA_ACCESS_KEY_ID } from '../credentials';
import { AwsError, CALL_HEADER, REGION, type CallWaits, type Clock } from '../kernel';
import { EGRESS_WIRE, type CallCaller } from '../network/egress';
import type { FromWorker, LambdaErrorDocument, ToWorker, WorkerInit } from './lambda-worker';

export interface LambdaFunction {
  arn: string;
  name: string;
  logicalId: string;
  /** Directory of the unpacked bundle (LAMBDA_TASK_ROOT). */
  assetDir: string;
  /** `file.export`, e.g. `index.handler`. */
  handler: string;
  /** The template's environment variables. */
  environment: Record<string, string>;
  /** Virtual seconds; while the function works, virtual time runs at real speed (Clock). */
  timeoutSeconds: number;
  /** @default 128 */
  memoryMb?: number;
  /** The Lambda runtime identifier (`nodejs22.x`): which Node.js major runs the function. @default DEFAULT_RUNTIME */
  runtime?: string;
  /** The execution role's temporary credentials; they identify the role to IAM. @default the runner's `credentials` */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
}

export interface LambdaRunnerOptions {
  clock: Clock;
  /** Base URL of the local endpoint, read at each cold start. */
  endpoint: () => string;
  /** Fault injection: functions (name, logical id or ARN) whose invocations crash the environment. */
  crashes?: () => string[];
  /** Function output goes to `<logDir>/<function name>.log`; without it, output is discarded. */
  logDir?: string;
  /** Lambda's quotas: synchronous payload bytes (request and response) and concurrent executions. @default none */
  limits?: { payloadBytes?: number; concurrency?: number };
  /** What a function without an execution role signs with; the endpoint must know the secret. @default LAMBDA_ACCESS_KEY_ID, secret `x` */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** The access key functions without a role sign with, so services can tell Lambda calls apart. */
export { LAMBDA_ACCESS_KEY_ID };

/** The node_modules the runtime's own AWS SDK comes from: it stands in for the SDK the Node.js runtime ships. */
const PROVIDED_MODULES = join(dirname(require.resolve('@aws-sdk/client-sfn/package.json')), '..', '..');

/** The runtime of a function that names none. */
export const DEFAULT_RUNTIME = 'nodejs22.x';

/** The Node.js binary that runs a function, and whether its major is the one the Lambda runtime names. */
export interface NodeBinary {
  path: string;
  version: string;
  /** Where it comes from: `host` (the Node.js running the runtime) or the npm package that carries it. */
  source: string;
  /** Its major is the runtime's (`nodejs22.x` → 22). */
  matches: boolean;
}

const nodeBinaries = new Map<string, NodeBinary>();

/**
 * The Node.js for a Lambda runtime identifier (`nodejs22.x`, https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html):
 * the host's own when its major is the runtime's; otherwise the binary that the npm package `node-linux-<arch>`
 * carries (an optional dependency, pinned to Node 22: npm installs it on Linux x64 and arm64); otherwise the host's,
 * with `matches: false` so that the runtime says so at startup.
 */
export function nodeForRuntime(runtime: string = DEFAULT_RUNTIME): NodeBinary {
  const known = nodeBinaries.get(runtime);
  if (known) return known;
  const major = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];
  const host: NodeBinary = {
    path: process.execPath,
    version: process.version,
    source: 'host',
    matches: major !== undefined && process.versions.node.split('.')[0] === major,
  };
  let found = host;
  if (!host.matches && major !== undefined) {
    const pkg = `node-linux-${process.arch}`;
    try {
      const manifest = require.resolve(`${pkg}/package.json`);
      const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
      const path = join(dirname(manifest), 'bin', 'node');
      if (version.split('.')[0] === major && existsSync(path)) found = { path, version: `v${version}`, source: pkg, matches: true };
    } catch {
      // not installed (another platform, or npm ci --omit=optional): the host's Node runs the function
    }
  }
  nodeBinaries.set(runtime, found);
  return found;
}

/**
 * "The Init phase is limited to 10 seconds. If all three tasks do not complete within 10 seconds, Lambda retries the
 * Init phase at the time of the first function invocation with the configured function timeout."
 * https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
 */
const INIT_TIMEOUT_MS = 10_000;

/** A failed invocation, carrying Lambda's error document (`errorType` is what Step Functions matches). */
export class LambdaInvokeError extends Error implements LambdaErrorDocument {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: string[];

  constructor(doc: LambdaErrorDocument) {
    super(doc.errorMessage);
    this.name = doc.errorType;
    this.errorType = doc.errorType;
    this.errorMessage = doc.errorMessage;
    this.trace = doc.trace;
  }

  /** The payload Lambda's Invoke API returns with `X-Amz-Function-Error: Unhandled`. */
  toDocument(): LambdaErrorDocument {
    return { errorType: this.errorType, errorMessage: this.errorMessage, trace: this.trace };
  }
}

interface Pending {
  id: string;
  payload: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  /** Virtual epoch ms at which the invocation times out, once its timeout runs. */
  deadline?: number;
  cancelTimeout?: () => void;
  /** Real ms (performance.now) when the handler got the event: the REPORT line's Duration. */
  started?: number;
}

/** One execution environment. */
interface Sandbox {
  /** Names its calls (`<id>:<n>`, CALL_HEADER). */
  id: string;
  fn: LambdaFunction;
  worker: ChildProcess;
  pending: Map<string, Pending>;
  ready: boolean;
  retired: boolean;
  spawnedAt: number;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** Reported once, on the REPORT line of the first invocation, like Lambda's `Init Duration`. */
  initDuration?: number;
  cancelInit: () => void;
  /** The function's timers on the virtual clock, by the id the function gave them. */
  timers: Map<number, () => void>;
  /** Timers that fell due while no invocation ran (the environment was frozen): they fire at the next one. */
  due: number[];
  /** Number of the latest message sent: each gives the function work. */
  seq: number;
  /** The function's latest `quiet` report. */
  quiet?: { seq: number; calls: string[] };
  /** The clock, held at real speed while the environment works. */
  release?: () => void;
  /** `clock` messages awaiting the function's `synced`, by seq. */
  syncs: Map<number, () => void>;
}

export class LambdaRunner implements CallWaits {
  private readonly functions = new Map<string, LambdaFunction>();
  private readonly sandboxes = new Map<string, Sandbox>();
  private readonly byId = new Map<string, Sandbox>();
  /** Calls (CALL_HEADER) that the runtime answers once virtual time has passed: waits, not work. */
  private readonly waiting = new Set<string>();
  private closed = false;
  private inFlight = 0;

  constructor(private readonly options: LambdaRunnerOptions) {
    if (options.logDir) mkdirSync(options.logDir, { recursive: true });
    options.clock.watchCalls(this);
  }

  /** Adds or replaces a function; replacing recycles its environment (code or configuration changed). */
  register(fn: LambdaFunction): void {
    if (!(fn.timeoutSeconds > 0)) throw new Error(`Lambda function ${fn.name}: timeoutSeconds must be positive, got ${fn.timeoutSeconds}`);
    const current = this.sandboxes.get(fn.name);
    if (current) this.retire(current, (id) => exitError(id, 'signal: terminated'));
    this.functions.set(fn.name, fn);
  }

  /** Removes a function; its environment is shut down and invocations in flight fail. */
  remove(name: string): void {
    const current = this.sandboxes.get(name);
    if (current) this.retire(current, (id) => exitError(id, 'signal: terminated'));
    this.functions.delete(name);
  }

  /** The registered function an ARN (optionally `:$LATEST`-qualified) or name designates. */
  get(arnOrName: string): LambdaFunction | undefined {
    const match = /^arn:aws:lambda:[^:]*:[^:]*:function:([^:]+)(?::(.+))?$/.exec(arnOrName);
    if (!match) return this.functions.get(arnOrName);
    const fn = this.functions.get(match[1]);
    const unqualified = arnOrName.split(':').slice(0, 7).join(':');
    return fn && fn.arn === unqualified && (match[2] === undefined || match[2] === '$LATEST') ? fn : undefined;
  }

  list(): LambdaFunction[] {
    return [...this.functions.values()];
  }

  /** Runs one invocation; resolves to the handler's result after a JSON round trip, as Lambda returns it. */
  invoke(arnOrName: string, payload: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('LambdaRunner is closed'));
    const fn = this.get(arnOrName);
    if (!fn) return Promise.reject(new AwsError('ResourceNotFoundException', `Function not found: ${arnOrName}`, 404));
    const id = randomUUID();
    const text = JSON.stringify(payload ?? null);
    const limits = this.options.limits;
    // Lambda's quotas: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
    if (limits?.payloadBytes !== undefined && Buffer.byteLength(text) > limits.payloadBytes) {
      return Promise.reject(
        new AwsError('RequestTooLargeException', `Request must be smaller than ${limits.payloadBytes} bytes for the InvokeFunction operation`, 413),
      );
    }
    if (limits?.concurrency !== undefined && this.inFlight >= limits.concurrency) {
      return Promise.reject(new AwsError('TooManyRequestsException', 'Rate Exceeded.', 429));
    }
    if (this.mustCrash(fn)) return Promise.reject(this.injectCrash(fn, id));
    this.inFlight++;
    return new Promise((resolve, reject) => {
      const pending: Pending = { id, payload: text, resolve, reject };
      const warm = this.sandboxes.get(fn.name);
      if (warm) {
        warm.pending.set(id, pending);
        if (warm.ready) this.dispatch(warm, pending);
      } else this.spawn(fn, pending);
    }).finally(() => this.inFlight--);
  }

  /** A function's call waits (Clock.waitFor): the environment may stop holding the clock. */
  begin(call: string): (() => Promise<void>) | undefined {
    const sandbox = this.byId.get(call.split(':')[0]);
    if (!sandbox) return undefined;
    this.waiting.add(call);
    this.update(sandbox);
    return () => {
      this.waiting.delete(call);
      if (sandbox.retired) return Promise.resolve();
      // The function works again from here: it gets the clock's mapping before the call's answer.
      return new Promise<void>((synced) => {
        this.wake(sandbox, { type: 'clock' });
        sandbox.syncs.set(sandbox.seq, synced);
      });
    };
  }

  /** The function and execution environment that made a call (CALL_HEADER `<sandbox>:<n>`), while it runs. */
  caller(call: string): CallCaller | undefined {
    const sandbox = this.byId.get(call.split(':')[0]);
    if (!sandbox || sandbox.retired) return undefined;
    const deadlines = [...sandbox.pending.values()].flatMap((p) => (p.deadline === undefined ? [] : [p.deadline]));
    return { functionName: sandbox.fn.name, sandbox: sandbox.id, deadline: deadlines.length ? Math.max(...deadlines) : undefined };
  }

  /** Terminates every environment; invocations in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    const sandboxes = [...this.sandboxes.values()];
    for (const s of sandboxes) this.retire(s, (id) => exitError(id, 'signal: terminated'));
    await Promise.all(sandboxes.map((s) => s.exited));
  }

  private mustCrash(fn: LambdaFunction): boolean {
    const names = this.options.crashes?.() ?? [];
    // Logical ids carry CDK's hash suffix; a readable part of the id ('ApprovalWorkerFn') is enough to name one.
    return names.some((n) => n === fn.name || n === fn.arn || fn.logicalId.includes(n));
  }

  /** A crash takes the whole environment down, as a runtime process exit would. */
  private injectCrash(fn: LambdaFunction, id: string): LambdaInvokeError {
    const current = this.sandboxes.get(fn.name);
    if (current) this.retire(current, (other) => exitError(other, 'signal: killed'));
    const err = exitError(id, 'signal: killed');
    this.log(fn, `START RequestId: ${id} Version: $LATEST\n${err.errorMessage}\n${err.errorType}\nEND RequestId: ${id}\n`);
    return err;
  }

  private spawn(fn: LambdaFunction, first: Pending): Sandbox {
    const memoryMb = fn.memoryMb ?? 128;
    const id = randomBytes(8).toString('hex');
    const logStreamName = `${new Date(this.options.clock.nowMs()).toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${randomBytes(16).toString('hex')}`;
    const init: WorkerInit = {
      taskRoot: fn.assetDir,
      handler: fn.handler,
      functionName: fn.name,
      functionArn: fn.arn,
      memoryMb,
      logGroupName: `/aws/lambda/${fn.name}`,
      logStreamName,
      providedModules: PROVIDED_MODULES,
      compileCache: this.compileCache(),
      sandbox: id,
      callHeader: CALL_HEADER,
      egress: EGRESS_WIRE,
    };
    const node = nodeForRuntime(fn.runtime);
    // The cold start is work from here: the clock runs at real speed before the init limit is read from it, so a
    // pause of this process (a slow fork, a loaded machine) costs the init real milliseconds, not `scale` times as
    // many virtual ones (at scale 1000, 10 ms would use up the whole 10-second limit before the function started).
    const release = this.options.clock.busy();
    let worker: ChildProcess;
    try {
      worker = spawn(node.path, ['-e', workerSource()], {
        env: this.environment(fn, init, node),
        // stdin unused; stdout and stderr drained into the log; the IPC channel carries invocations and results.
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
    } catch (err) {
      release();
      throw err;
    }
    const initLimit = this.options.clock.nowMs() + INIT_TIMEOUT_MS;
    const sandbox: Sandbox = {
      id,
      fn,
      worker,
      pending: new Map([[first.id, first]]),
      ready: false,
      retired: false,
      spawnedAt: performance.now(),
      exited: new Promise((done) => worker.once('exit', () => done())),
      // Past the limit, the init goes on under the function's timeout, as Lambda's retried init runs (a second init
      // here would only repeat the same work on a machine that is slower than Lambda's).
      cancelInit: this.options.clock.at(initLimit, () => {
        this.log(fn, `INIT_REPORT Init Duration: ${INIT_TIMEOUT_MS}.00 ms\tPhase: init\tStatus: timeout\n`);
        // From the limit's instant: the clock may already read later, however late this callback ran.
        for (const pending of sandbox.pending.values()) this.startTimeout(sandbox, pending, initLimit);
      }),
      timers: new Map(),
      due: [],
      seq: 0,
      syncs: new Map(),
      release,
    };
    // Output is captured through the IPC channel; the raw streams only need draining.
    worker.stdout!.on('data', (chunk: Buffer) => this.log(fn, chunk.toString('utf8')));
    worker.stderr!.on('data', (chunk: Buffer) => this.log(fn, chunk.toString('utf8')));
    worker.on('message', (message: FromWorker) => this.onMessage(sandbox, message));
    worker.on('error', (err) => this.retire(sandbox, () => new LambdaInvokeError(errorDocument(err))));
    worker.on('exit', (code, signal) =>
      this.retire(sandbox, (requestId) =>
        exitError(requestId, code === null ? `signal: ${signal === 'SIGKILL' ? 'killed' : 'terminated'}` : `exit status ${code}`),
      ),
    );
    this.sandboxes.set(fn.name, sandbox);
    this.byId.set(id, sandbox);
    this.wake(sandbox, { type: 'init', init });
    return sandbox;
  }

  /**
   * V8's code cache, kept between cold starts in the state directory (0700, like all of it): on a loaded machine it
   * is what keeps a cold start well inside Lambda's 10-second init.
   */
  private compileCache(): string | undefined {
    if (!this.options.logDir) return undefined;
    const dir = join(this.options.logDir, '..', 'compile-cache');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    return dir;
  }

  /**
   * A message that gives the function work: the environment holds the clock first, so the mapping the message carries
   * (virtual time at real speed) is the one the function runs on until it reports `quiet` for this message.
   */
  private wake(sandbox: Sandbox, message: DistributiveOmit<ToWorker, 'seq' | 'clock'>): void {
    this.hold(sandbox);
    this.send(sandbox, { ...message, seq: sandbox.seq, clock: this.options.clock.clockSpec() } as ToWorker);
  }

  /** The environment gets work (message `seq`, sent next): it holds the clock from here, until it reports `quiet`. */
  private hold(sandbox: Sandbox): void {
    sandbox.seq++;
    this.update(sandbox);
  }

  /**
   * Holds the clock while the environment works for an invocation: from the cold start until it reports that it
   * has nothing left to run but timers and calls that the runtime marked as waits (Clock.waitFor).
   */
  private update(sandbox: Sandbox): void {
    const { quiet } = sandbox;
    const waits = quiet !== undefined && quiet.seq === sandbox.seq && quiet.calls.every((c) => this.waiting.has(c));
    const works = !sandbox.retired && sandbox.pending.size > 0 && !waits;
    if (works && !sandbox.release) sandbox.release = this.options.clock.busy();
    if (!works && sandbox.release) {
      sandbox.release();
      sandbox.release = undefined;
    }
  }

  /** A message to the environment; one whose process is gone is dropped (its exit fails what it held). */
  private send(sandbox: Sandbox, message: ToWorker): void {
    if (sandbox.worker.connected) sandbox.worker.send(message, (err) => err && this.retire(sandbox, () => new LambdaInvokeError(errorDocument(err))));
  }

  /** A timer of the function, on the virtual clock. */
  private setTimer(sandbox: Sandbox, id: number, at: number): void {
    sandbox.timers.get(id)?.();
    sandbox.timers.set(
      id,
      this.options.clock.at(at, () => {
        sandbox.timers.delete(id);
        if (sandbox.pending.size > 0) this.wake(sandbox, { type: 'fire', ids: [id] });
        else sandbox.due.push(id);
      }),
    );
  }

  private clearTimer(sandbox: Sandbox, id: number): void {
    sandbox.timers.get(id)?.();
    sandbox.timers.delete(id);
    sandbox.due = sandbox.due.filter((d) => d !== id);
  }

  private environment(fn: LambdaFunction, init: WorkerInit, node: NodeBinary): Record<string, string> {
    const env: Record<string, string> = {
      PATH: '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin',
      LANG: 'en_US.UTF-8',
      ...fn.environment,
      // Reserved variables: Lambda sets these itself, whatever the template says.
      TZ: 'UTC',
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_ACCESS_KEY_ID: (fn.credentials ?? this.options.credentials)?.accessKeyId ?? LAMBDA_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: (fn.credentials ?? this.options.credentials)?.secretAccessKey ?? 'x',
      AWS_ENDPOINT_URL: this.options.endpoint(),
      AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime ?? DEFAULT_RUNTIME}`,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(init.memoryMb),
      AWS_LAMBDA_LOG_GROUP_NAME: init.logGroupName,
      AWS_LAMBDA_LOG_STREAM_NAME: init.logStreamName,
      // An on-demand environment (no provisioned concurrency); Powertools reads it to report cold starts.
      // https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      _HANDLER: fn.handler,
      LAMBDA_TASK_ROOT: fn.assetDir,
      // No X-Ray daemon locally: tracing libraries must stay quiet instead of failing or warning.
      AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
      POWERTOOLS_TRACE_DISABLED: 'true',
    };
    // Only where no Node of the runtime's major was found (the runtime said so at startup): the SDK would warn.
    if (!node.matches) env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    if (fn.credentials) env.AWS_SESSION_TOKEN = fn.credentials.sessionToken;
    else delete env.AWS_SESSION_TOKEN;
    delete env.NODE_OPTIONS;
    return env;
  }

  private onMessage(sandbox: Sandbox, message: FromWorker) {
    switch (message.type) {
      case 'log':
        return this.log(sandbox.fn, message.text);
      case 'timer':
        return this.setTimer(sandbox, message.id, message.at);
      case 'clear':
        return this.clearTimer(sandbox, message.id);
      case 'quiet':
        sandbox.quiet = { seq: message.seq, calls: message.calls };
        return this.update(sandbox);
      case 'synced':
        sandbox.syncs.get(message.seq)?.();
        sandbox.syncs.delete(message.seq);
        return;
      case 'ready':
        sandbox.cancelInit();
        sandbox.ready = true;
        sandbox.initDuration = performance.now() - sandbox.spawnedAt;
        for (const pending of sandbox.pending.values()) this.dispatch(sandbox, pending);
        return;
      case 'init-error':
        this.log(
          sandbox.fn,
          `${new Date(this.options.clock.nowMs()).toISOString()}\tundefined\tERROR\tUncaught Exception \t${JSON.stringify(message.error)}\n`,
        );
        return this.retire(sandbox, () => new LambdaInvokeError(message.error));
      case 'fatal':
        this.log(
          sandbox.fn,
          `${new Date(this.options.clock.nowMs()).toISOString()}\tundefined\tERROR\t${message.error.errorType} \t${JSON.stringify(message.error)}\n`,
        );
        return this.retire(sandbox, () => new LambdaInvokeError(message.error));
      case 'result':
      case 'error': {
        const pending = this.settle(sandbox, message.id);
        if (!pending) return; // already timed out
        const limit = this.options.limits?.payloadBytes;
        if (message.type === 'result' && limit !== undefined && Buffer.byteLength(message.payload) > limit) {
          pending.reject(
            new LambdaInvokeError({
              errorType: 'Function.ResponseSizeTooLarge',
              errorMessage: `Response payload size exceeded maximum allowed payload size (${limit} bytes).`,
              trace: [],
            }),
          );
        } else if (message.type === 'result') pending.resolve(JSON.parse(message.payload));
        else pending.reject(new LambdaInvokeError(message.error));
        return;
      }
    }
  }

  private dispatch(sandbox: Sandbox, pending: Pending) {
    pending.started = performance.now();
    this.log(sandbox.fn, `START RequestId: ${pending.id} Version: $LATEST\n`);
    // The clock is held before the timeout is read from it, as in `spawn`: a pause in between costs the invocation
    // real milliseconds, not `scale` times as many virtual ones (up to its whole timeout).
    this.hold(sandbox);
    this.startTimeout(sandbox, pending, this.options.clock.nowMs());
    this.send(sandbox, {
      type: 'invoke',
      id: pending.id,
      payload: pending.payload,
      deadline: pending.deadline!,
      seq: sandbox.seq,
      clock: this.options.clock.clockSpec(),
    });
    // Thawed: what fell due while the environment was frozen runs now.
    if (sandbox.due.length) this.wake(sandbox, { type: 'fire', ids: sandbox.due.splice(0) });
  }

  /**
   * The function's timeout, on the virtual clock: real time while the function works, the scale's while it waits (a
   * function that sleeps past its timeout times out, as on AWS). Started once: at the invocation, or when a cold
   * start outlasts the init limit: `from` is that instant.
   */
  private startTimeout(sandbox: Sandbox, pending: Pending, from: number) {
    if (pending.deadline !== undefined) return;
    pending.deadline = from + sandbox.fn.timeoutSeconds * 1000;
    pending.cancelTimeout = this.options.clock.at(pending.deadline, () => this.timeOut(sandbox, pending));
  }

  private settle(sandbox: Sandbox, id: string): Pending | undefined {
    const pending = sandbox.pending.get(id);
    if (!pending) return undefined;
    pending.cancelTimeout?.();
    sandbox.pending.delete(id);
    this.update(sandbox);
    if (pending.started === undefined) return pending; // never dispatched: nothing ran, nothing to report
    const duration = performance.now() - pending.started;
    const init = sandbox.initDuration === undefined ? '' : `\tInit Duration: ${sandbox.initDuration.toFixed(2)} ms`;
    sandbox.initDuration = undefined;
    const memory = sandbox.fn.memoryMb ?? 128;
    this.log(
      sandbox.fn,
      `END RequestId: ${id}\nREPORT RequestId: ${id}\tDuration: ${duration.toFixed(2)} ms\tBilled Duration: ${Math.ceil(duration)} ms\tMemory Size: ${memory} MB${init}\n`,
    );
    return pending;
  }

  private timeOut(sandbox: Sandbox, pending: Pending) {
    const seconds = sandbox.fn.timeoutSeconds.toFixed(2);
    this.log(sandbox.fn, `${new Date(this.options.clock.nowMs()).toISOString()} ${pending.id} Task timed out after ${seconds} seconds\n`);
    this.settle(sandbox, pending.id);
    pending.reject(
      new LambdaInvokeError({
        errorType: 'Sandbox.Timedout',
        errorMessage: `RequestId: ${pending.id} Error: Task timed out after ${seconds} seconds`,
        trace: [],
      }),
    );
    // The handler may still be running: the environment is not reusable.
    this.retire(sandbox, (id) => exitError(id, 'signal: killed'));
  }

  /** Takes an environment out of service, failing what it still holds; the next invocation cold-starts. */
  private retire(sandbox: Sandbox, cause: (requestId: string) => LambdaInvokeError) {
    if (sandbox.retired) return;
    sandbox.retired = true;
    sandbox.cancelInit();
    for (const cancel of sandbox.timers.values()) cancel();
    sandbox.timers.clear();
    for (const synced of sandbox.syncs.values()) synced();
    sandbox.syncs.clear();
    if (this.sandboxes.get(sandbox.fn.name) === sandbox) this.sandboxes.delete(sandbox.fn.name);
    this.byId.delete(sandbox.id);
    for (const pending of [...sandbox.pending.values()]) {
      const err = cause(pending.id);
      if (pending.started !== undefined) this.log(sandbox.fn, `${err.errorMessage}\n${err.errorType}\n`);
      this.settle(sandbox, pending.id);
      pending.reject(err);
    }
    sandbox.worker.kill('SIGKILL');
  }

  private log(fn: LambdaFunction, text: string) {
    if (!this.options.logDir) return;
    // Synchronous, so the log is complete by the time the caller sees the result.
    // Function logs may quote task tokens: readable by this user only.
    appendFileSync(join(this.options.logDir, `${fn.name}.log`), text, { mode: 0o600 });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function exitError(requestId: string, reason: string): LambdaInvokeError {
  return new LambdaInvokeError({
    errorType: 'Runtime.ExitError',
    errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${reason}`,
    trace: [],
  });
}

function errorDocument(err: Error): LambdaErrorDocument {
  return { errorType: err.name, errorMessage: err.message, trace: (err.stack ?? '').split('\n') };
}

let compiledWorker: string | undefined;

/** The environment's bootstrap, transpiled once: it runs on plain Node, without tsx's loaders. */
function workerSource(): string {
  compiledWorker ??= transformSync(readFileSync(join(__dirname, 'lambda-worker.ts'), 'utf8'), {
    loader: 'ts',
    format: 'cjs',
    target: 'node18',
    sourcefile: 'lambda-worker.ts',
  }).code;
  return compiledWorker;
}
