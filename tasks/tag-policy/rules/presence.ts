/** Required tags must be present with a non-blank value (an empty value helps nobody find the owner). */
import type { InstanceFacts, TagRule } from '../core/types';
import { OK, type Verdict } from './verdict';

export function presence(instance: InstanceFacts, rule: TagRule): Verdict {
  if (!rule.required) return OK;
  const value = instance.tags[rule.key];
  if (value === undefined) return { ok: false, message: `tag ${rule.key} is missing` };
  if (value.trim() === '') return { ok: false, message: `tag ${rule.key} is empty` };
  return OK;
}
