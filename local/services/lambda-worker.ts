/**
 * Bootstrap of one Lambda execution environment: a Node.js process that `LambdaRunner` (local/services/lambda.ts)
 * starts per function, on the Node.js major the function's Lambda runtime names (`nodejs22.x` runs on Node 22),
 * with the function's environment and nothing else. It plays the part of the Node.js Lambda runtime: formats console
 * output like Lambda, loads the handler once (the cold start) and answers invocations with the Lambda result or error
 * document, over the IPC channel. It also keeps the function on the runtime's one virtual clock (see Clock in
 * local/kernel.ts): `Date` reads it, timers are set on it through the runner, calls to the runtime carry their name
 * (CALL_HEADER), and the process says when it has nothing left to run but timers and calls (`quiet`), so that a
 * function that waits does not hold the clock at real speed.
 *
 * The runner transpiles this file and starts it with `node -e`, so it must stay self-contained: Node built-ins
 * only, and type-only imports.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import type { ClientRequest } from 'node:http';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format as formatLog, promisify } from 'node:util';
import type { ClockSpec } from '../kernel';
import type { EgressWire } from '../network/egress';

export interface WorkerInit {
  taskRoot: string;
  handler: string;
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
  /** Names this environment's calls to the runtime: `<sandbox>:<n>` in the CALL_HEADER header. */
  sandbox: string;
  /** CALL_HEADER (a value import would break `node -e`: this file imports types only). */
  callHeader: string;
  /** Where outbound calls that are not to the runtime's AWS endpoint go instead of the internet (local/network/egress.ts). */
  egress: EgressWire;
}

/** The error document Lambda returns for a failed invocation. */
export interface LambdaErrorDocument {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

/**
 * Every message gives the function something to run: it carries the clock's mapping (valid while the function works:
 * the runner holds the clock at real speed until the function reports `quiet` for this `seq`).
 */
export type ToWorker = { seq: number; clock: ClockSpec } /** The first message: what to load. */ & (
  | { type: 'init'; init: WorkerInit }
  /** `deadline`: virtual epoch ms at which the invocation times out. */
  | { type: 'invoke'; id: string; payload: string; deadline: number }
  /** Timers that fell due. */
  | { type: 'fire'; ids: number[] }
  /** A call waited while virtual time ran at the scale: the new mapping, before the call's answer arrives. */
  | { type: 'clock' }
);

export type FromWorker =
  | { type: 'ready' }
  | { type: 'init-error'; error: LambdaErrorDocument }
  | { type: 'result'; id: string; payload: string }
  | { type: 'error'; id: string; error: LambdaErrorDocument }
  /** The environment is broken (uncaught exception, unhandled rejection): fail what is in flight, recycle. */
  | { type: 'fatal'; error: LambdaErrorDocument }
  | { type: 'log'; text: string }
  /** A timer on the runtime's clock, due at virtual epoch ms `at` (set again under the same id: moved). */
  | { type: 'timer'; id: number; at: number }
  | { type: 'clear'; id: number }
  /** Nothing left to run but timers and `calls` in flight, as of message `seq`. */
  | { type: 'quiet'; seq: number; calls: string[] }
  /** The `clock` message `seq` is installed. */
  | { type: 'synced'; seq: number };

type Handler = (event: unknown, context: unknown, callback: (err?: unknown, result?: unknown) => void) => unknown;

const post = (message: FromWorker) => process.send!(message);
const realNow = Date.now;
const realSetTimeout = setTimeout;
const requestContext = new AsyncLocalStorage<string>();
/** The runtime's clock mapping, renewed by every message. */
let clock: ClockSpec;
let init: WorkerInit;
let handler: Handler;
/** The latest message from the runner. */
let seq = 0;

// The runtime went away (stopped, crashed, killed): so does the environment.
process.on('disconnect', () => process.exit(0));
process.on('message', (message: ToWorker) => {
  seq = message.seq;
  clock = message.clock;
  switch (message.type) {
    case 'init':
      start(message.init);
      break;
    case 'invoke':
      void invoke(message);
      break;
    case 'fire':
      for (const id of message.ids) fire(id);
      break;
    case 'clock':
      post({ type: 'synced', seq });
      break;
  }
  checkQuiet();
});

function start(received: WorkerInit) {
  init = received;
  installVirtualClock();
  installVirtualTimers();
  nameCalls();
  captureOutput();
  process.on('uncaughtException', (err) => post({ type: 'fatal', error: errorDocument(err) }));
  process.on('unhandledRejection', (reason) =>
    post({ type: 'fatal', error: { errorType: 'Runtime.UnhandledPromiseRejection', errorMessage: `${String(reason)}`, trace: errorDocument(reason).trace } }),
  );
  // A cold start compiles the bundle and the SDK again: V8's code cache on disk makes the next ones cheaper (on a
  // loaded machine, the difference between a cold start and Lambda's 10-second init limit).
  if (init.compileCache) enableCompileCache(init.compileCache);
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

/** V8's code cache in the runtime's state directory, which holds only what this user may read (0700). */
function enableCompileCache(dir: string) {
  const enabled = (require('node:module') as { enableCompileCache?(dir: string): unknown }).enableCompileCache?.(dir);
  // Node creates its per-version directory with the default mode (its files are 0600).
  if (enabled) for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) chmodSync(join(dir, entry.name), 0o700);
}

const virtualNow = () => Math.floor(clock.virtualMs + (realNow() - clock.realMs) * clock.rate);

/**
 * `Date.now()` and `new Date()` follow the runtime's virtual clock; `Date(x)`, `Date.UTC`, `Date.parse`
 * stay as they are. Subclasses of Date keep working (Reflect.construct with new.target).
 */
function installVirtualClock() {
  const RealDate = Date;
  function VirtualDate(this: unknown, ...args: unknown[]) {
    if (!new.target) return new RealDate(virtualNow()).toString();
    return Reflect.construct(RealDate, args.length === 0 ? [virtualNow()] : args, new.target);
  }
  VirtualDate.prototype = RealDate.prototype;
  Object.defineProperty(RealDate.prototype, 'constructor', { value: VirtualDate, writable: true, configurable: true });
  Object.assign(VirtualDate, { now: virtualNow, UTC: RealDate.UTC, parse: RealDate.parse });
  globalThis.Date = VirtualDate as unknown as DateConstructor;
}

/** The function's timers waiting to fire, by id. */
const timers = new Map<number, VirtualTimeout>();
let lastTimerId = 0;

/** What setTimeout and setInterval return, as Node's Timeout (ref/unref change nothing: the IPC channel keeps the process up). */
class VirtualTimeout {
  readonly id = ++lastTimerId;
  private refed = true;

  constructor(
    readonly callback: (...args: unknown[]) => void,
    readonly args: unknown[],
    /** Node's rule: a delay that is not a number from 1 to 2^31 - 1 ms is 1 ms. */
    readonly delay: number,
    /** setInterval: fires again `delay` after each firing. */
    readonly repeat: boolean,
  ) {}

  /** Due `delay` from now (again, for `refresh`, even once it has fired). */
  start() {
    timers.set(this.id, this);
    post({ type: 'timer', id: this.id, at: virtualNow() + this.delay });
    return this;
  }
  ref() {
    this.refed = true;
    return this;
  }
  unref() {
    this.refed = false;
    return this;
  }
  hasRef() {
    return this.refed;
  }
  refresh() {
    return this.start();
  }
  close() {
    clear(this);
    return this;
  }
  [Symbol.toPrimitive]() {
    return this.id;
  }
}

function set(callback: unknown, ms: unknown, args: unknown[], repeat: boolean): VirtualTimeout {
  if (typeof callback !== 'function')
    throw Object.assign(new TypeError(`The "callback" argument must be of type function. Received ${typeof callback}`), { code: 'ERR_INVALID_ARG_TYPE' });
  const n = Number(ms);
  return new VirtualTimeout(callback as VirtualTimeout['callback'], args, n >= 1 && n <= 2 ** 31 - 1 ? n : 1, repeat).start();
}

function clear(handle: unknown) {
  const id = handle instanceof VirtualTimeout ? handle.id : typeof handle === 'number' || typeof handle === 'string' ? Number(handle) : undefined;
  if (id !== undefined && timers.delete(id)) post({ type: 'clear', id });
}

function fire(id: number) {
  const timer = timers.get(id);
  if (!timer) return;
  if (timer.repeat) timer.start();
  else timers.delete(id);
  timer.callback(...timer.args);
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: signal.reason });
}

/** timers/promises' setTimeout (and scheduler.wait) on the virtual clock. */
function sleep<T>(ms?: number, value?: T, options: { signal?: AbortSignal } = {}): Promise<T> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clear(handle);
      reject(abortError(signal!));
    };
    const handle = set(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(value as T);
      },
      ms,
      [],
      false,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** timers/promises' setInterval: an async iterator that yields `value` every `ms` of virtual time. */
async function* interval<T>(ms?: number, value?: T, options: { signal?: AbortSignal } = {}): AsyncGenerator<T> {
  for (;;) yield await sleep(ms, value, options);
}

/**
 * The function's timers are the runtime clock's timers: the runner schedules them (Clock.at) and says when they fire.
 * `setImmediate` and `process.nextTick` are runnable work and stay as they are; so do Node's own internal timers
 * (socket timeouts).
 */
function installVirtualTimers() {
  const setTimeoutV = (callback: unknown, ms?: unknown, ...args: unknown[]) => set(callback, ms, args, false);
  const setIntervalV = (callback: unknown, ms?: unknown, ...args: unknown[]) => set(callback, ms, args, true);
  Object.defineProperty(setTimeoutV, promisify.custom, { value: sleep });
  const patch = { setTimeout: setTimeoutV, setInterval: setIntervalV, clearTimeout: clear, clearInterval: clear };
  Object.assign(globalThis, patch);
  Object.assign(require('node:timers') as object, patch);
  const promises = require('node:timers/promises') as { setTimeout: unknown; setInterval: unknown; scheduler: { wait: unknown } };
  Object.assign(promises, { setTimeout: sleep, setInterval: interval });
  promises.scheduler.wait = (ms: number, options?: { signal?: AbortSignal }) => sleep(ms, undefined, options);
  // ES modules that import these names see the new functions too.
  (require('node:module') as { syncBuiltinESMExports(): void }).syncBuiltinESMExports();
}

/** Calls in flight (node:http, node:https and fetch): to the runtime, by their name. */
const calls = new Set<string>();
let lastCall = 0;

/** A new call's name, counted in flight until `end` (reported at once: until the runtime says the call waits, it is work). */
function startCall(): { id: string; end: () => void } {
  const id = `${init.sandbox}:${++lastCall}`;
  calls.add(id);
  checkQuiet();
  let ended = false;
  return {
    id,
    end: () => {
      if (ended) return;
      ended = true;
      calls.delete(id);
      checkQuiet();
    },
  };
}

/**
 * Every call a function makes leaves through the runtime, named by CALL_HEADER: calls to its AWS endpoint
 * (AWS_ENDPOINT_URL) go there as they are, so that a request that waits on virtual time (a long poll) can tell the
 * runner whose call waits, and so that the network model can hold a call that the function's VPC gives no way out;
 * every other call (node:http, node:https, and fetch, which does not use them) goes to the runtime's egress path
 * with its URL, instead of to the internet: the network model decides whether it leaves, and from which address, and
 * the runtime's stand-in for that host answers it (local/network/).
 */
function nameCalls() {
  const runtime = new URL(process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1');
  const http = require('node:http') as typeof import('node:http');
  const toRuntime = http.request;
  for (const name of ['node:http', 'node:https']) {
    const mod = require(name) as typeof import('node:http');
    const request = mod.request;
    const defaultProtocol = name === 'node:https' ? 'https:' : 'http:';
    const tracked = function (this: unknown, ...args: unknown[]): ClientRequest {
      const target = requestTarget(defaultProtocol, args);
      const call = startCall();
      let req: ClientRequest;
      if (!target || target.host === runtime.host) {
        req = (request as (...a: unknown[]) => ClientRequest).apply(this, args);
        try {
          req.setHeader(init.callHeader, call.id);
        } catch {
          // headers already sent: the call is not named, and counts as work until it ends
        }
      } else {
        req = egressRequest(toRuntime, runtime, target, args, call.id);
      }
      req.once('close', call.end);
      return req;
    };
    mod.request = tracked as typeof mod.request;
    mod.get = function (this: unknown, ...args: unknown[]) {
      const req = tracked.apply(this, args);
      req.end();
      return req;
    } as typeof mod.get;
  }
  const realFetch = globalThis.fetch;
  if (realFetch) globalThis.fetch = (input, options) => egressFetch(realFetch, runtime, new Request(input, options), 0);
  // ES modules that import `request` or `get` by name see the new functions too.
  (require('node:module') as { syncBuiltinESMExports(): void }).syncBuiltinESMExports();
}

type RequestOptions = import('node:http').RequestOptions;

/** The URL a node:http(s) `request(url?, options?, callback?)` call asks for, as Node resolves its arguments. */
function requestTarget(defaultProtocol: string, args: unknown[]): (URL & { options: RequestOptions }) | undefined {
  const first = args[0];
  const url = typeof first === 'string' || first instanceof URL ? new URL(String(first)) : undefined;
  const options = ((url ? args[1] : first) ?? {}) as RequestOptions;
  if (typeof options !== 'object') return Object.assign(url ?? new URL(`${defaultProtocol}//localhost/`), { options: {} });
  const protocol = options.protocol ?? url?.protocol ?? defaultProtocol;
  const hostname = options.hostname ?? options.host?.replace(/:\d+$/, '') ?? url?.hostname ?? 'localhost';
  const port = options.port ?? url?.port ?? '';
  const path = options.path ?? (url ? url.pathname + url.search : '/');
  try {
    const target = new URL(`${protocol}//${hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname}${port ? `:${port}` : ''}${path}`);
    return Object.assign(target, { options });
  } catch {
    return undefined;
  }
}

/** How a failed lookup or connection shows to the function: the error Node raises for it. */
function networkError(code: string, target: URL, connectTimeoutMs?: number): Error {
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  if (code === 'UND_ERR_CONNECT_TIMEOUT')
    return Object.assign(new Error(`Connect Timeout Error (attempted address: ${target.hostname}:${port}, timeout: ${connectTimeoutMs}ms)`), {
      name: 'ConnectTimeoutError',
      code,
    });
  // getaddrinfo's error, as dns.lookup reports it (https://nodejs.org/api/dns.html#error-codes).
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${target.hostname}`), {
    errno: -3008,
    code: 'ENOTFOUND',
    syscall: 'getaddrinfo',
    hostname: target.hostname,
  });
}

/** A node:http(s) request to another host, sent to the runtime's egress path instead; its answer is the host's. */
function egressRequest(
  toRuntime: typeof import('node:http').request,
  runtime: URL,
  target: URL & { options: RequestOptions },
  args: unknown[],
  call: string,
): ClientRequest {
  const { options } = target;
  const callback = args.find((a) => typeof a === 'function') as ((res: import('node:http').IncomingMessage) => void) | undefined;
  const headers: Record<string, string | string[] | number> = {};
  for (const [k, v] of Object.entries((options.headers ?? {}) as Record<string, string | string[] | number | undefined>)) if (v !== undefined) headers[k] = v;
  if (options.auth && !Object.keys(headers).some((k) => k.toLowerCase() === 'authorization'))
    headers.authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
  const url = new URL(target.href);
  const req = toRuntime(
    new URL(init.egress.path, runtime),
    {
      method: options.method ?? 'GET',
      headers: { ...headers, [init.egress.urlHeader]: url.href, [init.callHeader]: call },
      signal: options.signal,
      timeout: options.timeout,
    },
    callback,
  );
  // The runtime says the lookup or the connection failed: the function sees that error, not a response.
  const emit = req.emit;
  req.emit = function (this: ClientRequest, event: string | symbol, ...rest: unknown[]): boolean {
    const res = rest[0] as import('node:http').IncomingMessage | undefined;
    const code = event === 'response' ? res?.headers[init.egress.errorHeader] : undefined;
    if (typeof code !== 'string') return emit.call(this, event, ...rest);
    res!.resume();
    this.destroy(networkError(code, url));
    return true;
  } as ClientRequest['emit'];
  return req;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * fetch, whose calls go to the runtime as node:http's do: to the AWS endpoint named, elsewhere through the egress
 * path. The egress answer is read whole, then handed over as the host's Response (redirects followed here, as
 * fetch follows them, so that a redirect to another host leaves through the runtime too).
 */
async function egressFetch(realFetch: typeof fetch, runtime: URL, request: Request, redirects: number): Promise<Response> {
  const url = new URL(request.url);
  const call = startCall();
  try {
    const headers = new Headers(request.headers);
    headers.set(init.callHeader, call.id);
    if (url.host === runtime.host) {
      const answer = await realFetch(new Request(request, { headers }));
      return new Response(NULL_BODY.has(answer.status) ? null : await answer.arrayBuffer(), answer);
    }
    headers.set(init.egress.urlHeader, url.href);
    headers.set(init.egress.connectTimeoutHeader, String(init.egress.fetchConnectTimeoutMs));
    const body = request.body ? await request.arrayBuffer() : undefined;
    const answer = await realFetch(new URL(init.egress.path, runtime), { method: request.method, headers, body, signal: request.signal, redirect: 'manual' });
    const payload = await answer.arrayBuffer();
    const error = answer.headers.get(init.egress.errorHeader);
    // undici's fetch rejects with "fetch failed", the cause being the lookup's or the connection's error.
    if (error) throw new TypeError('fetch failed', { cause: networkError(error, url, init.egress.fetchConnectTimeoutMs) });
    const location = answer.headers.get('location');
    if (REDIRECTS.has(answer.status) && location && request.redirect !== 'manual') {
      if (request.redirect === 'error' || redirects >= 20) throw new TypeError('fetch failed', { cause: new Error('redirect count exceeded') });
      const next = new URL(location, url);
      const keepsBody = answer.status === 307 || answer.status === 308;
      return await egressFetch(
        realFetch,
        runtime,
        new Request(next, {
          method: keepsBody || request.method === 'HEAD' ? request.method : 'GET',
          headers: request.headers,
          body: keepsBody ? body : undefined,
          signal: request.signal,
        }),
        redirects + 1,
      );
    }
    const response = new Response(NULL_BODY.has(answer.status) ? null : payload, {
      status: answer.status,
      statusText: answer.statusText,
      headers: answer.headers,
    });
    Object.defineProperties(response, { url: { value: url.href }, redirected: { value: redirects > 0 } });
    return response;
  } finally {
    call.end();
  }
}

/**
 * Active resources that are not work: sockets (their calls are counted in `calls`), the IPC channel, terminals.
 * Anything else (a file read, a DNS lookup, a connection being made, a pending setImmediate, a real timer) is work.
 */
const IDLE_RESOURCES = new Set(['TCPSocketWrap', 'PipeWrap', 'TTYWrap']);
let checking = false;
let reported = '';

/**
 * Reports `quiet` once the process has nothing left to run but timers and calls in flight: looked at after the
 * callbacks and promise jobs of the current turn of the event loop (setImmediate), and again every few
 * milliseconds while other work is pending. The runner counts the report only for its latest message (`seq`).
 */
function checkQuiet() {
  if (checking) return;
  checking = true;
  setImmediate(() => {
    checking = false;
    if (!process.getActiveResourcesInfo().every((type) => IDLE_RESOURCES.has(type))) {
      realSetTimeout(checkQuiet, 5).unref();
      return;
    }
    const report = JSON.stringify([seq, [...calls]]);
    if (report === reported) return;
    reported = report;
    post({ type: 'quiet', seq, calls: [...calls] });
  });
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
    getRemainingTimeInMillis: () => Math.max(0, deadline - virtualNow()),
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
