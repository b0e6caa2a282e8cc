/**
 * Conformance: Retry and Catch, from https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
 * (States.ALL, States.TaskFailed, States.Runtime and States.DataLimitExceeded rules, retrier fields, error output).
 */
import { describe, expect, it } from 'vitest';
import { failWith, runDefinition, type TaskFn } from './harness';

const failing = (name: string, times = Infinity): TaskFn => {
  let n = 0;
  return () => {
    if (n++ < times) throw failWith(name, `${name} happened`);
    return 'ok';
  };
};

function task(fields: object, next = true): object {
  return {
    StartAt: 'T',
    States: {
      T: { Type: 'Task', Resource: 'fn:work', ...fields, ...(next ? { End: true } : {}) },
      Caught: { Type: 'Pass', End: true },
      Other: { Type: 'Pass', Result: 'other', End: true },
    },
  };
}

describe('Retry', () => {
  it('retries MaxAttempts times, then fails', async () => {
    const o = await runDefinition(task({ Retry: [{ ErrorEquals: ['E'], MaxAttempts: 2, IntervalSeconds: 1 }] }), {}, { work: failing('E') });
    expect(o.calls.work).toBe(3);
    expect(o.error).toBe('E');
  });

  it('defaults to three retries', async () => {
    const o = await runDefinition(task({ Retry: [{ ErrorEquals: ['E'] }] }), {}, { work: failing('E') });
    expect(o.calls.work).toBe(4);
  });

  it('MaxAttempts 0 never retries', async () => {
    const o = await runDefinition(task({ Retry: [{ ErrorEquals: ['E'], MaxAttempts: 0 }] }), {}, { work: failing('E') });
    expect(o.calls.work).toBe(1);
  });

  it('succeeds once a retry succeeds, with $$.State.RetryCount counting attempts', async () => {
    const o = await runDefinition(
      task({ Parameters: { 'retry.$': '$$.State.RetryCount' }, Retry: [{ ErrorEquals: ['States.ALL'], MaxAttempts: 5 }] }),
      {},
      {
        work: (() => {
          let n = 0;
          return (input: any) => {
            if (n++ < 2) throw failWith('E', 'x');
            return input;
          };
        })(),
      },
    );
    expect(o.output).toEqual({ retry: 2 });
  });

  it('waits IntervalSeconds × BackoffRate^n, capped by MaxDelaySeconds', async () => {
    const o = await runDefinition(
      task({ Retry: [{ ErrorEquals: ['E'], MaxAttempts: 3, IntervalSeconds: 10, BackoffRate: 3, MaxDelaySeconds: 60 }] }),
      {},
      { work: failing('E') },
    );
    const scheduled = o.events.filter((e) => e.type === 'TaskScheduled').map((e) => e.timestamp);
    expect(scheduled.slice(1).map((t, n) => (t - scheduled[n]) / 1000)).toEqual([10, 30, 60]);
  });

  it('uses the first retrier that matches; a used-up retrier does not fall through to the next', async () => {
    const o = await runDefinition(
      task({
        Retry: [
          { ErrorEquals: ['E'], MaxAttempts: 1 },
          { ErrorEquals: ['States.ALL'], MaxAttempts: 5 },
        ],
      }),
      {},
      { work: failing('E') },
    );
    expect(o.calls.work).toBe(2);
  });

  it('States.TaskFailed retries any task error but States.Timeout', async () => {
    const retried = await runDefinition(task({ Retry: [{ ErrorEquals: ['States.TaskFailed'], MaxAttempts: 1 }] }), {}, { work: failing('Custom.Error') });
    const timeout = await runDefinition(task({ Retry: [{ ErrorEquals: ['States.TaskFailed'], MaxAttempts: 1 }] }), {}, { work: failing('States.Timeout') });
    expect(retried.calls.work).toBe(2);
    expect(timeout.calls.work).toBe(1);
  });

  it('a retrier on States.Timeout also retries States.HeartbeatTimeout', async () => {
    const o = await runDefinition(task({ Retry: [{ ErrorEquals: ['States.Timeout'], MaxAttempts: 1 }] }), {}, { work: failing('States.HeartbeatTimeout') });
    expect(o.calls.work).toBe(2);
  });

  it('JitterStrategy FULL waits no longer than the computed interval', async () => {
    const o = await runDefinition(
      task({ Retry: [{ ErrorEquals: ['E'], MaxAttempts: 1, IntervalSeconds: 100, JitterStrategy: 'FULL' }] }),
      {},
      { work: failing('E') },
    );
    const [a, b] = o.events.filter((e) => e.type === 'TaskScheduled').map((e) => e.timestamp);
    expect(b - a).toBeLessThanOrEqual(100_000);
  });
});

describe('Catch', () => {
  it('States.ALL catches a task error; the output is the error output by default', async () => {
    const o = await runDefinition(task({ Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }] }, false), { a: 1 }, { work: failing('E') });
    expect(o.output).toEqual({ Error: 'E', Cause: 'E happened' });
  });

  it('ResultPath puts the error output into the input', async () => {
    const o = await runDefinition(task({ Catch: [{ ErrorEquals: ['E'], ResultPath: '$.error', Next: 'Caught' }] }, false), { a: 1 }, { work: failing('E') });
    expect(o.output).toEqual({ a: 1, error: { Error: 'E', Cause: 'E happened' } });
  });

  it('catchers are tried in order', async () => {
    const o = await runDefinition(
      task(
        {
          Catch: [
            { ErrorEquals: ['Nope'], Next: 'Other' },
            { ErrorEquals: ['E'], Next: 'Caught' },
          ],
        },
        false,
      ),
      {},
      { work: failing('E') },
    );
    expect(o.events.some((e) => (e.stateEnteredEventDetails as any)?.name === 'Caught')).toBe(true);
  });

  it('retries run before the catcher takes over', async () => {
    const o = await runDefinition(
      task({ Retry: [{ ErrorEquals: ['E'], MaxAttempts: 2 }], Catch: [{ ErrorEquals: ['E'], Next: 'Caught' }] }, false),
      {},
      { work: failing('E') },
    );
    expect(o.calls.work).toBe(3);
    expect(o.status).toBe('SUCCEEDED');
  });

  it('States.Runtime is neither caught by States.ALL nor by its own name', async () => {
    const definition = {
      StartAt: 'M',
      States: {
        M: {
          Type: 'Map',
          ItemsPath: '$.missing',
          ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } },
          Retry: [{ ErrorEquals: ['States.ALL'] }],
          Catch: [
            { ErrorEquals: ['States.Runtime'], Next: 'C' },
            { ErrorEquals: ['States.ALL'], Next: 'C' },
          ],
          End: true,
        },
        C: { Type: 'Succeed' },
      },
    };
    const o = await runDefinition(definition, {});
    expect(o.error).toBe('States.Runtime');
    expect(o.cause).toBe(
      "An error occurred while executing the state 'M' (entered at the event id #2). Invalid path '$.missing' : No results for path: $['missing']",
    );
  });

  it('States.DataLimitExceeded is not caught by States.ALL, only by its name', async () => {
    const big = { Type: 'Pass', Parameters: { 'v.$': '$.s' }, Assign: { 'big.$': '$.v' }, End: true };
    const within = (catchers: object[]) => ({
      StartAt: 'P',
      States: {
        P: { Type: 'Parallel', Branches: [{ StartAt: 'B', States: { B: big } }], Catch: catchers, End: true },
        C: { Type: 'Pass', Result: 'caught', End: true },
      },
    });
    const input = { s: 'x'.repeat(300 * 1024) };
    const all = await runDefinition(within([{ ErrorEquals: ['States.ALL'], Next: 'C' }]), input);
    const named = await runDefinition(within([{ ErrorEquals: ['States.DataLimitExceeded'], Next: 'C' }]), input);
    expect(all.error).toBe('States.DataLimitExceeded');
    expect(named.output).toBe('caught');
  });

  it('a Fail state error is caught by name from an enclosing Parallel', async () => {
    const definition = {
      StartAt: 'P',
      States: {
        P: {
          Type: 'Parallel',
          Branches: [{ StartAt: 'F', States: { F: { Type: 'Fail', Error: 'My.Error', Cause: 'why' } } }],
          Catch: [{ ErrorEquals: ['My.Error'], Next: 'C' }],
          End: true,
        },
        C: { Type: 'Pass', End: true },
      },
    };
    const o = await runDefinition(definition, {});
    expect(o.output).toEqual({ Error: 'My.Error', Cause: 'why' });
  });
});
