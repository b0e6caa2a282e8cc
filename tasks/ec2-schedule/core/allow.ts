/**
 * Which instances links and chat commands may control (config `ec2Schedule.control`): an instance matching
 * any allowed tag (`Key` present, or `Key=Value`) or listed by id. Checked on every request, so narrowing
 * the config and redeploying takes control away from links that were already handed out.
 */
import type { InstanceFacts } from './types';

export interface AllowRules {
  tags: string[];
  instanceIds: string[];
}

/** One `allowTags` entry: `Key` (the tag is present, any value) or `Key=Value`. */
export interface AllowTag {
  key: string;
  value?: string;
}

/** The one reading of `allowTags` entries, shared by the handlers' check and the Act role's IAM conditions. */
export function parseAllowTag(rule: string): AllowTag {
  const eq = rule.indexOf('=');
  return eq < 0 ? { key: rule } : { key: rule.slice(0, eq), value: rule.slice(eq + 1) };
}

export function isAllowed(i: Pick<InstanceFacts, 'instanceId' | 'tags'>, rules: AllowRules): boolean {
  if (rules.instanceIds.includes(i.instanceId)) return true;
  return rules.tags.some((rule) => {
    const { key, value } = parseAllowTag(rule);
    return value === undefined ? Object.hasOwn(i.tags, key) : i.tags[key] === value;
  });
}
