/**
 * Conformance: JSONata states and workflow variables, from
 * https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html and
 * https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html .
 */
import { describe, expect, it } from 'vitest';
import { prepareDefinition } from '../../../local/engine/preprocess';
import { runDefinition } from './harness';

const jsonata = (states: object, startAt = Object.keys(states)[0]) => ({ QueryLanguage: 'JSONata', StartAt: startAt, States: states });

describe('JSONata', () => {
  it.each([
    ['$states.input', '{% $states.input.a %}', { a: 1 }, 1],
    ['arithmetic and string functions', '{% $uppercase($states.input.s) & "-" & ($states.input.n * 2) %}', { s: 'ab', n: 2 }, 'AB-4'],
    ['$states.context', '{% $states.context.State.Name %}', {}, 'P'],
    ['$partition', '{% $partition([1,2,3,4,5], 2) %}', {}, [[1, 2], [3, 4], [5]]],
    ['$range', '{% $range(0, 10, 5) %}', {}, [0, 5, 10]],
    ['$hash', "{% $hash('input data', 'SHA-1') %}", {}, 'aaff4a450a104cd177d28d18d74485e8cae074b7'],
    ['$parse', '{% $parse($states.input.s) %}', { s: '{"k":[1]}' }, { k: [1] }],
    ['$random with a seed repeats', '{% $random(7) = $random(7) %}', {}, true],
    ['$uuid', '{% $length($uuid()) %}', {}, 36],
    ['a literal string without {% %} is not evaluated', '$states.input', { a: 1 }, '$states.input'],
  ])('Output with %s', async (_title, output, input, expected) => {
    const o = await runDefinition(jsonata({ P: { Type: 'Pass', Output: output, End: true } }), input);
    expect(o.error ?? null, o.cause).toBeNull();
    expect(o.output).toEqual(expected);
  });

  it('Output may be an object whose leaves are expressions', async () => {
    const o = await runDefinition(jsonata({ P: { Type: 'Pass', Output: { a: '{% $states.input.x + 1 %}', b: ['{% "s" %}', 2] }, End: true } }), { x: 1 });
    expect(o.output).toEqual({ a: 2, b: ['s', 2] });
  });

  it('Arguments build the task input; $states.result and Output shape the output', async () => {
    const o = await runDefinition(
      jsonata({
        T: {
          Type: 'Task',
          Resource: 'fn:double',
          Arguments: { n: '{% $states.input.n %}' },
          Output: { doubled: '{% $states.result.n %}', was: '{% $states.input.n %}' },
          End: true,
        },
      }),
      { n: 2 },
      { double: (x: any) => ({ n: x.n * 2 }) },
    );
    expect(o.output).toEqual({ doubled: 4, was: 2 });
  });

  it('an expression that returns nothing fails with States.QueryEvaluationError and an EvaluationFailed event', async () => {
    const o = await runDefinition(jsonata({ Undef: { Type: 'Pass', Output: { v: '{% $states.input.missing %}' }, End: true } }), { x: 'a' });
    expect(o.error).toBe('States.QueryEvaluationError');
    expect(o.cause).toBe(
      "An error occurred while executing the state 'Undef' (entered at the event id #2). The JSONata expression '$states.input.missing' specified for the field 'Output/v' returned nothing (undefined).",
    );
    const failed = o.events.find((e) => e.type === 'EvaluationFailed')!;
    expect(failed.evaluationFailedEventDetails).toEqual({ error: 'States.QueryEvaluationError', cause: o.cause, location: 'Output/v', state: 'Undef' });
  });

  it('a Catch sees $states.errorOutput and shapes the output with its own Output', async () => {
    const o = await runDefinition(
      jsonata({
        T: {
          Type: 'Task',
          Resource: 'fn:boom',
          Catch: [{ ErrorEquals: ['States.ALL'], Output: { err: '{% $states.errorOutput.Error %}', input: '{% $states.input %}' }, Next: 'Done' }],
          End: true,
        },
        Done: { Type: 'Succeed' },
      }),
      { k: 1 },
      {
        boom: () => {
          throw Object.assign(new Error('bad'), { name: 'Boom' });
        },
      },
    );
    expect(o.output).toEqual({ err: 'Boom', input: { k: 1 } });
  });

  it('Choice Conditions are tried in order', async () => {
    const definition = jsonata({
      C: {
        Type: 'Choice',
        Choices: [
          { Condition: '{% $states.input.n > 10 %}', Next: 'Big' },
          { Condition: '{% $states.input.n > 0 %}', Next: 'Small' },
        ],
        Default: 'Zero',
      },
      Big: { Type: 'Pass', Output: 'big', End: true },
      Small: { Type: 'Pass', Output: 'small', End: true },
      Zero: { Type: 'Pass', Output: 'zero', End: true },
    });
    expect((await runDefinition(definition, { n: 11 })).output).toBe('big');
    expect((await runDefinition(definition, { n: 1 })).output).toBe('small');
    expect((await runDefinition(definition, { n: 0 })).output).toBe('zero');
  });

  it('Map Items and ItemSelector with $states.context.Map.Item', async () => {
    const o = await runDefinition(
      jsonata({
        M: {
          Type: 'Map',
          Items: '{% $states.input.xs %}',
          ItemSelector: { v: '{% $states.context.Map.Item.Value %}', i: '{% $states.context.Map.Item.Index %}' },
          ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } },
          End: true,
        },
      }),
      { xs: ['a', 'b'] },
    );
    expect(o.output).toEqual([
      { v: 'a', i: 0 },
      { v: 'b', i: 1 },
    ]);
  });

  it('a JSONata state in a JSONPath machine (QueryLanguage per state)', async () => {
    const o = await runDefinition(
      {
        StartAt: 'A',
        States: {
          A: { Type: 'Pass', Parameters: { 'x.$': '$.x' }, Next: 'B' },
          B: { Type: 'Pass', QueryLanguage: 'JSONata', Output: '{% $states.input.x * 10 %}', End: true },
        },
      },
      { x: 2 },
    );
    expect(o.output).toBe(20);
  });

  it('Wait Seconds may be an expression', async () => {
    const o = await runDefinition(jsonata({ W: { Type: 'Wait', Seconds: '{% $states.input.s %}', End: true } }), { s: 60 });
    expect(o.events.at(-1)!.timestamp - o.events[0].timestamp).toBe(60_000);
  });

  it('a Fail state takes Error and Cause from expressions', async () => {
    const o = await runDefinition(jsonata({ F: { Type: 'Fail', Error: '{% "E." & $states.input.k %}', Cause: '{% "because " & $states.input.k %}' } }), {
      k: 'x',
    });
    expect([o.error, o.cause]).toEqual(['E.x', 'because x']);
  });

  it('refuses JSONPath fields in a JSONata state', () => {
    expect(() => prepareDefinition(jsonata({ P: { Type: 'Pass', InputPath: '$.a', End: true } }), { schema: false })).toThrow(
      /InputPath.*not supported in JSONata/,
    );
  });
});

describe('variables', () => {
  it('Assign in JSONPath: later states read $name; $ is the state result', async () => {
    const o = await runDefinition(
      {
        StartAt: 'A',
        States: {
          A: { Type: 'Pass', Result: { id: 7 }, Assign: { 'id.$': '$.id', fixed: 'f' }, Next: 'B' },
          B: { Type: 'Pass', Parameters: { 'id.$': '$id', 'fixed.$': '$fixed' }, End: true },
        },
      },
      {},
    );
    expect(o.output).toEqual({ id: 7, fixed: 'f' });
    expect(o.events.find((e) => e.type === 'PassStateExited')!.stateExitedEventDetails).toEqual(
      expect.objectContaining({ assignedVariables: { id: '7', fixed: '"f"' } }),
    );
  });

  it('Assign and Output of one state both see the values from before the state', async () => {
    const o = await runDefinition(
      jsonata({
        A: { Type: 'Pass', Assign: { x: 1 }, Next: 'B' },
        B: { Type: 'Pass', Assign: { x: '{% $x + 1 %}' }, Output: { before: '{% $x %}' }, Next: 'C' },
        C: { Type: 'Pass', Output: '{% $x %}', End: true },
      }),
    );
    expect(o.events.find((e) => (e.stateExitedEventDetails as any)?.name === 'B')!.stateExitedEventDetails).toEqual(
      expect.objectContaining({ output: '{"before":1}' }),
    );
    expect(o.output).toBe(2);
  });

  it('a Map iteration reads outer variables; its own assignments stay inside', async () => {
    const o = await runDefinition(
      jsonata({
        A: { Type: 'Pass', Assign: { factor: 10 }, Next: 'M' },
        M: {
          Type: 'Map',
          ItemProcessor: {
            StartAt: 'I',
            States: { I: { Type: 'Pass', Assign: { inner: '{% $states.input %}' }, Output: '{% $states.input * $factor %}', End: true } },
          },
          Next: 'After',
        },
        After: { Type: 'Pass', Output: { result: '{% $states.input %}', innerVisible: '{% $exists($inner) %}' }, End: true },
      }),
      [1, 2],
    );
    expect(o.output).toEqual({ result: [10, 20], innerVisible: false });
  });

  it('refuses an inner scope assigning a variable of its outer scope', () => {
    const definition = jsonata({
      A: { Type: 'Pass', Assign: { x: 1 }, Next: 'P' },
      P: { Type: 'Parallel', Branches: [{ StartAt: 'B', States: { B: { Type: 'Pass', Assign: { x: 2 }, End: true } } }], End: true },
    });
    expect(() => prepareDefinition(definition, { schema: false })).toThrow(/variable 'x' is declared in an outer scope/);
  });

  it('refuses an invalid variable name', () => {
    expect(() => prepareDefinition({ StartAt: 'A', States: { A: { Type: 'Pass', Assign: { '1x': 1 }, End: true } } }, { schema: false })).toThrow(
      /variable name '1x' is invalid/,
    );
  });

  it('a variable over 256 KiB fails with States.DataLimitExceeded', async () => {
    const o = await runDefinition(jsonata({ A: { Type: 'Pass', Assign: { big: '{% $states.input.s %}' }, End: true } }), { s: 'x'.repeat(256 * 1024) });
    expect(o.error).toBe('States.DataLimitExceeded');
  });

  it('a Catch can Assign from the error output (JSONPath)', async () => {
    const o = await runDefinition(
      {
        StartAt: 'T',
        States: {
          T: { Type: 'Task', Resource: 'fn:boom', Catch: [{ ErrorEquals: ['States.ALL'], Assign: { 'why.$': '$.Cause' }, Next: 'Done' }], End: true },
          Done: { Type: 'Pass', Parameters: { 'why.$': '$why' }, End: true },
        },
      },
      {},
      {
        boom: () => {
          throw Object.assign(new Error('the cause'), { name: 'Boom' });
        },
      },
    );
    expect(o.output).toEqual({ why: 'the cause' });
  });
});
