/**
 * Conformance: history events (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html)
 * with the types, order, ids and previousEventId chain AWS records for Parallel branches and Map iterations:
 * a branch chains from *StateStarted, *StateSucceeded is passed by, States.Runtime leaves no Failed events.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StepFunctionsService } from '../../../local/engine';
import { ACCOUNT, arn, Clock, StateDir } from '../../../local/kernel';
import { hang, runDefinition } from './harness';

const shape = (o: { events: { type: string; previousEventId: number }[] }) => o.events.map((e) => `${e.type}<${e.previousEventId}`);

describe('history', () => {
  it('a sequence chains each event to the one before; the first state points at 0', async () => {
    const o = await runDefinition({ StartAt: 'A', States: { A: { Type: 'Pass', Next: 'B' }, B: { Type: 'Succeed' } } });
    expect(shape(o)).toEqual([
      'ExecutionStarted<0',
      'PassStateEntered<0',
      'PassStateExited<2',
      'SucceedStateEntered<3',
      'SucceedStateExited<4',
      'ExecutionSucceeded<5',
    ]);
  });

  it('Parallel branches chain from ParallelStateStarted; ParallelStateSucceeded is passed by', async () => {
    const o = await runDefinition({
      StartAt: 'P',
      States: {
        P: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'A', States: { A: { Type: 'Pass', End: true } } },
            { StartAt: 'B', States: { B: { Type: 'Pass', End: true } } },
          ],
          Next: 'After',
        },
        After: { Type: 'Pass', End: true },
      },
    });
    expect(shape(o)).toEqual([
      'ExecutionStarted<0',
      'ParallelStateEntered<0',
      'ParallelStateStarted<2',
      'PassStateEntered<3',
      'PassStateEntered<3',
      'PassStateExited<4',
      'PassStateExited<5',
      'ParallelStateSucceeded<7',
      'ParallelStateExited<7',
      'PassStateEntered<9',
      'PassStateExited<10',
      'ExecutionSucceeded<11',
    ]);
    expect(o.events.filter((e) => e.type === 'ParallelStateSucceeded')).toHaveLength(1);
  });

  it('Map with MaxConcurrency 1 runs iterations in order; MapStateStarted has the length', async () => {
    const o = await runDefinition(
      {
        StartAt: 'M',
        States: { M: { Type: 'Map', MaxConcurrency: 1, ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } }, End: true } },
      },
      [1, 2],
    );
    expect(shape(o)).toEqual([
      'ExecutionStarted<0',
      'MapStateEntered<0',
      'MapStateStarted<2',
      'MapIterationStarted<3',
      'PassStateEntered<4',
      'PassStateExited<5',
      'MapIterationSucceeded<6',
      'MapIterationStarted<3',
      'PassStateEntered<8',
      'PassStateExited<9',
      'MapIterationSucceeded<10',
      'MapStateSucceeded<11',
      'MapStateExited<11',
      'ExecutionSucceeded<13',
    ]);
    expect(o.events[2].mapStateStartedEventDetails).toEqual({ length: 2 });
    expect(o.events[3].mapIterationStartedEventDetails).toEqual({ name: 'M', index: 0 });
  });

  it('a Map over no items exits from its started event', async () => {
    const o = await runDefinition(
      { StartAt: 'M', States: { M: { Type: 'Map', ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } }, End: true } } },
      [],
    );
    expect(shape(o)).toEqual([
      'ExecutionStarted<0',
      'MapStateEntered<0',
      'MapStateStarted<2',
      'MapStateSucceeded<3',
      'MapStateExited<3',
      'ExecutionSucceeded<5',
    ]);
  });

  it('a caught Map failure records MapIterationFailed and MapStateFailed, then exits; never MapStateSucceeded', async () => {
    const o = await runDefinition(
      {
        StartAt: 'M',
        States: {
          M: {
            Type: 'Map',
            MaxConcurrency: 1,
            ItemProcessor: { StartAt: 'F', States: { F: { Type: 'Fail', Error: 'E' } } },
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'C' }],
            End: true,
          },
          C: { Type: 'Pass', End: true },
        },
      },
      [1, 2],
    );
    expect(shape(o)).toEqual([
      'ExecutionStarted<0',
      'MapStateEntered<0',
      'MapStateStarted<2',
      'MapIterationStarted<3',
      'FailStateEntered<4',
      'MapIterationFailed<5',
      'MapStateFailed<5',
      'MapStateExited<7',
      'PassStateEntered<8',
      'PassStateExited<9',
      'ExecutionSucceeded<10',
    ]);
  });

  it('States.Runtime inside a Map iteration fails the execution without Failed events', async () => {
    const o = await runDefinition(
      {
        StartAt: 'M',
        States: {
          M: {
            Type: 'Map',
            MaxConcurrency: 1,
            ItemProcessor: { StartAt: 'Fast', States: { Fast: { Type: 'Pass', InputPath: '$.nope', End: true } } },
            End: true,
          },
        },
      },
      [{}, {}],
    );
    expect(shape(o)).toEqual([
      'ExecutionStarted<0',
      'MapStateEntered<0',
      'MapStateStarted<2',
      'MapIterationStarted<3',
      'PassStateEntered<4',
      'ExecutionFailed<5',
    ]);
    expect(o.error).toBe('States.Runtime');
  });

  it('a Fail state in a branch leaves ParallelStateFailed before ExecutionFailed', async () => {
    const o = await runDefinition({
      StartAt: 'P',
      States: { P: { Type: 'Parallel', Branches: [{ StartAt: 'Boom', States: { Boom: { Type: 'Fail', Error: 'MyError', Cause: 'my cause' } } }], End: true } },
    });
    expect(shape(o)).toEqual([
      'ExecutionStarted<0',
      'ParallelStateEntered<0',
      'ParallelStateStarted<2',
      'FailStateEntered<3',
      'ParallelStateFailed<4',
      'ExecutionFailed<5',
    ]);
    expect(o.error).toBe('MyError');
  });

  it('a task failure that ends a branch is aborted there; the caught Parallel exits with the error output', async () => {
    const o = await runDefinition(
      {
        StartAt: 'P',
        States: {
          P: {
            Type: 'Parallel',
            Branches: [{ StartAt: 'T', States: { T: { Type: 'Task', Resource: 'fn:boom', End: true } } }],
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'H' }],
            End: true,
          },
          H: { Type: 'Pass', End: true },
        },
      },
      {},
      {
        boom: () => {
          throw Object.assign(new Error('no'), { name: 'X.Failed' });
        },
      },
    );
    expect(shape(o)).toEqual([
      'ExecutionStarted<0',
      'ParallelStateEntered<0',
      'ParallelStateStarted<2',
      'TaskStateEntered<3',
      'TaskScheduled<4',
      'TaskStarted<5',
      'TaskFailed<6',
      'TaskStateAborted<7',
      'ParallelStateFailed<7',
      'ParallelStateExited<9',
      'PassStateEntered<10',
      'PassStateExited<11',
      'ExecutionSucceeded<12',
    ]);
    expect(JSON.parse((o.events[9].stateExitedEventDetails as any).output)).toEqual({ Error: 'X.Failed', Cause: 'no' });
  });

  it('a retried Parallel starts again without a new entered event', async () => {
    const o = await runDefinition({
      StartAt: 'P',
      States: {
        P: {
          Type: 'Parallel',
          Branches: [{ StartAt: 'Boom', States: { Boom: { Type: 'Fail', Error: 'E' } } }],
          Retry: [{ ErrorEquals: ['States.ALL'], MaxAttempts: 1, IntervalSeconds: 1 }],
          End: true,
        },
      },
    });
    expect(shape(o)).toEqual([
      'ExecutionStarted<0',
      'ParallelStateEntered<0',
      'ParallelStateStarted<2',
      'FailStateEntered<3',
      'ParallelStateFailed<4',
      'ParallelStateStarted<5',
      'FailStateEntered<6',
      'ParallelStateFailed<7',
      'ExecutionFailed<8',
    ]);
  });

  it('a nested Map inside a Parallel branch chains to the branch', async () => {
    const o = await runDefinition(
      {
        StartAt: 'P',
        States: {
          P: {
            Type: 'Parallel',
            Branches: [
              { StartAt: 'M', States: { M: { Type: 'Map', ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } }, End: true } } },
            ],
            End: true,
          },
        },
      },
      [1],
    );
    expect(shape(o)).toEqual([
      'ExecutionStarted<0',
      'ParallelStateEntered<0',
      'ParallelStateStarted<2',
      'MapStateEntered<3',
      'MapStateStarted<4',
      'MapIterationStarted<5',
      'PassStateEntered<6',
      'PassStateExited<7',
      'MapIterationSucceeded<8',
      'MapStateSucceeded<9',
      'MapStateExited<9',
      'ParallelStateSucceeded<11',
      'ParallelStateExited<11',
      'ExecutionSucceeded<13',
    ]);
  });

  describe('StopExecution records a *StateAborted event for each state still running, innermost first', () => {
    // Event types from https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html
    // (TaskStateAborted, MapIterationAborted, MapStateAborted, ParallelStateAborted); ExecutionAborted follows the last.
    const task = { Type: 'Task', Resource: 'fn:hang', End: true };

    it('a running Task', async () => {
      const o = await runDefinition({ StartAt: 'T', States: { T: task } }, {}, { hang }, { stopWhen: (c) => c.hang === 1 });
      expect(o.status).toBe('ABORTED');
      expect(shape(o)).toEqual(['ExecutionStarted<0', 'TaskStateEntered<0', 'TaskScheduled<2', 'TaskStarted<3', 'TaskStateAborted<4', 'ExecutionAborted<5']);
    });

    it('a Parallel whose two branches run Tasks', async () => {
      const branch = { StartAt: 'T', States: { T: task } };
      const o = await runDefinition(
        { StartAt: 'P', States: { P: { Type: 'Parallel', Branches: [branch, { StartAt: 'U', States: { U: task } }], End: true } } },
        {},
        { hang },
        { stopWhen: (c) => c.hang === 2 },
      );
      const byId = new Map(o.events.map((e) => [e.id, e]));
      const last = o.events.slice(-4);
      expect(last.map((e) => e.type)).toEqual(['TaskStateAborted', 'TaskStateAborted', 'ParallelStateAborted', 'ExecutionAborted']);
      // Each branch's abort follows that branch's own last event; the Parallel's follows ParallelStateStarted.
      expect(last.slice(0, 2).map((e) => byId.get(e.previousEventId)!.type)).toEqual(['TaskStarted', 'TaskStarted']);
      expect(new Set(last.slice(0, 2).map((e) => e.previousEventId)).size).toBe(2);
      expect(last[2].previousEventId).toBe(3);
      expect(last[3].previousEventId).toBe(last[2].id);
    });

    it('an inline Map whose iterations run Tasks: each iteration is aborted, then the Map', async () => {
      const o = await runDefinition(
        { StartAt: 'M', States: { M: { Type: 'Map', ItemProcessor: { StartAt: 'T', States: { T: task } }, End: true } } },
        [1, 2],
        { hang },
        { stopWhen: (c) => c.hang === 2 },
      );
      const types = o.events.map((e) => e.type);
      expect(types.slice(-6)).toEqual([
        'TaskStateAborted',
        'MapIterationAborted',
        'TaskStateAborted',
        'MapIterationAborted',
        'MapStateAborted',
        'ExecutionAborted',
      ]);
      expect(o.events.filter((e) => e.type === 'MapIterationAborted').map((e) => e.mapIterationAbortedEventDetails)).toEqual([
        { name: 'M', index: 0 },
        { name: 'M', index: 1 },
      ]);
      const mapAborted = o.events.find((e) => e.type === 'MapStateAborted')!;
      expect(mapAborted.previousEventId).toBe(o.events.find((e) => e.type === 'MapStateStarted')!.id);
      expect(o.events.at(-1)!.previousEventId).toBe(mapAborted.id);
    });
  });

  describe('the details AWS records', () => {
    // Recorded on AWS: localstack/localstack tests/aws/services/stepfunctions/v2/assign/test_assign_base.snapshot.json,
    // "test_base_cases[BASE_EMPTY]" (template tests/aws/services/stepfunctions/templates/assign/statemachines/
    // base_empty.json5: one Pass with "Assign": {}): its PassStateExited holds name, output and outputDetails only,
    // no assignedVariables and no assignedVariablesDetails.
    it.each(['JSONPath', 'JSONata'])('an empty Assign leaves no assignedVariables in StateExited (%s)', async (QueryLanguage) => {
      const o = await runDefinition({ QueryLanguage, StartAt: 'State0', States: { State0: { Type: 'Pass', Assign: {}, End: true } } }, { input_value: 'x' });
      expect(o.events.find((e) => e.type === 'PassStateExited')!.stateExitedEventDetails).toEqual({
        name: 'State0',
        output: '{"input_value":"x"}',
        outputDetails: { truncated: false },
      });
    });

    it.each(['JSONPath', 'JSONata'])('an empty Assign in a matched Choice rule or a Catcher leaves none either (%s)', async (QueryLanguage) => {
      const rule = QueryLanguage === 'JSONata' ? { Condition: '{% true %}' } : { Variable: '$.a', NumericEquals: 1 };
      const o = await runDefinition(
        {
          QueryLanguage,
          StartAt: 'C',
          States: {
            C: { Type: 'Choice', Choices: [{ ...rule, Assign: {}, Next: 'T' }] },
            T: { Type: 'Task', Resource: 'fn:boom', Catch: [{ ErrorEquals: ['States.ALL'], Assign: {}, Next: 'Done' }], End: true },
            Done: { Type: 'Succeed' },
          },
        },
        { a: 1 },
        {
          boom: () => {
            throw { name: 'Boom', message: 'no' };
          },
        },
      );
      const exited = o.events.filter((e) => e.type.endsWith('StateExited')).map((e) => e.stateExitedEventDetails as Record<string, unknown>);
      expect(exited.map((d) => d.name)).toEqual(['C', 'T', 'Done']);
      for (const details of exited) expect(Object.keys(details).filter((k) => k.startsWith('assigned'))).toEqual([]);
    });

    // "input: The state machine's input" and inputDetails "Provides details about input or output in an execution
    // history event" (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ExecutionStartedEventDetails.html):
    // the StartExecution input string as the caller sent it (LocalStack's recordings parse it, so they cannot show
    // spacing; the runtime keeps the caller's text, the reading that loses nothing).
    it('ExecutionStarted carries the input exactly as sent, with inputDetails and the role', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'opsflow-history-'));
      const engine = new StepFunctionsService({
        clock: new Clock({ scale: 36000, start: Date.UTC(2030, 0, 1) }),
        state: new StateDir(dir),
        bus: { put: async () => undefined },
        invokeLambda: async () => ({}),
        endpoint: () => 'http://127.0.0.1:1',
      });
      try {
        const role = `arn:aws:iam::${ACCOUNT}:role/sfn`;
        const smArn = arn.stateMachine('history-input');
        engine.deployStateMachine({
          arn: smArn,
          name: 'history-input',
          definition: { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } },
          roleArn: role,
        });
        const sent = ' {  "b" : 1,\n  "a" : [ 2 ] } ';
        const { executionArn } = await engine.startExecution(smArn, sent);
        await engine.waitForExecution(executionArn);
        const [started, entered] = engine.history(executionArn);
        expect(started.type).toBe('ExecutionStarted');
        expect(started.executionStartedEventDetails).toEqual({ input: sent, inputDetails: { truncated: false }, roleArn: role });
        // The state's input is the parsed value, serialised as the engine does every state's data.
        expect(entered.stateEnteredEventDetails).toEqual(expect.objectContaining({ input: '{"b":1,"a":[2]}' }));
      } finally {
        engine.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
