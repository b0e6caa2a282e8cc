/**
 * Validates the Ec2Schedule execution input before any side effect. Every problem is collected, each starting
 * with the field it is about, so whoever started the execution fixes the input in one go.
 */
import { InputInvalidError } from '../../shared/errors';
import { INSTANCE_ID } from '../../shared/instance-id';
import { ACCOUNT_ID, REGION } from '../../shared/targets';
import { KINDS, type Kind } from './types';
import type { Ec2Request, ResourceRef, Schedules, Where } from './types';

export const LIMITS = { instanceIds: 1000, requestedByChars: 200 } as const;
const FIELDS = ['action', 'schedule', 'instanceIds', 'resources', 'dryRun', 'requestedBy', 'groups'] as const;

/**
 * What each kind's id looks like: RDS identifiers are 1-63 letters, digits or hyphens starting with a letter
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.Constraints), Auto Scaling
 * group names 1-255 characters (API_CreateAutoScalingGroup.html), ECS `<cluster>/<service>` with names of 1-255
 * letters, digits, hyphens and underscores (API_CreateService.html).
 */
export const RESOURCE_ID: Record<Kind, RegExp> = {
  ec2: INSTANCE_ID,
  'rds-instance': /^[A-Za-z][A-Za-z0-9-]{0,62}$/,
  'rds-cluster': /^[A-Za-z][A-Za-z0-9-]{0,62}$/,
  asg: /^[^\s:/][^:]{0,254}$/,
  'ecs-service': /^[A-Za-z0-9_-]{1,255}\/[A-Za-z0-9_-]{1,255}$/,
};

export function validateRequest(input: unknown, schedules: Schedules, kinds: readonly Kind[] = KINDS): Ec2Request {
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
  const hasResources = raw.resources !== undefined && raw.resources !== null;
  if (Number(hasSchedule) + Number(hasIds) + Number(hasResources) !== 1) problems.push('schedule, instanceIds, resources: give exactly one of them');

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

  let resources: ResourceRef[] | null = null;
  if (hasResources) {
    if (!Array.isArray(raw.resources) || raw.resources.length === 0) {
      problems.push(`resources: must be a non-empty array of {"kind", "id"}, got ${describe(raw.resources)}`);
    } else if (raw.resources.length > LIMITS.instanceIds) {
      problems.push(`resources: at most ${LIMITS.instanceIds}, got ${raw.resources.length}`);
    } else {
      const refs: ResourceRef[] = [];
      raw.resources.forEach((r, i) => {
        const kind = (r as { kind?: unknown })?.kind;
        const id = (r as { id?: unknown })?.id;
        if (typeof kind !== 'string' || !(KINDS as readonly string[]).includes(kind)) {
          problems.push(`resources[${i}].kind: must be one of ${KINDS.join(', ')}, got ${describe(kind)}`);
        } else if (!kinds.includes(kind as Kind)) {
          problems.push(`resources[${i}].kind: ${kind} is not scheduled by this deployment (ec2Schedule.kinds: ${kinds.join(', ')})`);
        } else if (typeof id !== 'string' || !RESOURCE_ID[kind as Kind].test(id)) {
          problems.push(`resources[${i}].id: not a ${kind} id: ${describe(id)}`);
        } else if (Object.keys(r as object).some((k) => !REF_FIELDS.includes(k))) {
          problems.push(`resources[${i}]: only ${REF_FIELDS.map((f) => `"${f}"`).join(', ')} are allowed`);
        } else {
          const where = whereOf(r as Where, `resources[${i}]`, problems);
          if (where && !refs.some((x) => x.kind === kind && x.id === id && x.account === where.account && x.region === where.region))
            refs.push({ kind: kind as Kind, id, ...where });
        }
      });
      resources = refs;
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
  return { action: action as Ec2Request['action'], schedule, instanceIds, resources, dryRun: raw.dryRun === true, requestedBy, groups };
}

/** A resource's fields; `account` and `region` name a target of config `targets` (links and chat for a spoke's resource). */
const REF_FIELDS = ['kind', 'id', 'account', 'region'];

/** `{account, region}` (both, well formed), `{}` (neither: the hub's own), or undefined with the problem recorded. */
function whereOf(r: Where, at: string, problems: string[]): Where | undefined {
  if (r.account === undefined && r.region === undefined) return {};
  if (r.account === undefined || r.region === undefined) problems.push(`${at}: give both account and region, or neither (the hub's own)`);
  else if (typeof r.account !== 'string' || !ACCOUNT_ID.test(r.account)) problems.push(`${at}.account: not an account id (12 digits): ${describe(r.account)}`);
  else if (typeof r.region !== 'string' || !REGION.test(r.region)) problems.push(`${at}.region: not a region code: ${describe(r.region)}`);
  else return { account: r.account, region: r.region };
  return undefined;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}
