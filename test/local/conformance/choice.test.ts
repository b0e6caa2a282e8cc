/**
 * Conformance: every Choice operator of https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html,
 * one row per rule. A rule whose Variable has the wrong type is false (not an error); `Is*: false` matches
 * values that are NOT of that type; only IsPresent tolerates a missing Variable.
 */
import { describe, expect, it } from 'vitest';
import { runDefinition } from './harness';

function choose(rule: object): object {
  return {
    StartAt: 'C',
    States: {
      C: { Type: 'Choice', Choices: [{ ...rule, Next: 'Yes' }], Default: 'No' },
      Yes: { Type: 'Pass', Result: 'yes', End: true },
      No: { Type: 'Pass', Result: 'no', End: true },
    },
  };
}

const T1 = '2030-01-01T08:00:00Z';
const T2 = '2030-01-01T09:00:00+00:00';

// [rule, input, matches]
const rows: [object, unknown, boolean][] = [
  [{ Variable: '$.v', StringEquals: 'a' }, { v: 'a' }, true],
  [{ Variable: '$.v', StringEquals: 'a' }, { v: 'b' }, false],
  [{ Variable: '$.v', StringEquals: '1' }, { v: 1 }, false],
  [{ Variable: '$.v', StringEqualsPath: '$.w' }, { v: 'a', w: 'a' }, true],
  [{ Variable: '$.v', StringLessThan: 'b' }, { v: 'a' }, true],
  [{ Variable: '$.v', StringLessThanPath: '$.w' }, { v: 'b', w: 'a' }, false],
  [{ Variable: '$.v', StringGreaterThan: 'a' }, { v: 'b' }, true],
  [{ Variable: '$.v', StringGreaterThanPath: '$.w' }, { v: 'b', w: 'a' }, true],
  [{ Variable: '$.v', StringLessThanEquals: 'a' }, { v: 'a' }, true],
  [{ Variable: '$.v', StringLessThanEqualsPath: '$.w' }, { v: 'a', w: 'a' }, true],
  [{ Variable: '$.v', StringGreaterThanEquals: 'b' }, { v: 'a' }, false],
  [{ Variable: '$.v', StringGreaterThanEqualsPath: '$.w' }, { v: 'b', w: 'b' }, true],
  [{ Variable: '$.v', StringMatches: 'log-*.txt' }, { v: 'log-2030.txt' }, true],
  [{ Variable: '$.v', StringMatches: 'log-*.txt' }, { v: 'log-2030.csv' }, false],
  [{ Variable: '$.v', StringMatches: 'a\\*b' }, { v: 'a*b' }, true],
  [{ Variable: '$.v', StringMatches: 'a\\*b' }, { v: 'axxb' }, false],
  [{ Variable: '$.v', NumericEquals: 1 }, { v: 1.0 }, true],
  [{ Variable: '$.v', NumericEquals: 1 }, { v: '1' }, false],
  [{ Variable: '$.v', NumericEqualsPath: '$.w' }, { v: 2, w: 2 }, true],
  [{ Variable: '$.v', NumericLessThan: 2 }, { v: 1.5 }, true],
  [{ Variable: '$.v', NumericLessThanPath: '$.w' }, { v: 3, w: 2 }, false],
  [{ Variable: '$.v', NumericGreaterThan: 2 }, { v: 3 }, true],
  [{ Variable: '$.v', NumericGreaterThanPath: '$.w' }, { v: 3, w: 2 }, true],
  [{ Variable: '$.v', NumericLessThanEquals: 2 }, { v: 2 }, true],
  [{ Variable: '$.v', NumericLessThanEqualsPath: '$.w' }, { v: 2, w: 1 }, false],
  [{ Variable: '$.v', NumericGreaterThanEquals: 2 }, { v: 2 }, true],
  [{ Variable: '$.v', NumericGreaterThanEqualsPath: '$.w' }, { v: 1, w: 2 }, false],
  [{ Variable: '$.v', BooleanEquals: true }, { v: true }, true],
  [{ Variable: '$.v', BooleanEquals: true }, { v: 'true' }, false],
  [{ Variable: '$.v', BooleanEqualsPath: '$.w' }, { v: false, w: false }, true],
  [{ Variable: '$.v', TimestampEquals: T1 }, { v: '2030-01-01T09:00:00+01:00' }, true],
  [{ Variable: '$.v', TimestampEquals: T1 }, { v: 'not a time' }, false],
  [{ Variable: '$.v', TimestampEqualsPath: '$.w' }, { v: T1, w: T1 }, true],
  [{ Variable: '$.v', TimestampLessThan: T2 }, { v: T1 }, true],
  [{ Variable: '$.v', TimestampLessThanPath: '$.w' }, { v: T2, w: T1 }, false],
  [{ Variable: '$.v', TimestampGreaterThan: T1 }, { v: T2 }, true],
  [{ Variable: '$.v', TimestampGreaterThanPath: '$.w' }, { v: T2, w: T1 }, true],
  [{ Variable: '$.v', TimestampLessThanEquals: T1 }, { v: T1 }, true],
  [{ Variable: '$.v', TimestampLessThanEqualsPath: '$.w' }, { v: T2, w: T1 }, false],
  [{ Variable: '$.v', TimestampGreaterThanEquals: T2 }, { v: T1 }, false],
  [{ Variable: '$.v', TimestampGreaterThanEqualsPath: '$.w' }, { v: T2, w: T2 }, true],
  [{ Variable: '$.v', TimestampEquals: T1 }, { v: '2030-01-01t08:00:00z' }, false],
  [{ Variable: '$.v', IsNull: true }, { v: null }, true],
  [{ Variable: '$.v', IsNull: false }, { v: 1 }, true],
  [{ Variable: '$.v', IsNull: false }, { v: null }, false],
  [{ Variable: '$.v', IsPresent: true }, { v: null }, true],
  [{ Variable: '$.v', IsPresent: true }, {}, false],
  [{ Variable: '$.v', IsPresent: false }, {}, true],
  [{ Variable: '$.v', IsNumeric: true }, { v: 1 }, true],
  [{ Variable: '$.v', IsNumeric: false }, { v: '1' }, true],
  [{ Variable: '$.v', IsNumeric: false }, { v: 1 }, false],
  [{ Variable: '$.v', IsString: true }, { v: 's' }, true],
  [{ Variable: '$.v', IsString: false }, { v: 1 }, true],
  [{ Variable: '$.v', IsString: false }, { v: 's' }, false],
  [{ Variable: '$.v', IsBoolean: true }, { v: false }, true],
  [{ Variable: '$.v', IsBoolean: false }, { v: 0 }, true],
  [{ Variable: '$.v', IsBoolean: false }, { v: true }, false],
  [{ Variable: '$.v', IsTimestamp: true }, { v: T1 }, true],
  [{ Variable: '$.v', IsTimestamp: false }, { v: '2030-01-01' }, true],
  [{ Variable: '$.v', IsTimestamp: false }, { v: T1 }, false],
  [
    {
      And: [
        { Variable: '$.a', NumericEquals: 1 },
        { Variable: '$.b', NumericEquals: 2 },
      ],
    },
    { a: 1, b: 2 },
    true,
  ],
  [
    {
      And: [
        { Variable: '$.a', NumericEquals: 1 },
        { Variable: '$.b', NumericEquals: 2 },
      ],
    },
    { a: 1, b: 3 },
    false,
  ],
  [
    {
      Or: [
        { Variable: '$.a', NumericEquals: 1 },
        { Variable: '$.b', NumericEquals: 2 },
      ],
    },
    { a: 0, b: 2 },
    true,
  ],
  [
    {
      Or: [
        { Variable: '$.a', NumericEquals: 1 },
        { Variable: '$.b', NumericEquals: 2 },
      ],
    },
    { a: 0, b: 0 },
    false,
  ],
  [{ Not: { Variable: '$.a', StringEquals: 'x' } }, { a: 'y' }, true],
  [{ Not: { Variable: '$.a', StringEquals: 'x' } }, { a: 'x' }, false],
  [{ Variable: '$$.State.Name', StringEquals: 'C' }, {}, true],
];

describe('Choice rules', () => {
  it.each(rows)('%j on %j matches: %s', async (rule, input, matches) => {
    // Act
    const outcome = await runDefinition(choose(rule), input);

    // Assess
    expect(outcome.error ?? null, outcome.cause).toBeNull();
    expect(outcome.output).toBe(matches ? 'yes' : 'no');
  });

  it('a missing Variable fails with States.Runtime worded as AWS words it', async () => {
    // Act
    const outcome = await runDefinition(choose({ Variable: '$.jobs[0].done', BooleanEquals: true }), { jobs: [{}] });

    // Assess (cause from https://docs.aws.amazon.com/step-functions/latest/dg/sample-project-job-poller.html's troubleshooting)
    expect(outcome.error).toBe('States.Runtime');
    expect(outcome.cause).toBe(
      "An error occurred while executing the state 'C' (entered at the event id #2). Invalid path '$.jobs[0].done': The choice state's condition path references an invalid value.",
    );
  });

  it('no matching rule and no Default fails with States.NoChoiceMatched', async () => {
    // Prepare
    const definition = {
      StartAt: 'C',
      States: { C: { Type: 'Choice', Choices: [{ Variable: '$.x', StringEquals: 'never', Next: 'D' }] }, D: { Type: 'Succeed' } },
    };

    // Act
    const outcome = await runDefinition(definition, { x: 'a' });

    // Assess (error name from https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html#error-handling-error-representation)
    expect(outcome.error).toBe('States.NoChoiceMatched');
    expect(outcome.cause).toMatch(/^An error occurred while executing the state 'C' \(entered at the event id #2\)\. /);
  });

  it('States.NoChoiceMatched is not a States.Runtime error: an enclosing Parallel catches it with States.ALL', async () => {
    // Prepare
    const choice = {
      StartAt: 'C',
      States: { C: { Type: 'Choice', Choices: [{ Variable: '$.x', StringEquals: 'never', Next: 'D' }] }, D: { Type: 'Succeed' } },
    };
    const definition = {
      StartAt: 'P',
      States: { P: { Type: 'Parallel', Branches: [choice], Catch: [{ ErrorEquals: ['States.ALL'], Next: 'H' }], End: true }, H: { Type: 'Pass', End: true } },
    };

    // Act
    const outcome = await runDefinition(definition, { x: 'a' });

    // Assess
    expect(outcome.status).toBe('SUCCEEDED');
    expect((outcome.output as { Error: string }).Error).toBe('States.NoChoiceMatched');
  });

  it('rules are tried in order and the first match wins', async () => {
    // Prepare
    const definition = {
      StartAt: 'C',
      States: {
        C: {
          Type: 'Choice',
          Choices: [
            { Variable: '$.n', NumericGreaterThan: 1, Next: 'A' },
            { Variable: '$.n', NumericGreaterThan: 0, Next: 'B' },
          ],
        },
        A: { Type: 'Pass', Result: 'A', End: true },
        B: { Type: 'Pass', Result: 'B', End: true },
      },
    };

    // Act + Assess
    expect((await runDefinition(definition, { n: 5 })).output).toBe('A');
    expect((await runDefinition(definition, { n: 1 })).output).toBe('B');
  });

  it('refuses a literal timestamp that is not RFC 3339 at create time', async () => {
    // Act + Assess
    await expect(runDefinition(choose({ Variable: '$.v', TimestampEquals: '2030-01-01 08:00' }), {})).rejects.toThrow(/TimestampEquals/);
  });
});
