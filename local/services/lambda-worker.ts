/**
 * Bootstrap of one Lambda execution environment: a Node.js process that `LambdaRunner` (local/services/lambda.ts)
 * starts per function, on the Node.js major the function's Lambda runtime names (`nodejs22.x` runs on Node 22),
 * with the function's environment and nothing else. It plays the part of the Node.js Lambda runtime: follows the
 * runtime's virtual clock, formats console output like Lambda, loads the handler once (the cold start) and answers
 * invocations with the Lambda result or error document, over the IPC channel.
 *
 * The runner transpiles this file and starts it with `node -e`, so it must stay self-contained: Node built-ins
 * only, and type-only imports.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format as formatLog } from 'node:util';
import type { ClockSpec } from '../kernel';

export interface WorkerInit {
  taskRoot: string;
  handler: string;
  /** The runtime's clock mapping at the cold start. */
  clock: ClockSpec;
  functionName: string;
  functionArn: string;
  memoryMb: number;
  logGroupName: string;
  logStreamName: string;
  /**
   * node_modules holding what the Lambda runtime provides (the AWS SDK v3, which bundles leave external);
   * searched last, so a bundle found outside the project still loads it.
   */
  providedModules: string;
  /** Where Node keeps compiled code between cold starts (module.enableCompileCache, Node 22.1+). */
  compileCache?: string;
}

/** The error document Lambda returns for a failed invocation. */
export interface LambdaErrorDocument {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

export type ToWorker =
  /** The first message: what to load, and the clock's mapping at the cold start. */
  | { type: 'init'; init: WorkerInit }
  /** `clock`: the runtime's clock mapping as the invocation starts (it holds while the invocation runs). */
  | { type: 'invoke'; id: string; payload: string; deadline: number; clock: ClockSpec };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'init-error'; error: LambdaErrorDocument }
  | { type: 'result'; id: string; payload: string }
  | { type: 'error'; id: string; error: LambdaErrorDocument }
  /** The environment is broken (uncaught exception, unhandled rejection): fail what is in flight, recycle. */
  | { type: 'fatal'; error: LambdaErrorDocument }
  | { type: 'log'; text: string };

type Handler = (event: unknown, context: unknown, callback: (err?: unknown, result?: unknown) => void) => unknown;

const post = (message: FromWorker) => process.send!(message);
const realNow = Date.now;
const requestContext = new AsyncLocalStorage<string>();
/** The runtime's clock mapping, renewed by every invocation. */
let clock: ClockSpec;
let init: WorkerInit;
let handler: Handler;

// The runtime went away (stopped, crashed, killed): so does the environment.
process.on('disconnect', () => process.exit(0));
process.on('message', (message: ToWorker) => {
  if (message.type === 'init') start(message.init);
  else {
    clock = message.clock;
    void invoke(message);
  }
});

function start(received: WorkerInit) {
  init = received;
  clock = init.clock;
  installVirtualClock();
  captureOutput();
  process.on('uncaughtException', (err) => post({ type: 'fatal', error: errorDocument(err) }));
  process.on('unhandledRejection', (reason) =>
    post({ type: 'fatal', error: { errorType: 'Runtime.UnhandledPromiseRejection', errorMessage: `${String(reason)}`, trace: errorDocument(reason).trace } }),
  );
  // A cold start compiles the bundle and the SDK again: V8's code cache on disk makes the next ones cheaper (on a
  // loaded machine, the difference between a cold start and Lambda's 10-second init limit).
  if (init.compileCache) (require('node:module') as { enableCompileCache?(dir: string): unknown }).enableCompileCache?.(init.compileCache);
  // NODE_PATH is read once, at start: re-read it with the provided modules appended.
  process.env.NODE_PATH = [process.env.NODE_PATH, init.providedModules].filter(Boolean).join(':');
  (require('node:module') as { _initPaths(): void })._initPaths();
  loadHandler(init.taskRoot, init.handler).then(
    (loaded) => {
      handler = loaded;
      post({ type: 'ready' });
    },
    (err: unknown) => post({ type: 'init-error', error: initErrorDocument(err) }),
  );
}

/**
 * `Date.now()` and `new Date()` follow the runtime's virtual clock; `Date(x)`, `Date.UTC`, `Date.parse`
 * stay as they are. Subclasses of Date keep working (Reflect.construct with new.target). Timers need no change:
 * while an invocation runs, the runtime's clock runs at real speed (`rate` 1, see Clock in local/kernel.ts), so a
 * real `setTimeout(1000)` is one virtual second, as the function's `Date` measures it.
 */
function installVirtualClock() {
  const RealDate = Date;
  const virtualNow = () => Math.floor(clock.virtualMs + (realNow() - clock.realMs) * clock.rate);
  function VirtualDate(this: unknown, ...args: unknown[]) {
    if (!new.target) return new RealDate(virtualNow()).toString();
    return Reflect.construct(RealDate, args.length === 0 ? [virtualNow()] : args, new.target);
  }
  VirtualDate.prototype = RealDate.prototype;
  Object.defineProperty(RealDate.prototype, 'constructor', { value: VirtualDate, writable: true, configurable: true });
  Object.assign(VirtualDate, { now: virtualNow, UTC: RealDate.UTC, parse: RealDate.parse });
  globalThis.Date = VirtualDate as unknown as DateConstructor;
}

/**
 * Output travels on the message port, the same channel as results, so a log line written before the
 * handler returns is in the log file before the caller sees the result. Console lines get Lambda's
 * text format: `<time>\t<request id>\t<LEVEL>\t<message>`.
 */
function captureOutput() {
  for (const stream of [process.stdout, process.stderr]) {
    stream.write = ((chunk: string | Uint8Array, encoding?: unknown, callback?: unknown) => {
      post({ type: 'log', text: typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8') });
      const done = typeof encoding === 'function' ? encoding : callback;
      if (typeof done === 'function') done();
      return true;
    }) as typeof stream.write;
  }
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE' } as const;
  for (const [method, level] of Object.entries(levels)) {
    const stream = level === 'INFO' || level === 'DEBUG' ? process.stdout : process.stderr;
    (console as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      // Lambda prints `undefined` as the request id for lines written during the cold start.
      stream.write(`${new Date().toISOString()}\t${requestContext.getStore()}\t${level}\t${formatLog(...args)}\n`);
    };
  }
}

/** Resolves `dir/file.export.path` the way the Node.js runtime does: file.js, file.mjs, then file.cjs. */
async function loadHandler(taskRoot: string, handlerName: string): Promise<Handler> {
  const slash = handlerName.lastIndexOf('/');
  const moduleDir = join(taskRoot, handlerName.slice(0, slash + 1));
  const match = /^([^.]*)\.(.+)$/.exec(handlerName.slice(slash + 1));
  if (!match) throw runtimeError('Runtime.MalformedHandlerName', `Bad handler ${handlerName}`);
  const [, moduleName, exportPath] = match;
  const file = ['.js', '.mjs', '.cjs'].map((ext) => join(moduleDir, moduleName + ext)).find((f) => existsSync(f));
  if (!file) throw runtimeError('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'`);
  const loaded: Record<string, unknown> = isEsm(file) ? await import(pathToFileURL(file).href) : require(file);
  const fn = exportPath.split('.').reduce<unknown>((obj, key) => (obj as Record<string, unknown> | undefined)?.[key], loaded);
  if (typeof fn !== 'function') throw runtimeError('Runtime.HandlerNotFound', `${handlerName} is undefined or not exported`);
  return fn as Handler;
}

function isEsm(file: string): boolean {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: string }).type === 'module';
    if (dir === init.taskRoot || dirname(dir) === dir) return false;
  }
}

async function invoke(message: Extract<ToWorker, { type: 'invoke' }>) {
  const { id, deadline } = message;
  const context = {
    awsRequestId: id,
    functionName: init.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: init.functionArn,
    memoryLimitInMB: String(init.memoryMb),
    logGroupName: init.logGroupName,
    logStreamName: init.logStreamName,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - realNow()),
  };
  try {
    const result = await requestContext.run(id, () => callHandler(JSON.parse(message.payload), context));
    let payload: string;
    try {
      payload = JSON.stringify(result === undefined ? null : result);
    } catch (err) {
      throw runtimeError('Runtime.MarshalError', `Unable to stringify response body: ${(err as Error).message}`);
    }
    post({ type: 'result', id, payload });
  } catch (err) {
    post({ type: 'error', id, error: errorDocument(err) });
  }
}

/** Async handlers return a promise; callback-style handlers call back. */
function callHandler(event: unknown, context: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const callback = (err?: unknown, result?: unknown) => (err ? reject(err) : resolve(result));
    const returned = handler(event, context, callback);
    if (returned && typeof (returned as Promise<unknown>).then === 'function') (returned as Promise<unknown>).then(resolve, reject);
  });
}

/** As the Node.js runtime reports errors: `errorType` is the error's name. */
function errorDocument(err: unknown): LambdaErrorDocument {
  if (err instanceof Error) return { errorType: err.name, errorMessage: err.message, trace: (err.stack ?? '').split('\n') };
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

function initErrorDocument(err: unknown): LambdaErrorDocument {
  const doc = errorDocument(err);
  return err instanceof SyntaxError ? { ...doc, errorType: 'Runtime.UserCodeSyntaxError', errorMessage: `${err.name}: ${err.message}` } : doc;
}

function runtimeError(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}
