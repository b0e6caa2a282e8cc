/**
 * The SDK clients and the run store the TagPolicy handlers build, once per cold start (the region comes from Lambda).
 * With config `targets` (env `TARGETS`, tasks/shared/targets.ts), Evaluate and Apply reach every target account and
 * region through `Reach`: clients per target, member credentials by AssumeRole, cached per account.
 */
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { EC2Client } from '@aws-sdk/client-ec2';
import { OrganizationsClient } from '@aws-sdk/client-organizations';
import { STSClient } from '@aws-sdk/client-sts';
import { EnvError, type Env } from '../shared/env';
import { documentClient } from '../shared/handler';
import { Reach, readTargets, type TargetClientConfig, type TargetsChoice } from '../shared/targets';
import { Pacer } from './core/creator';
import type { TargetClients } from './core/scan';
import { DynamoRunStore } from './core/store';

export const cloudtrail = () => new CloudTrailClient({});
export const runStore = (table: string) => new DynamoRunStore(documentClient(), table, () => new Date());

/** EC2 and CloudTrail in one target, with that target's own CloudTrail pace (2 lookups a second per account and Region). */
const targetClients = (config: TargetClientConfig): TargetClients => ({
  ec2: new EC2Client(config),
  cloudtrail: new CloudTrailClient(config),
  pacer: new Pacer(),
});

/** The function's reach over the targets (`TARGETS`); without it, one target: this account and region. */
export const reach = (env: Env, sessionName: string) =>
  new Reach(targetClients, readTargets(env), { sts: () => new STSClient({}), organizations: () => new OrganizationsClient({}), sessionName });

/** `POLICY_TARGETS`: config `tagPolicy.targets`, the policy's accounts and/or regions over the top level's. */
export function readPolicyTargets(env: Env): TargetsChoice | undefined {
  const raw = env.POLICY_TARGETS;
  if (!raw) return undefined;
  let v: TargetsChoice;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new EnvError('POLICY_TARGETS', 'must be JSON');
  }
  const list = (a: unknown) => a === undefined || (Array.isArray(a) && a.length > 0 && a.every((x) => typeof x === 'string'));
  if (typeof v !== 'object' || v === null || !list(v.accounts) || !list(v.regions))
    throw new EnvError('POLICY_TARGETS', 'must be {"accounts"?: [...], "regions"?: [...]}, non-empty lists');
  return v;
}
