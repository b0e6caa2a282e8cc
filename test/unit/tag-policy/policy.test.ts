/** The policy format: the repository file and examples are valid; each kind of mistake is a named Policy.Invalid problem. */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateInput } from '../../../tasks/tag-policy/core/input';
import { destructiveActionsOf, parsePolicy } from '../../../tasks/tag-policy/core/policy';
import { PolicyInvalidError } from '../../../tasks/shared/errors';
import deployed from '../../../tag-policy.json';

function problems(raw: unknown, opts = {}): string[] {
  try {
    parsePolicy(raw, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyInvalidError);
    expect((err as Error).name).toBe('Policy.Invalid');
    return (err as PolicyInvalidError).problems;
  }
  return [];
}

const minimal = (rule: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ version: 1, rules: [{ key: 'Owner', ...rule }], ...extra });

describe('parsePolicy', () => {
  it('accepts the repository policy and applies the safe defaults', () => {
    const p = parsePolicy(deployed);
    expect(p.dryRun).toBe(true);
    expect(p.rules.map((r) => r.key)).toEqual(['Owner', 'CostCenter', 'Environment']);
    expect(destructiveActionsOf(p)).toEqual(['stop']);
  });

  it('defaults to dry run, 72 h grace, notify, required', () => {
    const p = parsePolicy(minimal({}));
    expect(p).toMatchObject({ dryRun: true, gracePeriodHours: 72, exemptionTag: 'opsflow:exempt', blastRadius: { maxInstances: 20, maxPercent: 25 } });
    expect(p.rules[0]).toMatchObject({ required: true, case: 'sensitive', onMissing: { action: 'notify' }, onInvalid: { action: 'notify' } });
  });

  it('accepts every example input in workflows/tag-policy/examples, through validateInput like the workflow', () => {
    const dir = 'workflows/tag-policy/examples';
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
    expect(files).toEqual(['tag-policy-instances.json', 'tag-policy-rules.json', 'tag-policy-scan-apply.json', 'tag-policy-scan-dry-run.json']);
    const ctx = {
      deployedPolicy: deployed,
      destructiveActions: ['stop', 'terminate'] as const,
      settleSeconds: 120,
      executionArn: 'arn:aws:states:us-east-1:1:execution:TagPolicy:example',
      now: new Date('2025-03-01T00:00:00Z'),
    };
    const runs = Object.fromEntries(files.map((f) => [f, validateInput(JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')), ctx)]));
    expect(Object.fromEntries(Object.entries(runs).map(([f, r]) => [f, { mode: r.mode, dryRun: r.dryRun, rules: r.policy.rules.length }]))).toEqual({
      'tag-policy-instances.json': { mode: 'scan', dryRun: true, rules: 3 },
      'tag-policy-rules.json': { mode: 'scan', dryRun: true, rules: 1 },
      'tag-policy-scan-apply.json': { mode: 'scan', dryRun: false, rules: 3 },
      'tag-policy-scan-dry-run.json': { mode: 'scan', dryRun: true, rules: 3 },
    });
  });

  it('accepts the example policy files in workflows/tag-policy/examples/policies (deployed with tagPolicy.policyFile)', () => {
    const dir = 'workflows/tag-policy/examples/policies';
    const policies = readdirSync(dir)
      .sort()
      .map((f) => parsePolicy(JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'))));
    expect(policies.map((p) => p.description)).toEqual([expect.stringMatching(/^Broom/), expect.stringMatching(/Serverless Policy Engine/)]);
  });

  it('names schema errors by path: unknown fields, wrong types, unknown actions', () => {
    expect(problems({ version: 2, rules: [], colour: 'red' })).toEqual([
      'version: must be 1, got 2',
      'rules: must have at least 1 item(s)',
      'colour: is not a known field (known: version, description, dryRun, exemptionTag, gracePeriodHours, blastRadius, approvers, rules)',
    ]);
    expect(problems(minimal({ onMissing: { action: 'explode' } }))).toEqual([
      'rules[0].onMissing.action: must be one of "tag", "lookup-creator", "notify", "stop", "terminate", got "explode"',
    ]);
    expect(problems(minimal({ required: 'yes' }))).toEqual(['rules[0].required: must be a boolean, got "yes"']);
  });

  it('fails on a regular expression that does not compile', () => {
    expect(problems(minimal({ pattern: '([a-z' }))).toEqual([expect.stringMatching(/^rules\[0\]\.pattern: not a valid RE2 regular expression/)]);
    // RE2 syntax: backreferences and lookaround (which need backtracking) are refused.
    expect(problems(minimal({ pattern: '(a)\\1' }))).toEqual([
      expect.stringMatching(/^rules\[0\]\.pattern: not a valid RE2 regular expression .*invalid escape sequence/),
    ]);
    expect(problems(minimal({ pattern: '(?=a)a' }))).toEqual([expect.stringMatching(/^rules\[0\]\.pattern: not a valid RE2 regular expression .*\(\?=/)]);
  });

  it('fails on tag keys and values EC2 would refuse', () => {
    expect(problems(minimal({ key: 'aws:owner' }))).toEqual(["rules[0].key: 'aws:owner' starts with 'aws:', which EC2 reserves for AWS"]);
    expect(problems(minimal({ key: 'x'.repeat(129) }))).toEqual(['rules[0].key: must be at most 128 characters, got 129']);
    expect(problems(minimal({ onMissing: { action: 'tag', value: 'v'.repeat(257) } }))).toEqual([
      'rules[0].onMissing.value: must be at most 256 characters, got 257',
    ]);
    expect(problems({ ...minimal({}), exemptionTag: 'AWS:exempt' })).toEqual(["exemptionTag: 'AWS:exempt' starts with 'aws:', which EC2 reserves for AWS"]);
  });

  it('fails on defaults that would break their own rule, unknown variables, and misplaced values', () => {
    expect(problems(minimal({ allowedValues: ['a'], onMissing: { action: 'tag', value: 'b' } }))).toEqual([
      'rules[0].onMissing.value: "b" would itself break the rule (tag Owner is "b", expected one of a)',
    ]);
    expect(problems(minimal({ onMissing: { action: 'tag', value: '${tomorrow}' } }))).toEqual([
      'rules[0].onMissing.value: unknown variable ${tomorrow} (known: ${today}, ${creator}, ${launchTime})',
    ]);
    expect(problems(minimal({ onMissing: { action: 'tag' } }))).toEqual(["rules[0].onMissing.value: the 'tag' action needs a value"]);
    expect(problems(minimal({ onMissing: { action: 'notify', value: 'x' } }))).toEqual(["rules[0].onMissing.value: only the 'tag' action writes a value"]);
    expect(problems(minimal({ onMissing: { action: 'notify', fallback: 'x' } }))).toEqual([
      'rules[0].onMissing.fallback: only applies when the creator is looked up',
    ]);
  });

  it('fails on contradictory rules', () => {
    expect(problems({ version: 1, rules: [{ key: 'A' }, { key: 'A' }] })).toEqual(["rules[1].key: 'A' already has a rule (rules[0])"]);
    expect(problems(minimal({ allowedValues: ['a'], pattern: 'a' }))).toEqual(['rules[0]: set allowedValues or pattern, not both']);
    expect(problems(minimal({ case: 'normalize', pattern: 'a' }))).toEqual(["rules[0].case: 'normalize' needs allowedValues (the spellings to normalize to)"]);
    expect(problems(minimal({ required: false, onMissing: { action: 'notify' } }))).toEqual(['rules[0].onMissing: has no effect when required is false']);
  });

  it('refuses destructive actions the deployment has no permission for', () => {
    expect(problems(minimal({ onMissing: { action: 'terminate' } }), { destructiveActions: ['stop'] })).toEqual([
      "rules[0].onMissing.action: 'terminate' is not enabled in this deployment (enabled: stop)",
    ]);
  });
});
