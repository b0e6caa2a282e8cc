import { describe, expect, it } from 'vitest';
import { identity } from '../../../local/services/fleet';
import { validateInput } from '../../../tasks/tag-policy/core/input';
import { InputInvalidError, PolicyInvalidError } from '../../../tasks/shared/errors';
import deployed from '../../../tag-policy.json';

const ctx = { deployedPolicy: deployed, destructiveActions: ['stop', 'terminate'] as const, settleSeconds: 120, executionArn: 'arn:aws:states:us-east-1:1:execution:TagPolicy:run-7', now: new Date('2025-03-01T00:00:00Z') };
const problems = (input: unknown) => {
  try {
    validateInput(input, ctx);
  } catch (err) {
    return (err as InputInvalidError).problems;
  }
  return [];
};

describe('validateInput', () => {
  it('makes a dry-run scan of the deployed policy by default', () => {
    expect(validateInput({ mode: 'scan' }, ctx)).toMatchObject({ id: 'run-7', mode: 'scan', dryRun: true, settleSeconds: 0, policy: { rules: expect.any(Array) } });
  });

  it('applies only when dryRun is explicitly false', () => expect(validateInput({ mode: 'scan', dryRun: false }, ctx).dryRun).toBe(false));

  it('reads the ids and the launcher from the RunInstances rule input', () => {
    const run = validateInput({ mode: 'launch', launch: { items: [{ instanceId: 'i-0123456789abcdef0' }], userIdentity: identity.sso('Dev', 'erin@example.com') } }, ctx);
    expect(run).toMatchObject({ mode: 'launch', instanceIds: ['i-0123456789abcdef0'], launchedBy: 'erin@example.com', settleSeconds: 120 });
  });

  it('lists every input problem at once', () => {
    expect(problems({ mode: 'sweep', dryRun: 'no', instanceIds: ['web-01'], extra: 1 })).toEqual([
      'extra: unknown field (allowed: mode, instanceIds, dryRun, policy)',
      'mode: must be "scan" or "launch", got "sweep"',
      'dryRun: must be true or false',
      'instanceIds: not instance ids: "web-01"',
    ]);
    expect(problems({ mode: 'launch' })).toEqual(['instanceIds: launch mode needs the launched instance ids']);
    expect(problems([])).toEqual(['input: must be a JSON object']);
  });

  it('checks an input policy like the file, naming paths under policy.', () => {
    let error: unknown;
    try {
      validateInput({ mode: 'scan', policy: { version: 1, rules: [{ key: 'aws:x' }] } }, ctx);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PolicyInvalidError);
    expect((error as PolicyInvalidError).problems).toEqual(["policy.rules[0].key: 'aws:x' starts with 'aws:', which EC2 reserves for AWS"]);
  });

  it('holds an input policy that will be applied to the tag keys the deployment may write (the Apply role allows only those)', () => {
    // Prepare: Schedule would enrol instances in Ec2Schedule; Code only terminates, so it writes no tag.
    const policy = {
      version: 1,
      rules: [
        { key: 'Schedule', onMissing: { action: 'tag', value: 'office-hours' } },
        { key: 'Team', onMissing: { action: 'lookup-creator' } },
        { key: 'CostCenter', onMissing: { action: 'tag', value: 'CC-0001' } },
        { key: 'Code', allowedValues: ['LOL'], onMissing: { action: 'terminate' }, onInvalid: { action: 'terminate' } },
      ],
    };

    // Act
    let error: unknown;
    try {
      validateInput({ mode: 'scan', dryRun: false, policy }, ctx);
    } catch (err) {
      error = err;
    }

    // Assess: a dry run writes nothing, so it may evaluate any keys; applied, two rules would be refused by IAM.
    expect(validateInput({ mode: 'scan', policy }, ctx).policy.rules.map((r) => r.key)).toEqual(['Schedule', 'Team', 'CostCenter', 'Code']);
    expect(error).toBeInstanceOf(PolicyInvalidError);
    expect((error as PolicyInvalidError).problems).toEqual([
      "policy.rules[0].key: this deployment may only write the tags CostCenter, Environment, Owner (its IAM allows the deployed policy's keys), not 'Schedule'",
      "policy.rules[1].key: this deployment may only write the tags CostCenter, Environment, Owner (its IAM allows the deployed policy's keys), not 'Team'",
    ]);
  });
});
