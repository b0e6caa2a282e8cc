/**
 * The contracts every part of the embedded local runtime shares: the virtual clock, the persisted state
 * directory, the request/response shape of the AWS-compatible endpoint, the event bus and the outbox.
 * Each service module implements `ServiceHandler`; `local/server.ts` routes a request to one of them by
 * protocol and SigV4 signing service, exactly as AWS front doors do.
 */

export const ACCOUNT = '000000000000';
export const REGION = 'us-east-1';

/**
 * Where state lives: one account in one region. The hub (`ACCOUNT`, `REGION`) holds the deployed app; a simulated
 * organization (local/org/) adds member accounts and regions, each with services of its own (local/org/partitions.ts).
 */
export interface Partition {
  readonly account: string;
  readonly region: string;
}

export const HUB: Partition = { account: ACCOUNT, region: REGION };

/**
 * Virtual time: one clock for everything the runtime runs, and for the functions it runs.
 *
 * While nothing works, everything waits (Wait states, task and heartbeat timeouts, retry back-off, schedules, EC2
 * transitions, rate buckets, long polls, functions sleeping), and virtual time runs `scale` times faster than real
 * time. While real work is in progress (see `busy()`: a Lambda function computing, from its cold start on; an SDK
 * integration call; the deploy at startup) it runs at real speed, because that work takes real time whatever the
 * scale: a one-second cold start is one virtual second, not an hour at scale 3600, so a 15-minute heartbeat timeout
 * cannot expire under a function that is still starting, and a workflow ends the same at any scale.
 *
 * A function holds the clock only while it works, not while it waits (local/services/lambda.ts keeps the score):
 * - its timers (`setTimeout`, `setInterval`, `timers/promises`) are this clock's timers, set over the function's
 *   IPC channel, so paced code and back-off sleep at the scale, and a function's `Date` and timers agree;
 * - its calls to the runtime are named (`CALL_HEADER`); a request that waits on virtual time on the caller's behalf
 *   (GetActivityTask's long poll) says so with `waitFor`, and the call then holds nothing;
 * - the function process reports when it has nothing left to run but such waits (lambda-worker.ts).
 * A function is waiting when it has no runnable work, and every call it has in flight is such a wait; it works
 * otherwise. Whatever wakes it (a timer, an invocation, a waited call's answer) takes the clock back before the
 * function runs, and hands it the clock's current mapping (`clockSpec`) for its `Date`.
 *
 * At the scale, time does not pass a timer that has not fired (`nowMs`): a timer that a loaded machine delays in
 * real time still fires at its virtual instant, so the order and timing of events in virtual time do not depend on
 * the machine.
 */
export class Clock {
  readonly scale: number;
  /** virtual = anchorVirtual + (real - anchorReal) * rate (see nowMs), re-anchored when the rate changes and as timers come and go. */
  private anchorVirtual: number;
  private anchorReal: number;
  private rate: number;
  private busyCount = 0;
  /** Pending `at`/`sleep` timers, earliest first; one real timer waits for the first of them. */
  private readonly queue: ClockTimer[] = [];
  /** Pending timers that keep the process alive (`sleep`). */
  private keepAlive = 0;
  private realTimer?: NodeJS.Timeout;
  private calls?: CallWaits;
  /** While due timers' callbacks run: the instant they were due (see fire). */
  private firingAt?: number;

  constructor(opts: { scale?: number; start?: number } = {}) {
    this.scale = opts.scale ?? 1;
    if (!(this.scale > 0)) throw new Error(`OPSFLOW_TIME_SCALE must be a positive number, got ${opts.scale}`);
    this.anchorReal = Date.now();
    this.anchorVirtual = opts.start ?? this.anchorReal;
    this.rate = this.scale;
  }

  /**
   * Virtual epoch milliseconds. While time runs at the scale, it does not pass a timer that has not fired yet: a
   * timer that fires late in real time (a loaded machine) fires on time in virtual time, so what happens in
   * virtual time does not depend on the machine's load.
   */
  nowMs(): number {
    if (this.firingAt !== undefined) return this.firingAt;
    const linear = this.anchorVirtual + (Date.now() - this.anchorReal) * this.rate;
    // Never before the anchor: a timer set for an instant already past does not take time back.
    return this.rate === 1 || !this.queue.length ? linear : Math.min(linear, Math.max(this.queue[0].at, this.anchorVirtual));
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  /** Real milliseconds for a virtual duration, at the current rate. */
  toReal(virtualMs: number): number {
    return Math.max(0, virtualMs / this.rate);
  }

  /**
   * Marks real work in progress until the returned function is called (calling it again does nothing): virtual
   * time runs at real speed while any work is marked, and `scale` times faster once none is.
   */
  busy(): () => void {
    if (this.busyCount++ === 0) this.setRate(1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.busyCount === 0) this.setRate(this.scale);
    };
  }

  /** Who is told that a call waits: the Lambda runner, whose functions make the calls. */
  watchCalls(calls: CallWaits): void {
    this.calls = calls;
  }

  /**
   * Settles like `work`, a wait on virtual time that a request makes for its caller (a long poll): a function that
   * made the request (its `CALL_HEADER`) holds no clock while it waits. The answer is sent once the function follows
   * the clock again.
   */
  async waitFor<T>(req: { headers: Record<string, string> }, work: Promise<T>): Promise<T> {
    const call = req.headers[CALL_HEADER];
    const end = call ? this.calls?.begin(call) : undefined;
    if (!end) return work;
    try {
      return await work;
    } finally {
      await end();
    }
  }

  /** Resolves after `virtualMs` of virtual time; rejects with the signal's reason when aborted. */
  sleep(virtualMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        cancel();
        reject(signal!.reason);
      };
      const cancel = this.schedule(this.nowMs() + Math.max(0, virtualMs), true, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Runs `fn` at a virtual instant; returns a cancel function. Timers never keep the process alive. */
  at(when: Date | number, fn: () => void): () => void {
    return this.schedule(+when, false, fn);
  }

  /** The mapping a Lambda worker installs for its `Date`, valid while the rate stays as it is now. */
  clockSpec(): ClockSpec {
    return { virtualMs: this.nowMs(), realMs: Date.now(), rate: this.rate };
  }

  private setRate(rate: number): void {
    if (rate === this.rate) return;
    this.anchorVirtual = this.nowMs();
    this.anchorReal = Date.now();
    this.rate = rate;
    this.arm();
  }

  private schedule(at: number, keepAlive: boolean, fn: () => void): () => void {
    this.anchorVirtual = this.nowMs();
    this.anchorReal = Date.now();
    const timer: ClockTimer = { at, keepAlive, fn, done: false };
    if (keepAlive) this.keepAlive++;
    // Insert in order (binary search): the queue stays sorted by instant, then by scheduling order.
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.queue[mid].at <= at) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, timer);
    if (lo === 0 || keepAlive) this.arm();
    return () => {
      if (timer.done) return;
      this.finish(timer);
      const i = this.queue.indexOf(timer);
      if (i >= 0) this.queue.splice(i, 1);
      if (i === 0 || keepAlive) this.arm();
    };
  }

  /** One real timer for the earliest virtual deadline, at the current rate; referenced while a `sleep` waits. */
  private arm(): void {
    if (this.realTimer) clearTimeout(this.realTimer);
    this.realTimer = undefined;
    const first = this.queue[0];
    if (!first) return;
    // setTimeout overflows past 2^31 - 1 ms: a later deadline is reached through an intermediate wake-up.
    const delay = Math.min(2 ** 31 - 1, Math.max(0, Math.ceil((first.at - this.nowMs()) / this.rate)));
    this.realTimer = setTimeout(() => this.fire(), delay);
    if (this.keepAlive === 0) this.realTimer.unref();
  }

  private fire(): void {
    this.realTimer = undefined;
    const now = this.nowMs();
    // Time goes on from the instant these timers are due, however late the real timer came.
    this.anchorVirtual = now;
    this.anchorReal = Date.now();
    const due: ClockTimer[] = [];
    while (this.queue.length && this.queue[0].at <= now) due.push(this.queue.shift()!);
    this.arm();
    // The callbacks see the instant they were due: a millisecond the machine spends between them would otherwise be
    // `scale` virtual milliseconds, and what they observe would depend on the machine's load.
    this.firingAt = now;
    try {
      for (const timer of due) {
        this.finish(timer);
        timer.fn();
      }
    } finally {
      this.firingAt = undefined;
      this.anchorVirtual = now;
      this.anchorReal = Date.now();
      this.arm();
    }
  }

  private finish(timer: ClockTimer): void {
    timer.done = true;
    if (timer.keepAlive) this.keepAlive--;
  }
}

/** The header that names a function's call to the runtime (set in the function's process, lambda-worker.ts). */
export const CALL_HEADER = 'x-opsflow-call';

/** Calls that wait on virtual time: `begin` marks one, the function it returns ends the wait. */
export interface CallWaits {
  /** `undefined`: no function of this runtime made the call. The returned promise resolves once the caller follows the clock. */
  begin(call: string): (() => Promise<void>) | undefined;
}

interface ClockTimer {
  at: number;
  keepAlive: boolean;
  fn: () => void;
  done: boolean;
}

/**
 * Virtual time that moves only when told to, for tests of components that run on the clock (scheduler, fleet,
 * tokens): nothing depends on how fast the machine is. `advance()` runs every timer that falls due, in time
 * order, each at its own instant, letting the work it starts settle before the next. `busy()` changes nothing here.
 * Not for a runtime that runs Lambda code (workers follow `clockSpec`, which a manual clock cannot give).
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

  override busy(): () => void {
    return () => {};
  }

  override clockSpec(): ClockSpec {
    throw new Error('ManualClock: Lambda workers cannot follow a manual clock');
  }
}

/** The clock's mapping at one moment: virtual = virtualMs + (real - realMs) * rate. */
export interface ClockSpec {
  virtualMs: number;
  realMs: number;
  rate: number;
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
  /** The SigV4 credential scope's region; undefined for unsigned requests. */
  region?: string;
  /** The account and region the request acts in (the access key's account, the scope's region); set by local/org/partitions.ts. @default HUB */
  partition?: Partition;
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

/** What a rule, a schedule or a subscription delivers to. */
export interface Target {
  arn: string;
  /** JSON text delivered to the target. */
  input: string;
  /** The role the service assumes to reach the target (schedule and rule targets with a RoleArn). */
  roleArn?: string;
  /** The service principal and `aws:SourceArn` of the delivery, for the target's resource policy. */
  source?: { service: string; arn: string };
}

/** Supplied by the runtime: starts a state machine, invokes a Lambda asynchronously or publishes to SNS, by ARN. */
export type TargetInvoker = (target: Target) => Promise<void>;

/**
 * IAM for the calls an execution makes with its state machine's role (the engine asks, the gate in
 * local/rules/gate.ts answers): SDK integrations sign with `credentials` (the endpoint verifies and authorizes
 * them; without a role, with the runtime's own key); Lambda invocations and child executions, which the engine
 * makes itself, are checked with `authorize`, which returns AWS's denial message, or undefined when allowed.
 */
export interface TaskIam {
  credentials(executionArn: string): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  authorize(executionArn: string, action: string, resource: string): string | undefined;
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
