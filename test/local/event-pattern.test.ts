import { describe, expect, it } from 'vitest';
import { matches, patternProblems, selectPath, transformInput } from '../../local/services/event-pattern';
import { identity } from '../../local/services/fleet';
import { LAUNCH_RULE_DETAIL } from '../../workflows/tag-policy/construct';

const event = {
  version: '0',
  id: 'e-1',
  source: 'aws.ec2',
  'detail-type': 'EC2 Instance State-change Notification',
  account: '000000000000',
  region: 'us-east-1',
  time: '2024-01-01T00:00:00Z',
  resources: ['arn:aws:ec2:us-east-1:000000000000:instance/i-1'],
  detail: {
    'instance-id': 'i-1',
    state: 'running',
    count: 5,
    flag: null,
    tags: [
      { key: 'Env', value: 'Prod' },
      { key: 'Owner', value: 'ops' },
    ],
    eventName: 'RunInstances',
  },
};

describe('matches', () => {
  it.each([
    ['exact value list', { source: ['aws.ec2', 'aws.s3'] }, true],
    ['exact value mismatch', { source: ['aws.s3'] }, false],
    ['nested objects', { detail: { state: ['running'] } }, true],
    ['type matters', { detail: { count: ['5'] } }, false],
    ['null value', { detail: { flag: [null] } }, true],
    ['array in event matches any element', { resources: ['arn:aws:ec2:us-east-1:000000000000:instance/i-1'] }, true],
    ['array of objects', { detail: { tags: { key: ['Owner'] } } }, true],
    ['array of objects, no element matches', { detail: { tags: { key: ['Team'] } } }, false],
    ['prefix', { 'detail-type': [{ prefix: 'EC2 ' }] }, true],
    ['prefix ignoring case', { 'detail-type': [{ prefix: { 'equals-ignore-case': 'ec2 instance' } }] }, true],
    ['suffix', { detail: { eventName: [{ suffix: 'Instances' }] } }, true],
    ['anything-but value', { detail: { state: [{ 'anything-but': 'stopped' }] } }, true],
    ['anything-but list excluding the value', { detail: { state: [{ 'anything-but': ['running', 'stopped'] }] } }, false],
    ['anything-but prefix', { detail: { state: [{ 'anything-but': { prefix: 'run' } }] } }, false],
    ['anything-but does not match a missing field', { detail: { missing: [{ 'anything-but': 'x' }] } }, false],
    ['exists true', { detail: { state: [{ exists: true }] } }, true],
    ['exists true on a missing field', { detail: { nope: [{ exists: true }] } }, false],
    ['exists false', { detail: { nope: [{ exists: false }] } }, true],
    ['exists false on a present field', { detail: { state: [{ exists: false }] } }, false],
    ['numeric range', { detail: { count: [{ numeric: ['>', 0, '<=', 5] }] } }, true],
    ['numeric range excluding', { detail: { count: [{ numeric: ['>=', 6] }] } }, false],
    ['numeric equal', { detail: { count: [{ numeric: ['=', 5] }] } }, true],
    ['numeric on a string', { detail: { state: [{ numeric: ['>', 0] }] } }, false],
    ['equals-ignore-case', { detail: { state: [{ 'equals-ignore-case': 'RUNNING' }] } }, true],
    ['wildcard', { resources: [{ wildcard: 'arn:aws:ec2:*:instance/*' }] }, true],
    ['wildcard mismatch', { resources: [{ wildcard: 'arn:aws:s3:*' }] }, false],
    ['$or, one branch matches', { source: ['aws.ec2'], $or: [{ detail: { state: ['stopped'] } }, { detail: { count: [5] } }] }, true],
    ['$or, no branch matches', { $or: [{ detail: { state: ['stopped'] } }, { detail: { count: [6] } }] }, false],
    ['all keys must match', { source: ['aws.ec2'], detail: { state: ['stopped'] } }, false],
  ])('%s', (_name, pattern, expected) => {
    // Act
    const result = matches(pattern, event);

    // Assess
    expect(result).toBe(expected);
  });
});

describe('matches, leaves only (operators work on leaf nodes)', () => {
  const e = { detail: { obj: { a: 1 }, empty: [], list: ['x', 'y'], objects: [{ a: 1 }] } };
  it.each([
    ['exists true on an object', { detail: { obj: [{ exists: true }] } }, false],
    ['exists false on an object', { detail: { obj: [{ exists: false }] } }, true],
    ['exists false on an empty array', { detail: { empty: [{ exists: false }] } }, true],
    ['exists true on an array of values', { detail: { list: [{ exists: true }] } }, true],
    ['anything-but on an object', { detail: { obj: [{ 'anything-but': 'x' }] } }, false],
    ['anything-but on an array: some element is not excluded', { detail: { list: [{ 'anything-but': ['x'] }] } }, true],
    ['anything-but on an array: every element excluded', { detail: { list: [{ 'anything-but': ['x', 'y'] }] } }, false],
  ])('%s', (_name, pattern, expected) => {
    expect(matches(pattern, e)).toBe(expected);
  });
});

describe('the TagPolicy launch rule pattern', () => {
  const pattern = { source: ['aws.ec2'], 'detail-type': ['AWS API Call via CloudTrail'], detail: LAUNCH_RULE_DETAIL };
  const runInstances = (userIdentity: object, extra: object = {}) => ({
    source: 'aws.ec2',
    'detail-type': 'AWS API Call via CloudTrail',
    detail: { eventSource: 'ec2.amazonaws.com', eventName: 'RunInstances', userIdentity, ...extra },
  });

  it('is a pattern EventBridge accepts', () => {
    expect(patternProblems(pattern)).toEqual([]);
  });

  it.each([
    ['a person (no invokedBy)', runInstances(identity.sso('PowerUser', 'carol@example.com')), true],
    ['an IAM user', runInstances(identity.iamUser('alice')), true],
    ['another service (CloudFormation)', runInstances({ ...identity.iamUser('alice'), invokedBy: 'cloudformation.amazonaws.com' }), true],
    ['EC2 Auto Scaling', runInstances(identity.autoScaling()), false],
    ['a failed call', runInstances(identity.iamUser('alice'), { errorCode: 'InsufficientInstanceCapacity' }), false],
  ])('%s: %s', (_name, event, expected) => {
    expect(matches(pattern, event)).toBe(expected);
  });
});

describe('patternProblems', () => {
  it('accepts a valid pattern', () => {
    expect(patternProblems({ source: ['aws.ec2'], detail: { count: [{ numeric: ['>', 1] }] } })).toEqual([]);
  });

  it('names the key of a scalar leaf and of an unknown matcher', () => {
    // Act
    const problems = patternProblems({ source: 'aws.ec2', detail: { state: [{ regex: '.*' }] } });

    // Assess
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^source: leaf values must be arrays/);
    expect(problems[1]).toMatch(/^detail\.state: unknown matcher/);
  });
});

describe('selectPath', () => {
  it('selects objects, array elements and quoted keys', () => {
    expect(selectPath(event, '$')).toBe(event);
    expect(selectPath(event, '$.detail.state')).toBe('running');
    expect(selectPath(event, '$.detail.tags[1].value')).toBe('ops');
    expect(selectPath(event, "$.detail['instance-id']")).toBe('i-1');
    expect(selectPath(event, '$.detail.nope.deeper')).toBeUndefined();
  });
});

describe('transformInput', () => {
  it('inserts raw text inside quotes and JSON outside them', () => {
    // Prepare
    const t = {
      InputPathsMap: { id: '$.detail.instance-id', count: '$.detail.count', tags: '$.detail.tags', missing: '$.detail.none' },
      InputTemplate: '{"instance": "<id>", "n": <count>, "tags": <tags>, "label": "id=<id> n=<count>", "gone": <missing>}',
    };

    // Act
    const out = JSON.parse(transformInput(event, t));

    // Assess
    expect(out).toEqual({ instance: 'i-1', n: 5, tags: event.detail.tags, label: 'id=i-1 n=5', gone: null });
  });

  it('keeps the output valid JSON when a quoted value contains quotes', () => {
    const out = transformInput({ detail: { msg: 'say "hi"' } }, { InputPathsMap: { m: '$.detail.msg' }, InputTemplate: '{"text": "<m>"}' });
    expect(JSON.parse(out)).toEqual({ text: 'say "hi"' });
  });

  it('supports the whole event and the rule name', () => {
    const out = transformInput(event, { InputTemplate: '{"event": <aws.events.event.json>, "rule": "<aws.events.rule-name>"}' }, { ruleName: 'r1' });
    expect(JSON.parse(out)).toEqual({ event, rule: 'r1' });
  });

  it('renders a plain string template', () => {
    const out = transformInput(event, { InputPathsMap: { s: '$.detail.state' }, InputTemplate: '"instance is <s>"' });
    expect(JSON.parse(out)).toBe('instance is running');
  });
});
