/**
 * Targets: the accounts and regions of an AWS Organization a hub acts in (config `targets`, README "Accounts and
 * regions"), and what both sides of the hub-and-spoke model need from it: the hub's acting roles, named in advance so
 * that a member account's role can trust them, may assume the member role; the member role gets the same statements
 * as those hub roles, built by the same functions for the member's account and the target regions.
 *
 * Config: `targets` at the top level sets the organisation, the member role and the default accounts and regions;
 * `ec2Schedule.schedules.<name>.targets` and `tagPolicy.targets` override the accounts and regions only (the member
 * role is one per account, so its name, external id and organisation are the top level's). No `targets`: the hub
 * acts in its own account and region, as it always has.
 */
import type { Stack } from 'aws-cdk-lib';
import type { EventPattern } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import type { NagPackSuppression } from 'cdk-nag';
import { asObject, type Raw, unknownKeys } from './config';

export interface TargetsConfig {
  /** The organisation the hub and every member account belong to (`aws:PrincipalOrgID`, `aws:ResourceOrgID`). */
  readonly organizationId: string;
  /** The member role's name in every target account. @default 'opsflow-member' */
  readonly roleName: string;
  /** The external id the hub sends with AssumeRole and the member role's trust policy requires (`sts:ExternalId`). */
  readonly externalId: string;
  /** Account ids and OU ids (resolved through AWS Organizations at run time). */
  readonly accounts: string[];
  /** Regions, each a region name such as `eu-west-1`. */
  readonly regions: string[];
  /**
   * How the member stack reaches the accounts: `stackset`, a service-managed StackSet in the hub stack deploying to the
   * OUs and accounts of every target with auto-deployment; or `stacks`, the member stack deployed by hand into each
   * account and region (README "Deploy: member accounts"). @default 'stacks'
   */
  readonly deploy: 'stackset' | 'stacks';
  /**
   * Whom the hub's StackSet acts as: `SELF` in the organisation's management account, `DELEGATED_ADMIN` in a member
   * account registered as a delegated administrator for StackSets
   * (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html, CallAs). @default 'SELF'
   */
  readonly stackSetCallAs: 'SELF' | 'DELEGATED_ADMIN';
}

/** A per-schedule or per-policy choice of accounts and regions (`ec2Schedule.schedules.<name>.targets`, `tagPolicy.targets`). */
export interface TargetsOverride {
  /** @default the top level's `targets.accounts` */
  readonly accounts?: string[];
  /** @default the top level's `targets.regions` */
  readonly regions?: string[];
}

const DEFAULT_MEMBER_ROLE_NAME = 'opsflow-member';

/** Account ids: 12 digits (https://docs.aws.amazon.com/organizations/latest/APIReference/API_Account.html, Id: `^\d{12}$`). */
const ACCOUNT_ID = /^\d{12}$/;
/** OU ids (https://docs.aws.amazon.com/organizations/latest/APIReference/API_OrganizationalUnit.html, Id: `^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`). */
const OU_ID = /^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$/;
/** Organisation ids (https://docs.aws.amazon.com/organizations/latest/APIReference/API_Organization.html, Id: `^o-[a-z0-9]{10,32}$`). */
const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
/** ExternalId: "Minimum length of 2. Maximum length of 1224. Pattern: [\w+=,.@:\/-]*" (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). */
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
/** RoleName: "Minimum length of 1. Maximum length of 64. Pattern: [\w+=,.@-]+" (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html). */
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
/** Region names AWS has, as aws-cdk-lib's region table (aws-cdk-lib/region-info) lists them. */
const REGIONS: ReadonlySet<string> = new Set(RegionInfo.regions.map((r) => r.name));

export const isOuId = (s: string) => OU_ID.test(s);

/** Parses the top-level `targets` (absent: `undefined`, today's single account and region). */
export function parseTargets(raw: unknown, problems: string[]): TargetsConfig | undefined {
  if (raw === undefined) return undefined;
  const t = asObject(raw, 'targets', problems);
  unknownKeys(t, ['organizationId', 'roleName', 'externalId', 'accounts', 'regions', 'deploy', 'stackSetCallAs'], 'targets', problems);
  const organizationId = typeof t.organizationId === 'string' ? t.organizationId : '';
  if (!ORGANIZATION_ID.test(organizationId))
    problems.push(
      `targets.organizationId: must be an organization id o-… (o- and 10 to 32 lower-case letters or digits), got ${JSON.stringify(t.organizationId)}`,
    );
  const roleName = t.roleName === undefined ? DEFAULT_MEMBER_ROLE_NAME : typeof t.roleName === 'string' ? t.roleName : '';
  if (!ROLE_NAME.test(roleName))
    problems.push(`targets.roleName: must be an IAM role name, 1 to 64 letters, digits or + = , . @ _ -, got ${JSON.stringify(t.roleName)}`);
  const externalId = typeof t.externalId === 'string' ? t.externalId : '';
  if (!EXTERNAL_ID.test(externalId))
    problems.push(`targets.externalId: must be 2 to 1224 letters, digits or + = , . @ : / _ - (AssumeRole's ExternalId), got ${describe(t.externalId)}`);
  const deploy = t.deploy === undefined ? 'stacks' : t.deploy;
  if (deploy !== 'stacks' && deploy !== 'stackset') problems.push(`targets.deploy: must be "stackset" or "stacks", got ${JSON.stringify(t.deploy)}`);
  const callAs = t.stackSetCallAs ?? 'SELF';
  if (callAs !== 'SELF' && callAs !== 'DELEGATED_ADMIN')
    problems.push(`targets.stackSetCallAs: must be "SELF" or "DELEGATED_ADMIN", got ${JSON.stringify(t.stackSetCallAs)}`);
  const accounts = parseAccounts(t.accounts, 'targets.accounts', problems) ?? [];
  const regions = parseRegions(t.regions, 'targets.regions', problems) ?? [];
  return {
    organizationId,
    roleName,
    externalId,
    accounts,
    regions,
    deploy: deploy === 'stackset' ? 'stackset' : 'stacks',
    stackSetCallAs: callAs === 'DELEGATED_ADMIN' ? 'DELEGATED_ADMIN' : 'SELF',
  };
}

/** Parses a per-schedule or per-policy `targets` (`field` is its path): accounts and/or regions. */
export function parseTargetsOverride(raw: unknown, field: string, problems: string[]): TargetsOverride {
  const t: Raw = asObject(raw, field, problems);
  const topOnly = ['organizationId', 'roleName', 'externalId', 'deploy'];
  for (const k of topOnly.filter((k) => k in t))
    problems.push(`${field}.${k}: set only in the top-level targets (one member role per account); here only accounts and regions`);
  unknownKeys(Object.fromEntries(Object.entries(t).filter(([k]) => !topOnly.includes(k))), ['accounts', 'regions'], field, problems);
  if (t.accounts === undefined && t.regions === undefined) problems.push(`${field}: name accounts, regions or both`);
  const accounts = t.accounts === undefined ? undefined : parseAccounts(t.accounts, `${field}.accounts`, problems);
  const regions = t.regions === undefined ? undefined : parseRegions(t.regions, `${field}.regions`, problems);
  return { ...(accounts && { accounts }), ...(regions && { regions }) };
}

/** Every region any target names, the top level's first: where the member stack must be deployed. */
export function allRegions(targets: TargetsConfig, overrides: readonly TargetsOverride[]): string[] {
  return [...new Set([...targets.regions, ...overrides.flatMap((o) => o.regions ?? [])])];
}

/** Every account and OU any target names, the top level's first. */
export function allAccounts(targets: TargetsConfig, overrides: readonly TargetsOverride[]): string[] {
  return [...new Set([...targets.accounts, ...overrides.flatMap((o) => o.accounts ?? [])])];
}

function parseAccounts(v: unknown, field: string, problems: string[]): string[] | undefined {
  if (!Array.isArray(v) || v.length === 0) {
    problems.push(`${field}: must be a non-empty list of 12-digit account ids or OU ids ou-…`);
    return undefined;
  }
  v.forEach((a, i) => {
    if (typeof a !== 'string' || !(ACCOUNT_ID.test(a) || OU_ID.test(a)))
      problems.push(`${field}[${i}]: must be a 12-digit account id or an OU id ou-…, got ${JSON.stringify(a)}`);
    else if (v.indexOf(a) !== i) problems.push(`${field}[${i}]: '${a}' is listed twice`);
  });
  return v.filter((a): a is string => typeof a === 'string');
}

function parseRegions(v: unknown, field: string, problems: string[]): string[] | undefined {
  if (!Array.isArray(v) || v.length === 0) {
    problems.push(`${field}: must be a non-empty list of AWS region names such as eu-west-1`);
    return undefined;
  }
  v.forEach((r, i) => {
    if (typeof r !== 'string' || !REGIONS.has(r)) problems.push(`${field}[${i}]: must be an AWS region name such as eu-west-1, got ${JSON.stringify(r)}`);
    else if (v.indexOf(r) !== i) problems.push(`${field}[${i}]: '${r}' is listed twice`);
  });
  return v.filter((r): r is string => typeof r === 'string');
}

/** An external id is a shared secret of sorts: say how it is wrong without echoing it. */
function describe(v: unknown): string {
  return typeof v === 'string' ? `${v.length} characters` : JSON.stringify(v);
}

// ---- IAM shared by the hub and the member stack ------------------------------------------------------------

/** Who receives statements: a hub task function or the member role; both keep cdk-nag's suppressions on the role. */
export interface Grantee {
  addToRolePolicy(statement: PolicyStatement): void;
  suppress(suppressions: NagPackSuppression[]): void;
}

/**
 * Where statements apply: the hub's own account and region (`hubScope`), or the member account in every target region
 * (`memberScope`). The policy builders of the workflows take one, so the member role gets the hub's statements, the
 * same actions and conditions, on the same kinds of resource, in the regions it serves.
 */
export interface ArnScope {
  /** `arn:<partition>:<service>:<region>:<account>:<resource>`, one per region of the scope. */
  arns(service: string, resource: string): string[];
}

/**
 * The hub's own account: in its own region and, with `targets`, in every target region too, since the hub account may
 * be a target itself (listed, or in a listed OU) and its functions reach it there with their own credentials.
 */
export function hubScope(scope: Stack, targetRegions: readonly string[] = []): ArnScope {
  const regions = [scope.region, ...targetRegions.filter((r) => r !== scope.region)];
  return { arns: (service, resource) => regions.map((region) => `arn:${scope.partition}:${service}:${region}:${scope.account}:${resource}`) };
}

export function memberScope(scope: Stack, regions: readonly string[]): ArnScope {
  return { arns: (service, resource) => regions.map((region) => `arn:${scope.partition}:${service}:${region}:${scope.account}:${resource}`) };
}

/**
 * The name of a hub role that acts in member accounts: fixed, so that a member role's trust policy can name it
 * (`<stackName>-<Workflow><Task>`, e.g. `Opsflow-Ec2ScheduleAdvance`). IAM role names are unique per account, so one
 * hub per stack name and account.
 */
export function hubRoleName(stackName: string, workflow: string, task: string): string {
  return `${stackName}-${workflow}${task}`;
}

/**
 * Lets a hub role assume the member role in any account of the organisation, and no other role: `aws:ResourceOrgID`
 * is "the identifier of the organization in AWS Organizations to which the resource being requested belongs"
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceorgid).
 * The member accounts are not known at deploy time (OUs are resolved at run time), hence `iam::*`.
 */
export function grantAssumeMember(fn: Grantee, targets: TargetsConfig, partition: string): void {
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ['sts:AssumeRole'],
      resources: [`arn:${partition}:iam::*:role/${targets.roleName}`],
      conditions: { StringEquals: { 'aws:ResourceOrgID': targets.organizationId } },
    }),
  );
  fn.suppress([
    {
      id: 'AwsSolutions-IAM5',
      reason: `AssumeRole of the member role (${targets.roleName}) in any account of organisation ${targets.organizationId} (aws:ResourceOrgID): OUs are resolved to accounts at run time.`,
      appliesTo: [`Resource::arn:<AWS::Partition>:iam::*:role/${targets.roleName}`],
    },
  ]);
}

/**
 * Lets a hub role resolve OUs to accounts: the two calls tasks/shared/targets.ts `resolveAccounts` makes,
 * ListAccountsForParent and ListOrganizationalUnitsForParent (each its own IAM action), on the organisation's OUs and
 * root (resource types `organizationalunit`, `root`:
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html). Organizations answers
 * these only in the management account or a delegated administrator
 * (https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListOrganizationalUnitsForParent.html: "This operation
 * can be called only from the organization's management account or by a member account that is a delegated administrator").
 */
export function grantResolveOus(fn: Grantee, targets: TargetsConfig, partition: string): void {
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ['organizations:ListAccountsForParent', 'organizations:ListOrganizationalUnitsForParent'],
      resources: [
        `arn:${partition}:organizations::*:ou/${targets.organizationId}/ou-*`,
        `arn:${partition}:organizations::*:root/${targets.organizationId}/r-*`,
      ],
    }),
  );
  fn.suppress([
    {
      id: 'AwsSolutions-IAM5',
      reason: `Lists the accounts and OUs under the OUs and root of organisation ${targets.organizationId}, whose management account and OU ids are resolved at run time.`,
      appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:organizations::\\*:(ou|root)\\/o-[a-z0-9]+\\/(ou|r)-\\*$/g' }],
    },
  ]);
}

/** The hub side of a workflow that acts in member accounts (`BuiltWorkflow.member`). */
export interface MemberAccess {
  /** The names of the hub roles the member role trusts (`hubRoleName`). */
  readonly hubRoleNames: readonly string[];
  /** Adds to the member role what those hub roles may do in the hub's own account, in `scope`'s regions. */
  readonly grant: (role: Grantee, scope: ArnScope) => void;
  /** Events each member region forwards to the hub's default event bus (rules on it act on them). @default none */
  readonly forward?: ReadonlyArray<{ readonly id: string; readonly description: string; readonly eventPattern: EventPattern }>;
}
