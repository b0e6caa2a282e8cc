import { describe, expect, it } from 'vitest';
import { identity } from '../../../local/services/fleet';
import { validateInput } from '../../../tasks/tag-policy/core/input';
import { InputInvalidError, PolicyInvalidError } from '../../../tasks/shared/errors';
import deployed from '../../../tag-policy.json';

const ctx = {
  deployedPolicy: deployed,
  destructiveActions: ['stop', 'terminate'] as const,
  settleSeconds: 120,
  executionArn: 'arn:aws:states:us-east-1:1:execution:TagPolicy:run-7',
  now: new Date('2025-03-01T00:00:00Z'),
};
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
    expect(validateInput({ mode: 'scan' }, ctx)).toMatchObject({
      id: 'run-7',
      mode: 'scan',
      dryRun: true,
      settleSeconds: 0,
      policy: { rules: expect.any(Array) },
    });
  });

  it('applies only when dryRun is explicitly false', () => expect(validateInput({ mode: 'scan', dryRun: false }, ctx).dryRun).toBe(false));

  it('reads the ids and the launcher from the RunInstances rule input', () => {
    const run = validateInput(
      { mode: 'launch', launch: { items: [{ instanceId: 'i-0123456789abcdef0' }], userIdentity: identity.sso('Dev', 'erin@example.com') } },
      ctx,
    );
    expect(run).toMatchObject({ mode: 'launch', instanceIds: ['i-0123456789abcdef0'], launchedBy: 'erin@example.com', settleSeconds: 120 });
  });

  it("keeps a launch's account and region (the event's, from a member account), both or neither, and only with instances", () => {
    const launch = { mode: 'launch', launch: { items: [{ instanceId: 'i-0123456789abcdef0' }] } };
    expect(validateInput({ ...launch, account: '222222222222', region: 'eu-west-1' }, ctx)).toMatchObject({ account: '222222222222', region: 'eu-west-1' });
    expect(problems({ ...launch, account: '2222', region: 'Mars' })).toEqual([
      'account: must be a 12-digit account id, got "2222"',
      'region: must be a region name such as eu-west-1, got "Mars"',
    ]);
    expect(problems({ ...launch, account: '222222222222' })).toEqual(['region: must be a region name such as eu-west-1, got nothing']);
    expect(problems({ mode: 'scan', account: '222222222222', region: 'eu-west-1' })).toEqual([
      'account: account and region name where instanceIds (or a launch) are; a scan without them walks every target',
    ]);
  });

  it('lists every input problem at once', () => {
    expect(problems({ mode: 'sweep', dryRun: 'no', instanceIds: ['web-01'], extra: 1 })).toEqual([
      'extra: unknown field (allowed: mode, instanceIds, dryRun, rules, account, region)',
      'mode: must be "scan" or "launch", got "sweep"',
      'dryRun: must be true or false',
      'instanceIds: not instance ids: "web-01"',
    ]);
    expect(problems({ mode: 'launch' })).toEqual(['instanceIds: launch mode needs the launched instance ids']);
    expect(problems([])).toEqual(['input: must be a JSON object']);
  });

  it("refuses a policy of its own: approvers, grace period, exemption tag and stop/terminate rules are the deployment's", () => {
    // Prepare: the self-approval attack: name yourself approver, no grace period, terminate everything untagged.
    const policy = {
      version: 1,
      approvers: ['mallory@example.com'],
      gracePeriodHours: 0,
      exemptionTag: 'x',
      rules: [{ key: 'Code', onMissing: { action: 'terminate' } }],
    };

    // Act
    const listed = problems({ mode: 'scan', dryRun: false, policy, rules: ['Code', 7] });

    // Assess: every problem, and Input.Invalid (the deployed policy is fine; the input is not).
    expect(listed).toEqual([
      expect.stringMatching(
        /^policy: an execution cannot bring its own policy \(its approvers, grace period, exemption tag and stop\/terminate rules come from the deployed policy\)/,
      ),
      "rules: must be a non-empty array of the deployed policy's rule keys (Owner, CostCenter, Environment)",
    ]);
    expect(() => validateInput({ mode: 'scan', policy }, ctx)).toThrow(InputInvalidError);
  });

  it('narrows the deployed policy to some of its rules, never anything else', () => {
    const run = validateInput({ mode: 'scan', rules: ['Environment', 'Owner', 'Owner'] }, ctx);
    const deployedRun = validateInput({ mode: 'scan' }, ctx);
    expect(run.policy.rules.map((r) => r.key)).toEqual(['Owner', 'Environment']);
    expect({ ...run.policy, rules: [] }).toEqual({ ...deployedRun.policy, rules: [] });
    expect(problems({ mode: 'scan', rules: ['Schedule', 'Owner'] })).toEqual([
      'rules: "Schedule" not in the deployed policy (its rules: Owner, CostCenter, Environment)',
    ]);
    expect(problems({ mode: 'scan', rules: [] })).toEqual([
      "rules: must be a non-empty array of the deployed policy's rule keys (Owner, CostCenter, Environment)",
    ]);
  });

  it('fails Policy.Invalid when the deployed policy itself is broken', () => {
    expect(() => validateInput({ mode: 'scan' }, { ...ctx, deployedPolicy: { version: 1, rules: [{ key: 'aws:x' }] } })).toThrow(PolicyInvalidError);
  });
});

describe('validateInput, launches whose CloudTrail record omitted the instance list', () => {
  const launcher = identity.sso('Dev', 'erin@example.com');

  it('finds the instances of a launch by its client token, crediting the launcher', () => {
    // Prepare: CloudTrail omitted responseElements (over 100 KB), so the rule's `items` path rendered null.
    const input = {
      mode: 'launch',
      launch: { items: null, userIdentity: launcher, clientToken: 'b1946ac9-2f3e-4f1c-9b0e-2b1f0c5a7d11', eventTime: '2025-03-01T10:02:03Z' },
    };

    // Act
    const run = validateInput(input, ctx);

    // Assess
    expect(run).toMatchObject({
      mode: 'launch',
      launchFilter: { name: 'client-token', values: ['b1946ac9-2f3e-4f1c-9b0e-2b1f0c5a7d11'] },
      launchedBy: 'erin@example.com',
    });
    expect(run.instanceIds).toBeUndefined();
  });

  it('without a client token, evaluates what was launched in the minute of the call, crediting nobody', () => {
    const run = validateInput({ mode: 'launch', launch: { items: null, userIdentity: launcher, clientToken: null, eventTime: '2025-03-01T10:00:03Z' } }, ctx);
    expect(run.launchFilter).toEqual({ name: 'launch-time', values: ['2025-03-01T10:00*', '2025-03-01T09:59*'] });
    expect(run.launchedBy).toBeUndefined();
  });

  it('fails Input.Invalid when the record names nothing at all', () => {
    expect(problems({ mode: 'launch', launch: { items: null, userIdentity: launcher, clientToken: null, eventTime: null } })).toEqual([
      'launch: the RunInstances record names no instances (no responseElements.instancesSet.items, no requestParameters.clientToken, no eventTime)',
    ]);
  });
});
