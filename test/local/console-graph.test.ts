/** The console's graph model: states' status from GetExecutionHistory events, and the layout of a definition. */
import { describe, expect, it } from 'vitest';
import type { AslDefinition, HistoryEvent } from '../../local/console/api';
import { layoutDefinition } from '../../local/console/app/graph';
import { stateRuns } from '../../local/console/app/status';

let id = 0;
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
function ev(type: string, details?: Record<string, unknown>, second = id): HistoryEvent {
  id += 1;
  const key = type.endsWith('StateEntered')
    ? 'stateEnteredEventDetails'
    : type.endsWith('StateExited')
      ? 'stateExitedEventDetails'
      : `${type[0].toLowerCase()}${type.slice(1)}EventDetails`;
  return { id, previousEventId: id - 1, timestamp: at(second), type, ...(details ? { [key]: details } : {}) };
}

describe('stateRuns', () => {
  it('marks a failure that a Catch handled as caught, the Fail state it led to as failed, the rest not reached', () => {
    const events = [
      ev('ExecutionStarted', { input: '{}' }),
      ev('TaskStateEntered', { name: 'ValidateInput', input: '{"policy":{}}' }),
      ev('LambdaFunctionScheduled', { resource: 'fn' }),
      ev('LambdaFunctionFailed', { error: 'Policy.Invalid', cause: 'rules: required' }),
      ev('TaskStateExited', { name: 'ValidateInput', output: '{"problems":{}}' }),
      ev('FailStateEntered', { name: 'PolicyInvalid', input: '{}' }),
      ev('ExecutionFailed', { error: 'Policy.Invalid', cause: 'rules: required' }),
    ];
    const runs = stateRuns(events, 'FAILED');
    expect(runs.get('ValidateInput')).toMatchObject({
      status: 'caught',
      error: 'Policy.Invalid',
      cause: 'rules: required',
      retries: 0,
      input: '{"policy":{}}',
    });
    expect(runs.get('PolicyInvalid')).toMatchObject({ status: 'failed' });
    expect(runs.has('Evaluate')).toBe(false);
  });

  it('counts retries, and a failure that no Catch handled fails the state', () => {
    const events = [
      ev('TaskStateEntered', { name: 'Act' }),
      ev('TaskScheduled', { resource: 'ec2:stopInstances' }),
      ev('TaskFailed', { error: 'Ec2.RequestLimitExceeded', cause: 'slow down' }),
      ev('TaskScheduled', { resource: 'ec2:stopInstances' }),
      ev('TaskFailed', { error: 'Ec2.RequestLimitExceeded', cause: 'slow down' }),
      ev('TaskScheduled', { resource: 'ec2:stopInstances' }),
      ev('TaskFailed', { error: 'Ec2.UnauthorizedOperation', cause: 'denied' }),
      ev('ExecutionFailed', { error: 'Ec2.UnauthorizedOperation' }),
    ];
    expect(stateRuns(events, 'FAILED').get('Act')).toMatchObject({ status: 'failed', retries: 2, error: 'Ec2.UnauthorizedOperation', cause: 'denied' });
  });

  it('shows the state still waiting (an activity) as running, and as aborted once the execution is stopped', () => {
    const events = [
      ev('ParallelStateEntered', { name: 'AwaitDecision' }),
      ev('ParallelStateStarted'),
      ev('TaskStateEntered', { name: 'WaitForDecision' }),
      ev('ActivityScheduled', { resource: 'activity' }),
      ev('ActivityStarted'),
    ];
    expect(stateRuns(events, 'RUNNING').get('WaitForDecision')!.status).toBe('running');
    expect(stateRuns(events, 'RUNNING').get('AwaitDecision')!.status).toBe('running');
    expect(stateRuns([...events, ev('ExecutionAborted')], 'ABORTED').get('WaitForDecision')!.status).toBe('aborted');
  });

  it('sums a state that ran once per Map item', () => {
    const events = [ev('MapStateEntered', { name: 'Each' }), ev('MapStateStarted')];
    for (let i = 0; i < 3; i++) events.push(ev('PassStateEntered', { name: 'Double' }), ev('PassStateExited', { name: 'Double', output: String(i) }));
    events.push(ev('MapStateSucceeded'), ev('MapStateExited', { name: 'Each', output: '[0,1,2]' }));
    const runs = stateRuns(events, 'SUCCEEDED');
    expect(runs.get('Double')).toMatchObject({ status: 'succeeded', entered: 3, output: '2' });
    expect(runs.get('Each')).toMatchObject({ status: 'succeeded', entered: 1 });
  });
});

describe('layoutDefinition', () => {
  const definition: AslDefinition = {
    StartAt: 'Validate',
    States: {
      Validate: { Type: 'Task', Resource: 'fn', Next: 'Both', Catch: [{ ErrorEquals: ['Input.Invalid'], Next: 'Invalid' }] },
      Both: {
        Type: 'Parallel',
        Branches: [
          { StartAt: 'A', States: { A: { Type: 'Pass', End: true } } },
          { StartAt: 'Each', States: { Each: { Type: 'Map', ItemProcessor: { StartAt: 'B', States: { B: { Type: 'Pass', End: true } } }, End: true } } },
        ],
        Next: 'Done',
      },
      Done: { Type: 'Succeed' },
      Invalid: { Type: 'Fail', Error: 'Input.Invalid' },
    },
  };

  it('nests Map and Parallel states as groups, each state once, with catch edges marked', () => {
    const g = layoutDefinition(definition);
    expect(
      g.nodes
        .filter((n) => n.kind === 'state')
        .map((n) => n.name)
        .sort(),
    ).toEqual(['A', 'B', 'Both', 'Done', 'Each', 'Invalid', 'Validate']);
    expect(g.groups.map((x) => `${x.kind}:${x.label}`).sort()).toEqual(['Branch:Branch 1', 'Branch:Branch 2', 'Map:Each', 'Parallel:Both']);
    const inside = (name: string, group: string) => {
      const n = g.nodes.find((x) => x.name === name && x.kind === 'state')!;
      const grp = g.groups.find((x) => x.label === group)!;
      return Math.abs(n.x - grp.x) <= grp.width / 2 && Math.abs(n.y - grp.y) <= grp.height / 2;
    };
    expect(inside('B', 'Each')).toBe(true);
    expect(inside('B', 'Both')).toBe(true);
    expect(inside('Validate', 'Both')).toBe(false);
    expect(g.edges.filter((e) => e.kind === 'catch').map((e) => `${e.from}→${e.to}`)).toEqual(['Validate→Invalid']);
    expect(g.edges.every((e) => e.points.length >= 2)).toBe(true);
  });
});
