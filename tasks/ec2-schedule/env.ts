/** Environment readers shared by the Ec2Schedule handlers; each throws naming the variable at cold start. */
import { EnvError, requireString, type Env } from '../shared/env';
import type { AllowRules } from './core/allow';
import { KINDS, type Kind } from './core/types';
import type { Schedules } from './core/types';

function json(env: Env, name: string): unknown {
  try {
    return JSON.parse(requireString(env, name));
  } catch (err) {
    if (err instanceof EnvError) throw err;
    throw new EnvError(name, 'must be JSON');
  }
}

/** `SCHEDULES`: {"<name>": {"timezone", "skipDates": [...], "groups": [...]}} */
export function requireSchedules(env: Env): Schedules {
  const value = json(env, 'SCHEDULES');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EnvError('SCHEDULES', 'must be a JSON object of schedules');
  for (const [name, s] of Object.entries(value as Record<string, any>)) {
    if (typeof s?.timezone !== 'string' || !Array.isArray(s.skipDates) || !Array.isArray(s.groups)) {
      throw new EnvError('SCHEDULES', `schedule ${name} needs timezone, skipDates and groups`);
    }
  }
  return value as Schedules;
}

/** `ALLOW`: {"tags": ["Schedule"], "instanceIds": []} */
export function requireAllow(env: Env): AllowRules {
  const value = json(env, 'ALLOW') as AllowRules;
  if (!Array.isArray(value?.tags) || !Array.isArray(value?.instanceIds)) throw new EnvError('ALLOW', 'must be {"tags": [...], "instanceIds": [...]}');
  return value;
}

/** `KINDS`: ["ec2", "rds-instance", ...], the kinds this deployment schedules (ec2Schedule.kinds). */
export function requireKinds(env: Env): Kind[] {
  const value = json(env, 'KINDS');
  if (!Array.isArray(value) || value.length === 0 || value.some((k) => !(KINDS as readonly unknown[]).includes(k)))
    throw new EnvError('KINDS', `must be a non-empty JSON array of ${KINDS.join(', ')}`);
  return value as Kind[];
}
