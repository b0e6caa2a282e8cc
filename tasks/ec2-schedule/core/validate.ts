/**
 * Validates the Ec2Schedule execution input before any side effect. Every problem is collected, each starting
 * with the field it is about, so whoever started the execution fixes the input in one go.
 */
import { InputInvalidError } from '../../shared/errors';
import { INSTANCE_ID } from '../../shared/instance-id';
import type { Ec2Request, Schedules } from './types';

export const LIMITS = { instanceIds: 1000, requestedByChars: 200 } as const;
const FIELDS = ['action', 'schedule', 'instanceIds', 'dryRun', 'requestedBy', 'groups'] as const;

export function validateRequest(input: unknown, schedules: Schedules): Ec2Request {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InputInvalidError([`input: must be a JSON object, got ${describe(input)}`]);
  }
  const raw = input as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!(FIELDS as readonly string[]).includes(key)) problems.push(`${key}: unknown field (allowed: ${FIELDS.join(', ')})`);
  }

  const action = raw.action;
  if (action !== 'start' && action !== 'stop') problems.push(`action: must be "start" or "stop", got ${describe(action)}`);

  const hasSchedule = raw.schedule !== undefined && raw.schedule !== null;
  const hasIds = raw.instanceIds !== undefined && raw.instanceIds !== null;
  if (hasSchedule === hasIds) problems.push('schedule, instanceIds: give exactly one of them');

  let schedule: string | null = null;
  if (hasSchedule) {
    if (typeof raw.schedule !== 'string' || !Object.hasOwn(schedules, raw.schedule)) {
      const known = Object.keys(schedules).join(', ') || 'none configured';
      problems.push(`schedule: unknown schedule ${describe(raw.schedule)} (known: ${known})`);
    } else {
      schedule = raw.schedule;
    }
  }

  let instanceIds: string[] | null = null;
  if (hasIds) {
    if (!Array.isArray(raw.instanceIds) || raw.instanceIds.length === 0) {
      problems.push(`instanceIds: must be a non-empty array of instance ids, got ${describe(raw.instanceIds)}`);
    } else if (raw.instanceIds.length > LIMITS.instanceIds) {
      problems.push(`instanceIds: at most ${LIMITS.instanceIds} ids, got ${raw.instanceIds.length}`);
    } else {
      raw.instanceIds.forEach((id, i) => {
        if (typeof id !== 'string' || !INSTANCE_ID.test(id)) problems.push(`instanceIds[${i}]: not an instance id: ${describe(id)}`);
      });
      instanceIds = [...new Set(raw.instanceIds as string[])];
    }
  }

  if (raw.dryRun !== undefined && typeof raw.dryRun !== 'boolean') problems.push(`dryRun: must be true or false, got ${describe(raw.dryRun)}`);

  let requestedBy: string | null = null;
  if (raw.requestedBy !== undefined && raw.requestedBy !== null) {
    if (typeof raw.requestedBy !== 'string') problems.push(`requestedBy: must be a string, got ${describe(raw.requestedBy)}`);
    else if (raw.requestedBy.trim().length > LIMITS.requestedByChars) problems.push(`requestedBy: must be at most ${LIMITS.requestedByChars} characters`);
    else requestedBy = raw.requestedBy.trim() || null;
  }

  let groups: string[] | null = null;
  if (raw.groups !== undefined && raw.groups !== null) {
    if (!hasSchedule) problems.push('groups: only allowed together with schedule');
    else if (!Array.isArray(raw.groups) || raw.groups.length === 0 || raw.groups.some((g) => typeof g !== 'string')) {
      problems.push(`groups: must be a non-empty array of group names, got ${describe(raw.groups)}`);
    } else if (schedule) {
      const defined = schedules[schedule].groups;
      (raw.groups as string[]).forEach((g, i) => {
        if (!defined.includes(g)) problems.push(`groups[${i}]: '${g}' is not a group of schedule ${schedule} (${defined.join(', ') || 'none'})`);
      });
      groups = raw.groups as string[];
    }
  }

  if (problems.length > 0) throw new InputInvalidError(problems);
  return { action: action as Ec2Request['action'], schedule, instanceIds, dryRun: raw.dryRun === true, requestedBy, groups };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}
