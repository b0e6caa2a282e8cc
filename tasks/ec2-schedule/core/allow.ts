/**
 * Which resources links and chat commands may control (config `ec2Schedule.control`): a resource of any scheduled
 * kind matching any allowed tag (`Key` present, or `Key=Value`), or an EC2 instance listed by id (`allowInstanceIds`). Checked on every request, so narrowing
 * the config and redeploying takes control away from links that were already handed out.
 */
import type { Kind } from './types';

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

/** An EC2 instance (`instanceId`) or a resource of any kind (`kind`, `id`); `allowInstanceIds` names EC2 instances only. */
export type Allowable = { tags: Record<string, string> } & ({ instanceId: string } | { kind: Kind; id: string });

export function isAllowed(i: Allowable, rules: AllowRules): boolean {
  const instanceId = 'instanceId' in i ? i.instanceId : i.kind === 'ec2' ? i.id : undefined;
  if (instanceId !== undefined && rules.instanceIds.includes(instanceId)) return true;
  return rules.tags.some((rule) => {
    const { key, value } = parseAllowTag(rule);
    return value === undefined ? Object.hasOwn(i.tags, key) : i.tags[key] === value;
  });
}
