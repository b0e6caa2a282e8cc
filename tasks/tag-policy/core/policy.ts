/**
 * Turns a raw policy (the repository file at synth, or an execution input) into a `Policy`: first the JSON
 * Schema, then what a schema cannot say — regular expressions that do not compile, tag keys and values EC2
 * would refuse, defaults that would themselves break the rule, unknown template variables, destructive
 * actions this deployment has no permission for. Every problem is collected and named by its path, and the
 * whole list is thrown as Policy.Invalid, so one fix round is enough.
 */
import { isValidEmail, normalizeEmail } from '../../shared/email';
import { PolicyInvalidError } from '../../shared/errors';
import { patternProblem } from './pattern';
import { schemaProblems } from './schema';
import { templateVariables, TEMPLATE_VARIABLES } from './templates';
import { DESTRUCTIVE, type ActionName, type ActionSpec, type Policy, type TagRule } from './types';
import { valueVerdict } from '../rules/allowed-value';

export const POLICY_DEFAULTS = {
  dryRun: true,
  exemptionTag: 'opsflow:exempt',
  gracePeriodHours: 72,
  blastRadius: { maxInstances: 20, maxPercent: 25 },
} as const;

export interface PolicyOptions {
  /** Destructive actions this deployment may take (its IAM allows). @default ['stop', 'terminate'] */
  destructiveActions?: readonly ActionName[];
}

type Raw = Record<string, any>;

export function parsePolicy(raw: unknown, opts: PolicyOptions = {}): Policy {
  const schema = schemaProblems(raw);
  if (schema.length > 0) throw new PolicyInvalidError(schema);
  const p = raw as Raw;
  const problems: string[] = [];
  const enabled = opts.destructiveActions ?? DESTRUCTIVE;

  const exemptionTag: string = p.exemptionTag ?? POLICY_DEFAULTS.exemptionTag;
  checkKey(exemptionTag, 'exemptionTag', problems);
  const approvers: string[] = p.approvers ?? [];
  approvers.forEach((a, i) => {
    if (!isValidEmail(a)) problems.push(`approvers[${i}]: must be an email address, got ${JSON.stringify(a)}`);
  });

  const seen = new Map<string, number>();
  const rules = (p.rules as Raw[]).map((r, i) => {
    const at = `rules[${i}]`;
    const rule = normaliseRule(r);
    checkKey(rule.key, `${at}.key`, problems);
    if (seen.has(rule.key)) problems.push(`${at}.key: '${rule.key}' already has a rule (rules[${seen.get(rule.key)}])`);
    seen.set(rule.key, i);
    if (rule.key === exemptionTag) problems.push(`${at}.key: '${rule.key}' is the exemption tag and cannot also be a rule`);
    checkRule(rule, r, at, enabled, problems);
    return rule;
  });

  if (problems.length > 0) throw new PolicyInvalidError(problems);
  return {
    version: 1,
    ...(p.description !== undefined && { description: p.description }),
    dryRun: p.dryRun ?? POLICY_DEFAULTS.dryRun,
    exemptionTag,
    gracePeriodHours: p.gracePeriodHours ?? POLICY_DEFAULTS.gracePeriodHours,
    blastRadius: {
      maxInstances: p.blastRadius?.maxInstances ?? POLICY_DEFAULTS.blastRadius.maxInstances,
      maxPercent: p.blastRadius?.maxPercent ?? POLICY_DEFAULTS.blastRadius.maxPercent,
    },
    approvers: [...new Set(approvers.map(normalizeEmail))],
    rules,
  };
}

/**
 * The tag keys a deployment may write: its policy's rule keys. The construct puts them in the Apply role's
 * `aws:TagKeys` condition, so whatever the code does, the workflow cannot set any other tag (`Schedule` would
 * enrol an instance in Ec2Schedule).
 */
export function taggableKeysOf(policy: Policy): string[] {
  return [...new Set(policy.rules.map((r) => r.key))].sort();
}

/** The destructive actions a (valid) policy uses: what its deployment needs permission for. */
export function destructiveActionsOf(policy: Policy): ActionName[] {
  const used = policy.rules.flatMap((r) => [r.onMissing.action, r.onInvalid.action]);
  return DESTRUCTIVE.filter((a) => used.includes(a));
}

function normaliseRule(r: Raw): TagRule {
  return {
    key: r.key,
    ...(r.description !== undefined && { description: r.description }),
    required: r.required ?? true,
    ...(r.allowedValues !== undefined && { allowedValues: r.allowedValues }),
    ...(r.pattern !== undefined && { pattern: r.pattern }),
    case: r.case ?? 'sensitive',
    onMissing: r.onMissing ?? { action: 'notify' },
    onInvalid: r.onInvalid ?? { action: 'notify' },
  };
}

function checkRule(rule: TagRule, raw: Raw, at: string, enabled: readonly ActionName[], problems: string[]): void {
  if (rule.allowedValues && rule.pattern !== undefined) problems.push(`${at}: set allowedValues or pattern, not both`);
  if (rule.pattern !== undefined) {
    const problem = patternProblem(rule.pattern);
    if (problem) problems.push(`${at}.pattern: not a valid RE2 regular expression (no backreferences or lookaround): ${problem}`);
  }
  rule.allowedValues?.forEach((v, i) => {
    if (v.trim() === '') problems.push(`${at}.allowedValues[${i}]: must not be empty (an empty tag counts as missing)`);
  });
  if (rule.case === 'normalize' && !rule.allowedValues) problems.push(`${at}.case: 'normalize' needs allowedValues (the spellings to normalize to)`);
  if (!rule.required && raw.onMissing !== undefined) problems.push(`${at}.onMissing: has no effect when required is false`);
  checkAction(rule, rule.onMissing, `${at}.onMissing`, enabled, problems);
  checkAction(rule, rule.onInvalid, `${at}.onInvalid`, enabled, problems);
}

function checkAction(rule: TagRule, spec: ActionSpec, at: string, enabled: readonly ActionName[], problems: string[]): void {
  if (DESTRUCTIVE.includes(spec.action) && !enabled.includes(spec.action)) {
    problems.push(`${at}.action: '${spec.action}' is not enabled in this deployment (enabled: ${enabled.join(', ') || 'none'})`);
  }
  if (spec.action !== 'tag' && spec.value !== undefined) problems.push(`${at}.value: only the 'tag' action writes a value`);
  if (spec.action === 'tag' && spec.value === undefined) problems.push(`${at}.value: the 'tag' action needs a value`);
  const usesCreator = spec.action === 'lookup-creator' || (spec.value !== undefined && templateVariables(spec.value).includes('creator'));
  if (spec.fallback !== undefined && !usesCreator) problems.push(`${at}.fallback: only applies when the creator is looked up`);
  for (const [field, text] of [
    ['value', spec.value],
    ['fallback', spec.fallback],
  ] as const) {
    if (text === undefined) continue;
    const unknown = templateVariables(text).filter((v) => !(TEMPLATE_VARIABLES as readonly string[]).includes(v));
    for (const v of unknown) problems.push(`${at}.${field}: unknown variable \${${v}} (known: ${TEMPLATE_VARIABLES.map((k) => `\${${k}}`).join(', ')})`);
    // A literal is known now: one that breaks its own rule would be rewritten on every run.
    const literal = templateVariables(text).length === 0;
    if (literal && (rule.allowedValues || (rule.pattern !== undefined && compiles(rule.pattern)))) {
      const verdict = valueVerdict(text, rule);
      if (!verdict.ok) problems.push(`${at}.${field}: ${JSON.stringify(text)} would itself break the rule (${verdict.message})`);
    }
    if (text.trim() === '') problems.push(`${at}.${field}: must not be empty (an empty tag counts as missing)`);
  }
}

/** EC2 instance tag keys: 1-128 characters, and `aws:` is reserved for AWS. */
function checkKey(key: string, at: string, problems: string[]): void {
  if (key.toLowerCase().startsWith('aws:')) problems.push(`${at}: '${key}' starts with 'aws:', which EC2 reserves for AWS`);
  if (key.trim() !== key) problems.push(`${at}: '${key}' has leading or trailing spaces`);
}

function compiles(pattern: string): boolean {
  return patternProblem(pattern) === undefined;
}
