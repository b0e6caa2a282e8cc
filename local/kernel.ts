/**
 * The contracts every part of the embedded local runtime shares: the virtual clock, the persisted state
 * directory, the request/response shape of the AWS-compatible endpoint, the event bus and the outbox.
 * Each service module implements `ServiceHandler`; `local/server.ts` routes a request to one of them by
 * protocol and SigV4 signing service, exactly as AWS front doors do.
 */

export const ACCOUNT = '000000000000';
export const REGION = 'us-east-1';

/**
 * Virtual time. `scale` > 1 runs Wait states, timeouts, retry back-off, schedules and instance transitions
 * N times faster: one real millisecond is `scale` virtual milliseconds. Lambda workers install the same
 * mapping (see `clockSpec`) so `new Date()` inside a task agrees with the runtime.
 */
export class Clock {
  readonly scale: number;
  private readonly virtualBase: number;
  private readonly realBase: number;

  constructor(opts: { scale?: number; start?: number } = {}) {
    this.scale = opts.scale ?? 1;
    if (!(this.scale > 0)) throw new Error(`OPSFLOW_TIME_SCALE must be a positive number, got ${opts.scale}`);
    this.realBase = Date.now();
    this.virtualBase = opts.start ?? this.realBase;
  }

  /** Virtual epoch milliseconds. */
  nowMs(): number {
    return this.virtualBase + (Date.now() - this.realBase) * this.scale;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  /** Real milliseconds for a virtual duration. */
  toReal(virtualMs: number): number {
    return Math.max(0, virtualMs / this.scale);
  }

  /** Resolves after `virtualMs` of virtual time; rejects with the signal's reason when aborted. */
  sleep(virtualMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, this.toReal(virtualMs));
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Runs `fn` at a virtual instant; returns a cancel function. Timers never keep the process alive. */
  at(when: Date | number, fn: () => void): () => void {
    const timer = setTimeout(fn, this.toReal(+when - this.nowMs()));
    timer.unref?.();
    return () => clearTimeout(timer);
  }

  /** What a Lambda worker needs to install the same virtual clock. */
  clockSpec(): ClockSpec {
    return { scale: this.scale, virtualBase: this.virtualBase, realBase: this.realBase };
  }
}

/**
 * Virtual time that moves only when told to, for tests of components that run on the clock (scheduler, fleet,
 * tokens): nothing depends on how fast the machine is. `advance()` runs every timer that falls due, in time
 * order, each at its own instant, letting the work it starts settle before the next. Not for a runtime that runs
 * Lambda code (workers follow `clockSpec`, which a manual clock cannot give).
 */
export class ManualClock extends Clock {
  private current: number;
  private readonly timers: Array<{ at: number; seq: number; fn: () => void }> = [];
  private seq = 0;

  constructor(start: number | Date) {
    super({ start: +start });
    this.current = +start;
  }

  override nowMs(): number {
    return this.current;
  }

  override at(when: Date | number, fn: () => void): () => void {
    const timer = { at: +when, seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      const i = this.timers.indexOf(timer);
      if (i >= 0) this.timers.splice(i, 1);
    };
  }

  override sleep(virtualMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        cancel();
        reject(signal!.reason);
      };
      const cancel = this.at(this.current + Math.max(0, virtualMs), () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Timers waiting to fire. */
  pending(): number {
    return this.timers.length;
  }

  /** Moves virtual time forward by `virtualMs`, firing what falls due on the way. */
  async advance(virtualMs: number): Promise<void> {
    const until = this.current + virtualMs;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers.splice(this.timers.indexOf(due), 1);
      this.current = Math.max(this.current, due.at);
      due.fn();
      // Let what the timer started (promise chains, I/O callbacks) run before time moves on.
      await new Promise((r) => setImmediate(r));
    }
    this.current = until;
  }

  override clockSpec(): ClockSpec {
    throw new Error('ManualClock: Lambda workers cannot follow a manual clock');
  }
}

export interface ClockSpec {
  scale: number;
  virtualBase: number;
  realBase: number;
}

/** The state directory: named stores of keyed records, journaled; see local/storage.ts. */
export { StateDir, type Store } from './storage';

/** A request that reached the AWS-compatible endpoint, already read and classified. */
export interface AwsRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: Buffer;
  /** SigV4 signing service from the Authorization header (`states`, `ec2`, `ses`, `sns`, `dynamodb`, ...). */
  service: string;
  /** `X-Amz-Target` for JSON protocols, e.g. `AWSStepFunctions.StartExecution`. */
  target?: string;
  /**
   * The operation as the service's AWS model names it, set by request validation (local/validate/). S3 needs it:
   * its operations share paths and methods, told apart by query literals and required headers.
   */
  operation?: string;
  /** Caller identity derived from the access key id (used for CloudTrail records). */
  accessKeyId: string;
}

export interface AwsResponse {
  status: number;
  headers?: Record<string, string>;
  body: string | Buffer;
}

export interface ServiceHandler {
  /** SigV4 signing service names this handler answers. */
  readonly services: readonly string[];
  handle(req: AwsRequest): Promise<AwsResponse>;
}

/** An AWS API error; each protocol renders it in its own wire format. */
export class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}

/** An EventBridge event as rules see it (the `detail-type` spelling of the wire format). */
export interface BusEvent {
  version?: string;
  id?: string;
  source: string;
  'detail-type': string;
  account?: string;
  region?: string;
  time?: string;
  resources?: string[];
  detail: Record<string, unknown>;
}

export interface EventBus {
  put(event: BusEvent): Promise<void>;
}

/** One email or notification the app sent, as `GET /_opsflow/outbox` lists it. */
export interface OutboxEntry {
  id: string;
  service: 'ses' | 'sns';
  from?: string;
  to: string[];
  subject: string;
  text: string;
  html?: string;
  links: string[];
  sentAt: string;
  /** SNS topic ARN for notifications. */
  topicArn?: string;
}

export interface Outbox {
  add(entry: Omit<OutboxEntry, 'id' | 'sentAt' | 'links'> & { links?: string[] }): OutboxEntry;
  list(): OutboxEntry[];
}

/** Local ARNs for resources the runtime creates. */
export const arn = {
  stateMachine: (name: string) => `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`,
  execution: (sm: string, name: string) => `arn:aws:states:${REGION}:${ACCOUNT}:execution:${sm}:${name}`,
  activity: (name: string) => `arn:aws:states:${REGION}:${ACCOUNT}:activity:${name}`,
  lambda: (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`,
  topic: (name: string) => `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`,
  table: (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`,
};
