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

export function isAllowed(i: Pick<InstanceFacts, 'instanceId' | 'tags'>, rules: AllowRules): boolean {
  if (rules.instanceIds.includes(i.instanceId)) return true;
  return rules.tags.some((rule) => {
    const eq = rule.indexOf('=');
    if (eq < 0) return Object.hasOwn(i.tags, rule);
    return i.tags[rule.slice(0, eq)] === rule.slice(eq + 1);
  });
}
