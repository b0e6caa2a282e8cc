/**
 * Validates a TagPolicy execution input before any side effect and turns it into the `Run` the other tasks
 * share. Input problems are all listed in one Input.Invalid; a policy given in the input is checked like the
 * file (Policy.Invalid, paths prefixed `policy.`).
 *
 * Input: {"mode": "scan"|"launch", "instanceIds"?: [...], "dryRun"?: bool, "policy"?: {...}}. The RunInstances
 * rule sends {"mode": "launch", "launch": {"items": [{"instanceId"}...], "userIdentity": {...}}} instead of
 * instanceIds: the ids and the launcher come straight from the CloudTrail event.
 */
import { InputInvalidError, PolicyInvalidError } from '../../shared/errors';
import { creatorFromIdentity, type UserIdentityLike } from './creator';
import { parsePolicy, taggableKeysOf } from './policy';
import type { ActionName, Run } from './types';

const FIELDS = ['mode', 'instanceIds', 'dryRun', 'policy', 'launch'];
const INSTANCE_ID = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;
export const MAX_INSTANCE_IDS = 1000;

export interface InputContext {
  /** The policy deployed with the workflow (already validated at synth; checked again here). */
  deployedPolicy: unknown;
  destructiveActions: readonly ActionName[];
  settleSeconds: number;
  /** `$$.Execution.Id`. */
  executionArn: string;
  now: Date;
}

export function validateInput(raw: unknown, ctx: InputContext): Run {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputInvalidError(['input: must be a JSON object']);
  const input = raw as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(input)) if (!FIELDS.includes(key)) problems.push(`${key}: unknown field (allowed: mode, instanceIds, dryRun, policy)`);

  const mode = input.mode;
  if (mode !== 'scan' && mode !== 'launch') problems.push(`mode: must be "scan" or "launch", got ${JSON.stringify(mode) ?? 'nothing'}`);
  if (input.dryRun !== undefined && typeof input.dryRun !== 'boolean') problems.push('dryRun: must be true or false');
  if (input.policy !== undefined && (typeof input.policy !== 'object' || input.policy === null || Array.isArray(input.policy))) {
    problems.push('policy: must be a policy object (see tag-policy.schema.json)');
  }
  let instanceIds = ids(input.instanceIds, 'instanceIds', problems);
  let launchedBy: string | undefined;
  if (input.launch !== undefined) {
    const launch = input.launch as { items?: { instanceId?: unknown }[]; userIdentity?: UserIdentityLike };
    if (instanceIds) problems.push('launch: give instanceIds or launch, not both');
    else if (!Array.isArray(launch?.items)) problems.push('launch.items: must be the RunInstances responseElements.instancesSet.items');
    else instanceIds = ids(launch.items.map((i) => i?.instanceId), 'launch.items[].instanceId', problems);
    launchedBy = creatorFromIdentity(launch?.userIdentity);
  }
  if (mode === 'launch' && !instanceIds && !problems.some((p) => p.startsWith('launch'))) problems.push('instanceIds: launch mode needs the launched instance ids');
  if (problems.length > 0) throw new InputInvalidError(problems);

  const deployed = parsePolicy(ctx.deployedPolicy, { destructiveActions: ctx.destructiveActions });
  let policy = deployed;
  if (input.policy !== undefined) {
    try {
      // A dry run writes nothing, so only a policy that will be applied is held to the keys IAM lets it write.
      const applies = input.dryRun === false || (input.dryRun === undefined && (input.policy as { dryRun?: unknown }).dryRun === false);
      policy = parsePolicy(input.policy, { destructiveActions: ctx.destructiveActions, ...(applies && { taggableKeys: taggableKeysOf(deployed) }) });
    } catch (err) {
      if (err instanceof PolicyInvalidError) throw new PolicyInvalidError(err.problems.map((p) => `policy.${p}`));
      throw err;
    }
  }
  return {
    id: ctx.executionArn.split(':').pop()!,
    mode: mode as Run['mode'],
    // Safe by default: only an explicit false (input, else policy) applies anything.
    dryRun: (input.dryRun as boolean | undefined) ?? policy.dryRun,
    ...(instanceIds && { instanceIds }),
    ...(launchedBy && { launchedBy }),
    settleSeconds: mode === 'launch' ? ctx.settleSeconds : 0,
    policy,
    startedAt: ctx.now.toISOString(),
  };
}

function ids(value: unknown, field: string, problems: string[]): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`${field}: must be a non-empty array of instance ids`);
    return undefined;
  }
  if (value.length > MAX_INSTANCE_IDS) problems.push(`${field}: at most ${MAX_INSTANCE_IDS} instance ids, got ${value.length}`);
  const bad = value.filter((v) => typeof v !== 'string' || !INSTANCE_ID.test(v));
  if (bad.length > 0) problems.push(`${field}: not instance ids: ${bad.slice(0, 5).map((b) => JSON.stringify(b)).join(', ')}`);
  return [...new Set(value as string[])];
}
