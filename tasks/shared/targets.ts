/**
 * Acting across an organisation's accounts and regions (issue 23): a hub function reaches a member account through
 * the member role deployed there (config `targets.roleName`), by `sts:AssumeRole` with the deployment's external id;
 * the hub's own account is reached with the function's own credentials. Every target (account × region) is tried on
 * its own: one whose role cannot be assumed, or one that throttles, is reported with its reason and the others go on.
 *
 * Rates: an account's API limits apply to calls signed with its credentials, so a member account's EC2 buckets are its
 * own, not the hub's (https://repost.aws/knowledge-center/iam-sts-throttling-error: "the temporary credentials that
 * you received can be stored and reused for multiple cross-account calls"). AssumeRole is called once per account
 * while the credentials last, whatever the regions and services the function calls there.
 */
import { type Account, type OrganizationsClient, paginateListAccountsForParent, paginateListOrganizationalUnitsForParent } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import { isThrottling } from './aws-errors';
import { EnvError, type Env } from './env';
import { mapLimit } from './limit';

export interface Target {
  account: string;
  region: string;
}

export interface TargetSettings {
  /** The hub's own account: its resources are reached with the function's own credentials. */
  hubAccount: string;
  /** `aws`, `aws-cn`, `aws-us-gov`: the member role's ARN is in the hub's partition. */
  partition: string;
  roleName: string;
  externalId: string;
  /** The session's name in the member account's CloudTrail (who acted): `opsflow-<function>`. */
  sessionName: string;
}

/** What an SDK client's `credentials` takes (the SDK's `AwsCredentialIdentity`). */
export interface TargetCredentialsValue {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** Account ids: 12 digits (https://docs.aws.amazon.com/organizations/latest/APIReference/API_Account.html, Id: `^\d{12}$`). */
export const ACCOUNT_ID = /^\d{12}$/;
/** A region code as the partitions spell them: `us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `cn-north-1`. */
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/**
 * The accounts of `entries` (account ids, and OU ids whose accounts are taken recursively through their child OUs),
 * in order, each once, active ones only: an OU may hold suspended or closing accounts, which no role can be assumed
 * in. `State` replaced `Status`, retired on 9 September 2026 (Account, API reference of AWS Organizations:
 * https://docs.aws.amazon.com/organizations/latest/APIReference/API_Account.html).
 */
export async function resolveAccounts(org: OrganizationsClient, entries: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  const walk = async (parentId: string): Promise<void> => {
    for await (const page of paginateListAccountsForParent({ client: org }, { ParentId: parentId })) {
      for (const a of page.Accounts ?? []) if (isActive(a) && a.Id) out.add(a.Id);
    }
    for await (const page of paginateListOrganizationalUnitsForParent({ client: org }, { ParentId: parentId })) {
      for (const ou of page.OrganizationalUnits ?? []) if (ou.Id) await walk(ou.Id);
    }
  };
  for (const entry of entries) {
    if (ACCOUNT_ID.test(entry)) out.add(entry);
    else await walk(entry);
  }
  return [...out];
}

const isActive = (a: Account) => a.State === 'ACTIVE';

/** Every account in every region: the targets of one run. */
export function targetsOf(accounts: readonly string[], regions: readonly string[]): Target[] {
  return accounts.flatMap((account) => regions.map((region) => ({ account, region })));
}

/** Fresh credentials are taken this long before the cached ones expire, so no call signs with lapsing ones. */
const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * Credentials per member account, cached for their lifetime and shared by every client of the function (all regions,
 * all services), so AssumeRole runs once per account, not once per client as a provider given to each SDK client
 * (`fromTemporaryCredentials`, memoized per client) would.
 */
export class TargetCredentials {
  private readonly cache = new Map<string, Promise<TargetCredentialsValue>>();

  constructor(
    private readonly sts: STSClient,
    private readonly settings: TargetSettings,
    private readonly nowMs: () => number,
  ) {}

  roleArn(account: string): string {
    return `arn:${this.settings.partition}:iam::${account}:role/${this.settings.roleName}`;
  }

  /** `undefined` for the hub's own account: the client keeps the function's own credentials. */
  provider(account: string): (() => Promise<TargetCredentialsValue>) | undefined {
    return account === this.settings.hubAccount ? undefined : () => this.get(account);
  }

  private async get(account: string): Promise<TargetCredentialsValue> {
    const cached = this.cache.get(account);
    if (cached) {
      const c = await cached;
      if (c.expiration === undefined || c.expiration.getTime() - REFRESH_MARGIN_MS > this.nowMs()) return c;
    }
    const fresh = this.assume(account);
    this.cache.set(account, fresh);
    // A refusal is not kept: the next call asks again (the member stack may have been deployed since).
    fresh.catch(() => this.cache.get(account) === fresh && this.cache.delete(account));
    return fresh;
  }

  private async assume(account: string): Promise<TargetCredentialsValue> {
    try {
      const out = await this.sts.send(
        new AssumeRoleCommand({ RoleArn: this.roleArn(account), RoleSessionName: this.settings.sessionName, ExternalId: this.settings.externalId }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error(`AssumeRole of ${this.roleArn(account)} returned no credentials`);
      return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
    } catch (e) {
      throw new TargetUnreachable(account, this.roleArn(account), e);
    }
  }
}

/** The member role could not be assumed: the whole account is out of reach, in every region. */
export class TargetUnreachable extends Error {
  constructor(
    readonly account: string,
    readonly roleArn: string,
    readonly cause: unknown,
  ) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`the hub cannot assume ${roleArn} (${why}); deploy the member stack in ${account} with this hub's external id`);
    this.name = 'TargetUnreachable';
  }
}

export type TargetResult<T> = { target: Target; ok: true; value: T } | { target: Target; ok: false; reason: string };

/** Why a target failed, naming it: the report's reason for every resource it could not reach. */
export function targetReason(target: Target, e: unknown): string {
  const where = targetName(target);
  if (e instanceof TargetUnreachable) return `${where}: ${e.message}`;
  if (!(e instanceof Error)) return `${where}: ${String(e)}`;
  if (isThrottling(e)) return `${where}: throttled (${e.name}: ${e.message}); the other targets went on`;
  return `${where}: ${e.name}: ${e.message}`;
}

/** `fn` for each target, at most `concurrency` at once; a target's failure is its result, never the run's. */
export async function forEachTarget<T>(targets: readonly Target[], concurrency: number, fn: (t: Target) => Promise<T>): Promise<TargetResult<T>[]> {
  return mapLimit(targets, concurrency, async (target): Promise<TargetResult<T>> => {
    try {
      return { target, ok: true, value: await fn(target) };
    } catch (e) {
      return { target, ok: false, reason: targetReason(target, e) };
    }
  });
}

/** `TARGETS` (set by the hub's constructs when config `targets` is present): the member role and default targets. */
export interface TargetsEnv {
  hubAccount: string;
  partition: string;
  roleName: string;
  externalId: string;
  /** Account ids and OU ids, resolved at run time (`resolveAccounts`). */
  accounts: string[];
  regions: string[];
}

/** A per-schedule or per-policy choice over the defaults (config `...targets`, carried in the workflow's own env). */
export interface TargetsChoice {
  accounts?: string[];
  regions?: string[];
}

/** `TARGETS`, or `undefined` when the deployment acts in its own account and region only (no config `targets`). */
export function readTargets(env: Env): TargetsEnv | undefined {
  const raw = env.TARGETS;
  if (raw === undefined || raw.trim() === '') return undefined;
  let v: Partial<TargetsEnv>;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new EnvError('TARGETS', 'must be JSON');
  }
  const strings = (a: unknown) => Array.isArray(a) && a.length > 0 && a.every((x) => typeof x === 'string');
  for (const k of ['hubAccount', 'partition', 'roleName', 'externalId'] as const)
    if (typeof v?.[k] !== 'string' || v[k] === '') throw new EnvError('TARGETS', `needs ${k}`);
  if (!strings(v.accounts) || !strings(v.regions)) throw new EnvError('TARGETS', 'needs accounts and regions, non-empty lists');
  return v as TargetsEnv;
}

/** What an SDK client's constructor takes here: the region, and the member account's credentials (none: the function's own). */
export interface TargetClientConfig {
  region?: string;
  credentials?: () => Promise<TargetCredentialsValue>;
  maxAttempts?: number;
}

/**
 * The hub's reach: the targets of a run, and SDK clients for each, built once per account and region and sharing one
 * credential cache (`TargetCredentials`). Without `TARGETS` there is one target, the function's own account and
 * region, and `targets()` answers `[undefined]`, so a deployment without config `targets` acts as it always has.
 */
export class Reach<C> {
  private readonly clients = new Map<string, C>();
  private readonly credentials?: TargetCredentials;

  constructor(
    private readonly make: (config: TargetClientConfig) => C,
    readonly settings: TargetsEnv | undefined,
    private readonly aws: { sts: () => STSClient; organizations: () => OrganizationsClient; sessionName: string; nowMs?: () => number },
    private readonly maxAttempts?: number,
  ) {
    if (settings) this.credentials = new TargetCredentials(aws.sts(), { ...settings, sessionName: aws.sessionName }, aws.nowMs ?? Date.now);
  }

  /** Clients for `target`; `undefined` (no targets configured): the function's own account and region. */
  for(target: Target | undefined): C {
    const key = target ? `${target.account}/${target.region}` : '';
    let c = this.clients.get(key);
    if (!c) {
      const attempts = this.maxAttempts === undefined ? {} : { maxAttempts: this.maxAttempts };
      const credentials = target && this.credentials?.provider(target.account);
      c = this.make({ ...attempts, ...(target && { region: target.region }), ...(credentials && { credentials }) });
      this.clients.set(key, c);
    }
    return c;
  }

  /**
   * The targets of one run: the accounts (OUs resolved now) of `choice` or the defaults, in each of its regions;
   * `[undefined]` without `TARGETS`. OUs are resolved at every run, so an account moved into an OU is reached.
   */
  async targets(choice?: TargetsChoice): Promise<Array<Target | undefined>> {
    if (!this.settings) return [undefined];
    const entries = choice?.accounts ?? this.settings.accounts;
    const accounts = entries.some((e) => !ACCOUNT_ID.test(e)) ? await resolveAccounts(this.aws.organizations(), entries) : [...entries];
    return targetsOf(accounts, choice?.regions ?? this.settings.regions);
  }
}

/** `<account>/<region>`, how reports, links and chat name a target. */
export const targetName = (t: Target) => `${t.account}/${t.region}`;
