/**
 * Validates a TagPolicy execution input before any side effect and turns it into the `Run` the other tasks
 * share. Every input problem is listed in one Input.Invalid; the deployed policy (embedded in the definition) is
 * checked again and fails Policy.Invalid.
 *
 * Input: {"mode": "scan"|"launch", "instanceIds"?: [...], "dryRun"?: bool, "rules"?: ["<deployed rule key>", ...],
 * "account"?, "region"?} (with config `targets`: where `instanceIds` are; a launch's come from its event).
 * The input can only narrow the deployed policy (a subset of its rules, a dry run, a scope of instances), never
 * widen it: a policy of its own could name its own approvers, a zero grace period, another exemption tag and
 * stop/terminate rules, so whoever may call states:StartExecution could approve their own termination of any
 * instance. The approvers come from the deployment (the policy file, else `approval.approvers`).
 *
 * The RunInstances rule sends {"mode": "launch", "launch": {"items", "userIdentity", "clientToken", "eventTime"}}
 * instead of instanceIds: the ids and the launcher come straight from the CloudTrail record. CloudTrail omits a
 * `responseElements` over 100 KB ("CloudTrail record contents",
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html), so a
 * large launch arrives without `items`; its instances are then found by the request's `clientToken` (the SDKs and the
 * CLI send a generated one: an idempotency token), a DescribeInstances filter that names exactly this launch, or,
 * without one, by the minute of `eventTime` (filter `launch-time`), which may also catch other launches and starts of
 * that minute: those are only evaluated, and nobody is credited as their creator.
 */
import { InputInvalidError } from '../../shared/errors';
import { INSTANCE_ID } from '../../shared/instance-id';
import { creatorFromIdentity, type UserIdentityLike } from './creator';
import { ACCOUNT_ID, REGION } from '../../shared/targets';
import { parsePolicy } from './policy';
import type { ActionName, LaunchFilter, Run } from './types';

const FIELDS = ['mode', 'instanceIds', 'dryRun', 'rules', 'launch', 'account', 'region'];
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
  // The deployed policy first: its rule keys are what `rules` may name. It passed synth, so a problem here is a
  // broken deployment, reported as such.
  const deployed = parsePolicy(ctx.deployedPolicy, { destructiveActions: ctx.destructiveActions });
  const problems: string[] = [];
  for (const key of Object.keys(input)) {
    if (key === 'policy') {
      problems.push(
        'policy: an execution cannot bring its own policy (its approvers, grace period, exemption tag and stop/terminate rules come from the deployed policy); narrow the deployed one with rules (a subset of its rule keys), dryRun or instanceIds',
      );
    } else if (!FIELDS.includes(key)) {
      problems.push(`${key}: unknown field (allowed: mode, instanceIds, dryRun, rules, account, region)`);
    }
  }

  const mode = input.mode;
  if (mode !== 'scan' && mode !== 'launch') problems.push(`mode: must be "scan" or "launch", got ${JSON.stringify(mode) ?? 'nothing'}`);
  if (input.dryRun !== undefined && typeof input.dryRun !== 'boolean') problems.push('dryRun: must be true or false');
  const rules = ruleSubset(
    input.rules,
    deployed.rules.map((r) => r.key),
    problems,
  );
  let instanceIds = ids(input.instanceIds, 'instanceIds', problems);
  let launchedBy: string | undefined;
  let launchFilter: LaunchFilter | undefined;
  if (input.launch !== undefined) {
    const launch = (input.launch ?? {}) as { items?: unknown; userIdentity?: UserIdentityLike; clientToken?: unknown; eventTime?: unknown };
    if (instanceIds) {
      problems.push('launch: give instanceIds or launch, not both');
    } else if (Array.isArray(launch.items)) {
      instanceIds = ids(
        launch.items.map((i: { instanceId?: unknown } | null) => i?.instanceId),
        'launch.items[].instanceId',
        problems,
      );
      launchedBy = creatorFromIdentity(launch.userIdentity);
    } else if (typeof launch.clientToken === 'string' && launch.clientToken !== '') {
      // This launch's instances exactly: its launcher is their creator.
      launchFilter = { name: 'client-token', values: [launch.clientToken] };
      launchedBy = creatorFromIdentity(launch.userIdentity);
    } else if (typeof launch.eventTime === 'string' && !Number.isNaN(Date.parse(launch.eventTime))) {
      launchFilter = { name: 'launch-time', values: launchMinutes(launch.eventTime) };
    } else {
      problems.push(
        'launch: the RunInstances record names no instances (no responseElements.instancesSet.items, no requestParameters.clientToken, no eventTime)',
      );
    }
  }
  if (mode === 'launch' && !instanceIds && !launchFilter && !problems.some((p) => p.startsWith('launch')))
    problems.push('instanceIds: launch mode needs the launched instance ids');
  const where = whereOf(input, problems);
  if (where && !instanceIds && !launchFilter)
    problems.push('account: account and region name where instanceIds (or a launch) are; a scan without them walks every target');
  if (problems.length > 0) throw new InputInvalidError(problems);

  const policy = rules ? { ...deployed, rules: deployed.rules.filter((r) => rules.includes(r.key)) } : deployed;
  return {
    id: ctx.executionArn.split(':').pop()!,
    mode: mode as Run['mode'],
    // Safe by default: only an explicit false (input, else policy) applies anything.
    dryRun: (input.dryRun as boolean | undefined) ?? policy.dryRun,
    ...(instanceIds && { instanceIds }),
    ...(launchFilter && { launchFilter }),
    ...(launchedBy && { launchedBy }),
    ...where,
    settleSeconds: mode === 'launch' ? ctx.settleSeconds : 0,
    policy,
    startedAt: ctx.now.toISOString(),
  };
}

/**
 * `account` and `region`, both or neither: where the instances are (the launch rule sends the event's `account` and
 * `region`, where the RunInstances call happened). Whether that is one of the policy's targets is Evaluate's to check,
 * with the targets resolved (OUs).
 */
function whereOf(input: Record<string, unknown>, problems: string[]): { account: string; region: string } | undefined {
  const { account, region } = input;
  if (account === undefined && region === undefined) return undefined;
  const before = problems.length;
  if (typeof account !== 'string' || !ACCOUNT_ID.test(account))
    problems.push(`account: must be a 12-digit account id, got ${JSON.stringify(account) ?? 'nothing'}`);
  if (typeof region !== 'string' || !REGION.test(region))
    problems.push(`region: must be a region name such as eu-west-1, got ${JSON.stringify(region) ?? 'nothing'}`);
  return problems.length === before ? { account: account as string, region: region as string } : undefined;
}

/** `rules`: distinct keys of the deployed policy's rules. */
function ruleSubset(value: unknown, known: string[], problems: string[]): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0 || !value.every((k) => typeof k === 'string')) {
    problems.push(`rules: must be a non-empty array of the deployed policy's rule keys (${known.join(', ')})`);
    return undefined;
  }
  const unknown = value.filter((k) => !known.includes(k));
  if (unknown.length > 0)
    problems.push(`rules: ${unknown.map((k) => JSON.stringify(k)).join(', ')} not in the deployed policy (its rules: ${known.join(', ')})`);
  return [...new Set(value as string[])];
}

/**
 * DescribeInstances `launch-time` values for the minute of `eventTime` and the one before: CloudTrail's eventTime is
 * when the request completed, the instances' LaunchTime when it was made. The filter takes `*` wildcards
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html).
 */
export function launchMinutes(eventTime: string): string[] {
  const minute = Math.floor(Date.parse(eventTime) / 60_000) * 60_000;
  return [minute, minute - 60_000].map((ms) => `${new Date(ms).toISOString().slice(0, 16)}*`);
}

function ids(value: unknown, field: string, problems: string[]): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`${field}: must be a non-empty array of instance ids`);
    return undefined;
  }
  if (value.length > MAX_INSTANCE_IDS) problems.push(`${field}: at most ${MAX_INSTANCE_IDS} instance ids, got ${value.length}`);
  const bad = value.filter((v) => typeof v !== 'string' || !INSTANCE_ID.test(v));
  if (bad.length > 0)
    problems.push(
      `${field}: not instance ids: ${bad
        .slice(0, 5)
        .map((b) => JSON.stringify(b))
        .join(', ')}`,
    );
  return [...new Set(value as string[])];
}
