/**
 * A present tag's value must be one of `allowedValues` or match `pattern` (RE2 syntax, anchored: the whole
 * value; linear-time matching, see core/pattern.ts).
 * `case: insensitive` ignores case; `normalize` also ignores it but reports the allowed spelling so the
 * workflow can rewrite `Prod` to `prod` instead of treating it like a wrong value.
 */
import type { InstanceFacts, TagRule } from '../core/types';
import { matchesPattern } from '../core/pattern';
import { OK, type Verdict } from './verdict';

export function allowedValue(instance: InstanceFacts, rule: TagRule): Verdict {
  const value = instance.tags[rule.key];
  if (value === undefined || value.trim() === '') return OK; // presence() speaks about missing tags
  return valueVerdict(value, rule);
}

export function valueVerdict(value: string, rule: Pick<TagRule, 'key' | 'allowedValues' | 'pattern' | 'case'>): Verdict {
  const ignoreCase = rule.case !== 'sensitive';
  if (rule.allowedValues) {
    if (rule.allowedValues.includes(value)) return OK;
    const match = ignoreCase ? rule.allowedValues.find((a) => a.toLowerCase() === value.toLowerCase()) : undefined;
    if (match !== undefined && rule.case === 'insensitive') return OK;
    const expected = `one of ${rule.allowedValues.join(', ')}`;
    if (match !== undefined)
      return { ok: false, message: `tag ${rule.key} is ${JSON.stringify(value)}, expected the spelling ${JSON.stringify(match)}`, normalized: match };
    return { ok: false, message: `tag ${rule.key} is ${JSON.stringify(value)}, expected ${expected}` };
  }
  if (rule.pattern !== undefined) {
    if (matchesPattern(value, rule.pattern, ignoreCase)) return OK;
    return { ok: false, message: `tag ${rule.key} is ${JSON.stringify(value)}, which does not match /${rule.pattern}/${ignoreCase ? 'i' : ''}` };
  }
  return OK;
}
