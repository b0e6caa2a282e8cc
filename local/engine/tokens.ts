/**
 * Task tokens and activity queues: the part of Step Functions that waits for someone else.
 *
 * A token is issued when an activity task or `.waitForTaskToken` task is scheduled and stays live until it
 * settles (SendTaskSuccess/Failure, heartbeat timeout, or the dispatcher giving up on it: task timeout,
 * failed call, stopped execution). After that it is dead: late calls answer TaskTimedOut, as in AWS.
 * Settlements may arrive before anyone awaits them (a Lambda may call SendTaskSuccess before its invoke
 * returns), so each live token holds a promise created at issue time.
 */
import { randomBytes } from 'node:crypto';
import { AwsError, type Clock } from '../kernel';

export type Settlement =
  | { kind: 'success'; output: string }
  | { kind: 'failure'; error?: string; cause?: string }
  | { kind: 'heartbeat-timeout' }
  | { kind: 'cancelled' };

export interface ActivityTask {
  taskToken: string;
  input: string;
}

interface LiveToken {
  token: string;
  executionArn: string;
  settled: Promise<Settlement>;
  settle: (s: Settlement) => void;
  heartbeatMs?: number;
  cancelHeartbeat?: () => void;
  /** Set while queued on an activity, cleared once a worker took it. */
  activity?: { arn: string; input: string; onStarted: (workerName?: string) => void };
}

interface Poller {
  workerName?: string;
  signal?: AbortSignal;
  deliver: (task: ActivityTask | undefined) => void;
}

/** Where tokens are remembered across restarts: every token issued, until it falls out of the dead set. */
export interface TokenJournal {
  issued(token: string): void;
  forgotten(token: string): void;
}

const TOKEN_FORMAT = /^AQ[A-Za-z0-9_-]{128}$/;
/** How many settled tokens we remember to answer TaskTimedOut; older ones answer TaskDoesNotExist. */
const DEAD_TOKENS_KEPT = 10_000;
/**
 * GetActivityTask holds the request up to 60 seconds, like AWS
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetActivityTask.html), in virtual time
 * like every other wait the service imposes: at a time scale, a poll that outlasted the 15-minute heartbeat
 * window would hide what AWS does. Never longer than 60 real seconds, which clients' socket timeouts allow for.
 */
const LONG_POLL_MS = 60_000;

export class TaskTokens {
  private readonly live = new Map<string, LiveToken>();
  private readonly dead = new Set<string>();
  private readonly queues = new Map<string, string[]>();
  private readonly pollers = new Map<string, Poller[]>();

  constructor(
    private readonly clock: Clock,
    private readonly journal: TokenJournal,
    /** Fault injection: true when this task goes to a worker that takes it and dies. */
    private readonly crashWorker: () => boolean = () => false,
  ) {}

  issue(executionArn: string): string {
    const token = `AQ${randomBytes(96).toString('base64url')}`;
    let settle!: (s: Settlement) => void;
    const settled = new Promise<Settlement>((resolve) => (settle = resolve));
    this.live.set(token, { token, executionArn, settled, settle });
    this.journal.issued(token);
    return token;
  }

  settled(token: string): Promise<Settlement> {
    const entry = this.live.get(token);
    return entry ? entry.settled : Promise.resolve({ kind: 'cancelled' });
  }

  /** Heartbeat clock: for callbacks it starts now; for activities when a worker takes the task. */
  startHeartbeat(token: string, heartbeatMs: number | undefined): void {
    const entry = this.live.get(token);
    if (!entry || heartbeatMs === undefined) return;
    entry.heartbeatMs = heartbeatMs;
    this.armHeartbeat(entry);
  }

  /** Queues an activity task; the heartbeat clock starts when a worker takes it. */
  enqueue(token: string, activityArn: string, input: string, heartbeatMs: number | undefined, onStarted: (workerName?: string) => void): void {
    const entry = this.live.get(token);
    if (!entry) return;
    entry.activity = { arn: activityArn, input, onStarted };
    entry.heartbeatMs = heartbeatMs;
    if (this.crashWorker()) {
      this.start(entry, 'crashed-worker');
      return;
    }
    const pollers = this.pollers.get(activityArn) ?? [];
    while (pollers.length) {
      const poller = pollers.shift()!;
      // A poller whose client went away must not swallow the task.
      if (poller.signal?.aborted) continue;
      poller.deliver(this.start(entry, poller.workerName));
      return;
    }
    this.queues.set(activityArn, [...(this.queues.get(activityArn) ?? []), token]);
  }

  /** Long poll for GetActivityTask; resolves undefined when nothing arrived in time or the client left. */
  poll(activityArn: string, workerName: string | undefined, signal?: AbortSignal): Promise<ActivityTask | undefined> {
    if (signal?.aborted) return Promise.resolve(undefined);
    const queue = this.queues.get(activityArn) ?? [];
    while (queue.length) {
      const entry = this.live.get(queue.shift()!);
      if (entry?.activity) {
        return Promise.resolve(this.start(entry, workerName));
      }
    }
    return new Promise((resolve) => {
      const poller: Poller = { workerName, signal, deliver: (task) => finish(task) };
      const cancelTimer = this.clock.at(this.clock.nowMs() + Math.min(LONG_POLL_MS, LONG_POLL_MS * this.clock.scale), () => finish(undefined));
      const onAbort = () => finish(undefined);
      const finish = (task: ActivityTask | undefined) => {
        cancelTimer();
        signal?.removeEventListener('abort', onAbort);
        const waiting = this.pollers.get(activityArn) ?? [];
        const at = waiting.indexOf(poller);
        if (at >= 0) waiting.splice(at, 1);
        resolve(task);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pollers.set(activityArn, [...(this.pollers.get(activityArn) ?? []), poller]);
    });
  }

  succeed(token: string, output: string): void {
    this.settleFromApi(token, { kind: 'success', output });
  }

  fail(token: string, error: string | undefined, cause: string | undefined): void {
    this.settleFromApi(token, { kind: 'failure', error, cause });
  }

  heartbeat(token: string): void {
    const entry = this.check(token);
    if (entry.cancelHeartbeat) this.armHeartbeat(entry);
  }

  /** The dispatcher is done with a token (settled, timed out, failed call, stopped execution). */
  kill(token: string): void {
    const entry = this.live.get(token);
    if (entry) this.finish(entry, { kind: 'cancelled' });
  }

  /** GetActivityTask calls waiting on the activity right now (what a test waits for instead of sleeping). */
  waiting(activityArn: string): number {
    return this.pollers.get(activityArn)?.length ?? 0;
  }

  /** Ends every pending long poll (runtime shutdown). */
  close(): void {
    for (const pollers of this.pollers.values()) for (const p of [...pollers]) p.deliver(undefined);
    for (const entry of this.live.values()) entry.cancelHeartbeat?.();
  }

  /** Tokens issued by a previous process cannot complete anything now: they are dead. */
  restore(tokens: Iterable<string>): void {
    for (const token of tokens) this.bury(token);
  }

  private start(entry: LiveToken, workerName: string | undefined): ActivityTask {
    const { input, onStarted } = entry.activity!;
    entry.activity = undefined;
    onStarted(workerName);
    this.armHeartbeat(entry);
    return { taskToken: entry.token, input };
  }

  private armHeartbeat(entry: LiveToken): void {
    entry.cancelHeartbeat?.();
    if (entry.heartbeatMs === undefined) return;
    entry.cancelHeartbeat = this.clock.at(this.clock.nowMs() + entry.heartbeatMs, () => {
      if (this.live.get(entry.token) === entry) this.finish(entry, { kind: 'heartbeat-timeout' });
    });
  }

  private settleFromApi(token: string, settlement: Settlement): void {
    this.finish(this.check(token), settlement);
  }

  private finish(entry: LiveToken, settlement: Settlement): void {
    entry.cancelHeartbeat?.();
    this.live.delete(entry.token);
    this.bury(entry.token);
    if (entry.activity)
      this.queues.set(
        entry.activity.arn,
        (this.queues.get(entry.activity.arn) ?? []).filter((t) => t !== entry.token),
      );
    entry.settle(settlement);
  }

  private check(token: string): LiveToken {
    if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) throw new AwsError('InvalidToken', 'Invalid token');
    const entry = this.live.get(token);
    if (entry) return entry;
    if (this.dead.has(token)) throw new AwsError('TaskTimedOut', 'Task Timed Out');
    throw new AwsError('TaskDoesNotExist', 'Task does not exist anymore');
  }

  private bury(token: string): void {
    this.dead.add(token);
    if (this.dead.size > DEAD_TOKENS_KEPT) {
      const oldest = this.dead.values().next().value!;
      this.dead.delete(oldest);
      this.journal.forgotten(oldest);
    }
  }
}
