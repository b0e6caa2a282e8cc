/**
 * What links and chat commands name: a resource of any kind this deployment schedules (`ec2Schedule.kinds`), by its
 * id alone (`db-1`) or qualified by its kind (`asg:web`). A bare id is looked up among the configured kinds whose
 * ids it can be (an RDS identifier can also be a group's name), with each kind's own `find`; more than one match is
 * an error naming the kinds, which the kind-qualified form settles. A link always names the kind (links.ts).
 */
import { KINDS, type Kind, type Where } from './types';
import { kindOf } from './kinds';
import type { Clients, Resource } from './kinds/kind';
import { isAllowed, type AllowRules } from './allow';
import { ACCOUNT_ID, REGION } from '../../shared/targets';
import { RESOURCE_ID } from './validate';
import { targetName, type Reach } from '../../shared/targets';

/** A resource as typed or linked: `kind` absent for a bare id; `account`/`region` absent for the hub's own. */
export interface ResourceName extends Where {
  kind?: Kind;
  id: string;
}

/**
 * `<name>@<account>/<region>` (`sep` `/`, as chat reads and `ls` prints it; `:` in a link's path segment) split into
 * the name and its target; a name without that suffix is the hub's own. The suffix is read wherever it fits, so an
 * Auto Scaling group literally named `web@111122223333/eu-west-1` (its names may hold `@` and `/`) is named with a
 * suffix of its own target (`web@111122223333/eu-west-1@<account>/<region>`).
 */
export function splitWhere(text: string, sep: '/' | ':'): { name: string; where: Where } {
  const at = text.lastIndexOf('@');
  const [account, region, ...more] = at < 0 ? [] : text.slice(at + 1).split(sep);
  return at > 0 && more.length === 0 && ACCOUNT_ID.test(account ?? '') && REGION.test(region ?? '')
    ? { name: text.slice(0, at), where: { account, region } }
    : { name: text, where: {} };
}

/** `@<account>/<region>` after a name for a spoke's resource, nothing for the hub's own (`sep` as in `splitWhere`). */
export const whereSuffix = (w: Where, sep: '/' | ':' = '/') => (w.account ? `@${w.account}${sep}${w.region}` : '');

/** Reads `[<kind>:]<id>[@<account>/<region>]`; undefined when it can be no configured kind's id. */
export function parseName(typed: string, kinds: readonly Kind[]): ResourceName | undefined {
  const { name, where } = splitWhere(typed, '/');
  const found = parseBare(name, kinds);
  return found && { ...found, ...where };
}

function parseBare(text: string, kinds: readonly Kind[]): ResourceName | undefined {
  const colon = text.indexOf(':');
  const prefix = text.slice(0, colon);
  if (colon > 0 && (KINDS as readonly string[]).includes(prefix)) {
    const kind = prefix as Kind;
    const id = text.slice(colon + 1);
    return kinds.includes(kind) && RESOURCE_ID[kind].test(id) ? { kind, id } : undefined;
  }
  return kinds.some((k) => RESOURCE_ID[k].test(text)) ? { id: text } : undefined;
}

/**
 * The one allowed resource a name means among the configured kinds, or why there is none. Resources the allow-list
 * refuses are left out before counting, and "not found" reads as "not allowed", so a name cannot probe the account.
 */
export async function allowedOne(
  deps: { clients: Clients; kinds: readonly Kind[]; allow: AllowRules },
  name: ResourceName,
): Promise<{ ok: true; resource: Resource } | { ok: false; kinds: Kind[] }> {
  const candidates = name.kind ? [name.kind] : deps.kinds.filter((k) => RESOURCE_ID[k].test(name.id));
  const found = (await Promise.all(candidates.map((k) => kindOf(k).find(deps.clients, [name.id]))))
    .flat()
    .filter((r) => r.id === name.id && isAllowed(r, deps.allow));
  return found.length === 1 ? { ok: true, resource: found[0] } : { ok: false, kinds: found.map((r) => r.kind) };
}

/**
 * The clients for a resource's target, or why this deployment does not act there: `where` empty is the hub's own
 * account and region (`clients`), as links and commands always meant; any other must be a target of `TARGETS` (its
 * regions, and its accounts with OUs resolved through Organizations), checked before any AssumeRole, so a signed
 * link or a command cannot make the hub assume a role in an account it was not configured for.
 */
export async function clientsFor(
  deps: { clients: Clients; reach?: Reach<Clients> },
  where: Where,
): Promise<{ ok: true; clients: Clients } | { ok: false; reason: string }> {
  if (!where.account || !where.region) return { ok: true, clients: deps.clients };
  const target = { account: where.account, region: where.region };
  const settings = deps.reach?.settings;
  if (!deps.reach || !settings)
    return { ok: false, reason: `${targetName(target)} is not reached by this deployment: it acts in its own account and region only` };
  if (!settings.regions.includes(target.region))
    return { ok: false, reason: `${targetName(target)} is not reached by this deployment: its regions are ${settings.regions.join(', ')}` };
  const listed = settings.accounts.includes(target.account);
  const ous = settings.accounts.filter((a) => !ACCOUNT_ID.test(a));
  if (!listed && !(ous.length > 0 && (await deps.reach.targets()).some((t) => t?.account === target.account)))
    return { ok: false, reason: `${targetName(target)} is not reached by this deployment: account ${target.account} is not one of its targets` };
  return { ok: true, clients: deps.reach.for(target) };
}

/** Why a name found nothing to control (`kinds` empty), or more than one resource: a reply's text, `show` writing what the caller typed as the reply's dialect shows it. */
export function refusal(name: ResourceName, kinds: readonly Kind[], show: (text: string) => string): string {
  const where = whereSuffix(name);
  if (kinds.length === 0)
    return `${name.kind === 'ec2' || (!name.kind && RESOURCE_ID.ec2.test(name.id)) ? 'Instance' : 'Resource'} ${show(name.id + where)} is not one you may control here.`;
  return `${show(name.id + where)} names a resource of each of these kinds: ${kinds.join(', ')}; name one as <kind>:<id>, for example ${show(`${kinds[0]}:${name.id}${where}`)}.`;
}

/** How a reply names the kind: `RDS DB instance`. */
export const nounOf = (r: Pick<Resource, 'kind'>) => kindOf(r.kind).noun;
