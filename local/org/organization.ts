/**
 * The simulated AWS Organization: which accounts exist, in which organizational units, in which regions, and the
 * fleet each account has in each region. An app declares it in its template (`Metadata.OpsflowLocal.organization`,
 * README "Local runtime metadata"; opsflow's comes from `local.organization` in opsflow.config.json). The hub
 * (the runtime's own account, `ACCOUNT`) is the organization's management account, where the app is deployed.
 *
 * Identifiers have the shapes AWS documents (https://docs.aws.amazon.com/organizations/latest/APIReference/API_Organization.html,
 * API_Root.html, API_OrganizationalUnit.html, API_Account.html): organization `o-[a-z0-9]{10,32}`, root
 * `r-[0-9a-z]{4,32}`, OU `ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}`, account `\d{12}`; the root and OU ids here derive from
 * the names, so they are the same at every start.
 */
import { createHash } from 'node:crypto';
import { ACCOUNT, REGION, type Partition } from '../kernel';

/** An account as the app declares it. */
export interface AccountSpec {
  /** Twelve digits. */
  readonly id: string;
  readonly name: string;
  /** The OU path under the root, `Workloads/Prod`; empty or absent: directly under the root. */
  readonly ou?: string;
  /** The account's email address. @default `<id>@example.com` */
  readonly email?: string;
  /** A fleet file (local/services/fleet.ts `FleetSeed`) per region, relative to the app's directory. @default none */
  readonly fleets?: Readonly<Record<string, string>>;
}

/** `Metadata.OpsflowLocal.organization`. */
export interface OrganizationSpec {
  /** The organization's id. @default 'o-opsflowlocal' */
  readonly id?: string;
  /** The regions besides the hub's (us-east-1, always present). */
  readonly regions?: readonly string[];
  /** Member accounts (the hub may be listed too, for its name and its fleets in other regions). */
  readonly accounts: readonly AccountSpec[];
  /** Accounts that exist but are not in the organization (a partner's, an attacker's): they can call, and are refused by `aws:PrincipalOrgID`. @default none */
  readonly outside?: ReadonlyArray<Pick<AccountSpec, 'id' | 'name' | 'fleets'>>;
}

export interface Ou {
  id: string;
  arn: string;
  name: string;
  /** The root's or the parent OU's id. */
  parentId: string;
  /** `o-…/r-…/ou-…/` as `aws:PrincipalOrgPaths` spells it. */
  path: string;
}

export interface Account {
  id: string;
  arn: string;
  name: string;
  email: string;
  parentId: string;
  /** Unix seconds, fixed: the organization was always there. */
  joinedAt: number;
  fleets: Readonly<Record<string, string>>;
  /** In the organization (false: an outside account). */
  member: boolean;
  /** `aws:PrincipalOrgPaths` of its principals. */
  orgPath?: string;
}

const ORG_ID = /^o-[a-z0-9]{10,32}$/;
const ACCOUNT_ID = /^\d{12}$/;
/** AWS region codes (`us-east-1`, `eu-west-1`, `us-gov-west-1`, `ap-southeast-2`). */
const REGION_CODE = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
/** Account and OU names: "[\s\S]*", 1-50 characters (API_Account.html, API_OrganizationalUnit.html: 1-128). */
const NAME = /^[^\u0000-\u001f]{1,50}$/;

const hash = (text: string, length: number) => createHash('sha256').update(text).digest('hex').slice(0, length);

/** Problems with an organization as a template declares it, each naming the field; empty when it is sound. */
export function organizationProblems(raw: unknown, where = 'organization'): string[] {
  const problems: string[] = [];
  const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!obj(raw)) return [`${where} must be an object with accounts (and optionally id, regions, outside)`];
  for (const k of Object.keys(raw))
    if (!['id', 'regions', 'accounts', 'outside'].includes(k)) problems.push(`${where}.${k} is not a setting (id, regions, accounts, outside)`);
  if (raw.id !== undefined && !(typeof raw.id === 'string' && ORG_ID.test(raw.id)))
    problems.push(`${where}.id must be 'o-' and 10 to 32 lower-case letters or digits, got ${JSON.stringify(raw.id)}`);
  const regions = raw.regions ?? [];
  if (!Array.isArray(regions) || !regions.every((r) => typeof r === 'string' && REGION_CODE.test(r)))
    problems.push(`${where}.regions must be a list of region codes such as "eu-west-1", got ${JSON.stringify(raw.regions)}`);
  const known = new Set([REGION, ...(Array.isArray(regions) ? regions.filter((r) => typeof r === 'string' && REGION_CODE.test(r)) : [])]);
  const seen = new Set<string>();
  const account = (a: unknown, at: string, member: boolean): void => {
    if (!obj(a)) {
      problems.push(`${at} must be an object with id and name`);
      return;
    }
    const keys = member ? ['id', 'name', 'ou', 'email', 'fleets'] : ['id', 'name', 'fleets'];
    for (const k of Object.keys(a)) if (!keys.includes(k)) problems.push(`${at}.${k} is not a setting (${keys.join(', ')})`);
    if (!(typeof a.id === 'string' && ACCOUNT_ID.test(a.id))) problems.push(`${at}.id must be twelve digits, got ${JSON.stringify(a.id)}`);
    else if (seen.has(a.id)) problems.push(`${at}.id ${a.id} is declared twice`);
    else seen.add(a.id);
    if (!member && a.id === ACCOUNT) problems.push(`${at}.id ${ACCOUNT} is the hub, the organization's management account: it cannot be outside`);
    if (!(typeof a.name === 'string' && NAME.test(a.name))) problems.push(`${at}.name must be 1 to 50 printable characters, got ${JSON.stringify(a.name)}`);
    if (a.ou !== undefined && !(typeof a.ou === 'string' && a.ou.split('/').every((part) => part === '' || NAME.test(part))))
      problems.push(`${at}.ou must be an OU path such as "Workloads/Prod", got ${JSON.stringify(a.ou)}`);
    if (a.email !== undefined && !(typeof a.email === 'string' && /^[^@\s]+@[^@\s]+$/.test(a.email))) problems.push(`${at}.email must be an email address`);
    if (a.fleets !== undefined) {
      if (!obj(a.fleets)) problems.push(`${at}.fleets must map a region to a fleet file, e.g. {"eu-west-1": "fleets/prod-eu.json"}`);
      else
        for (const [region, file] of Object.entries(a.fleets)) {
          if (a.id === ACCOUNT && region === REGION) problems.push(`${at}.fleets.${region}: the hub's fleet in ${REGION} is the app's own (local.fleet)`);
          if (!known.has(region)) problems.push(`${at}.fleets.${region}: ${region} is not one of the organization's regions (${[...known].join(', ')})`);
          if (typeof file !== 'string' || !file) problems.push(`${at}.fleets.${region} must be a file name`);
        }
    }
  };
  if (!Array.isArray(raw.accounts) || raw.accounts.length === 0) problems.push(`${where}.accounts must be a non-empty list of accounts`);
  else raw.accounts.forEach((a, i) => account(a, `${where}.accounts[${i}]`, true));
  if (raw.outside !== undefined) {
    if (!Array.isArray(raw.outside)) problems.push(`${where}.outside must be a list of accounts`);
    else raw.outside.forEach((a, i) => account(a, `${where}.outside[${i}]`, false));
  }
  return problems;
}

/** The organization, its root, OUs and accounts, with AWS's identifiers. */
export class Organization {
  readonly id: string;
  readonly arn: string;
  readonly managementAccount = ACCOUNT;
  readonly rootId: string;
  readonly rootArn: string;
  /** The hub's region first. */
  readonly regions: readonly string[];
  /** Members in declaration order, the hub (management account) first; then outside accounts. */
  readonly accounts: readonly Account[];
  readonly ous: readonly Ou[];

  constructor(spec: OrganizationSpec) {
    const problems = organizationProblems(spec);
    if (problems.length) throw new Error(`template metadata OpsflowLocal.organization: ${problems.join('; ')}`);
    this.id = spec.id ?? 'o-opsflowlocal';
    this.arn = `arn:aws:organizations::${ACCOUNT}:organization/${this.id}`;
    const rootSuffix = hash(`root/${this.id}`, 4);
    this.rootId = `r-${rootSuffix}`;
    this.rootArn = `arn:aws:organizations::${ACCOUNT}:root/${this.id}/${this.rootId}`;
    this.regions = [...new Set([REGION, ...(spec.regions ?? [])])];
    const ous = new Map<string, Ou>();
    const rootPath = `${this.id}/${this.rootId}/`;
    const ouOf = (path: string | undefined): { id: string; path: string } => {
      let parent = { id: this.rootId, path: rootPath };
      let name = '';
      for (const part of (path ?? '').split('/').filter(Boolean)) {
        name = name ? `${name}/${part}` : part;
        let ou = ous.get(name);
        if (!ou) {
          const id = `ou-${rootSuffix}-${hash(`ou/${this.id}/${name}`, 8)}`;
          ou = { id, arn: `arn:aws:organizations::${ACCOUNT}:ou/${this.id}/${id}`, name: part, parentId: parent.id, path: `${parent.path}${id}/` };
          ous.set(name, ou);
        }
        parent = ou;
      }
      return parent;
    };
    const members = spec.accounts.filter((a) => a.id !== ACCOUNT);
    const hub = spec.accounts.find((a) => a.id === ACCOUNT) ?? { id: ACCOUNT, name: 'management' };
    const made = (a: AccountSpec, member: boolean): Account => {
      const parent = member ? ouOf(a.ou) : undefined;
      return {
        id: a.id,
        arn: member ? `arn:aws:organizations::${ACCOUNT}:account/${this.id}/${a.id}` : `arn:aws:iam::${a.id}:root`,
        name: a.name,
        email: a.email ?? `${a.id}@example.com`,
        parentId: parent?.id ?? '',
        joinedAt: Date.UTC(2024, 0, 1) / 1000,
        fleets: a.fleets ?? {},
        member,
        ...(parent && { orgPath: parent.path }),
      };
    };
    this.accounts = [made(hub, true), ...members.map((a) => made(a, true)), ...(spec.outside ?? []).map((a) => made(a, false))];
    this.ous = [...ous.values()];
  }

  account(id: string): Account | undefined {
    return this.accounts.find((a) => a.id === id);
  }

  /** Every account (members and outside) in every region: where EC2 keeps a fleet of its own. */
  partitions(): Partition[] {
    return this.accounts.flatMap((a) => this.regions.map((region) => ({ account: a.id, region })));
  }
}
