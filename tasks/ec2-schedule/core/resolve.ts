/**
 * What links and chat commands name: a resource of any kind this deployment schedules (`ec2Schedule.kinds`), by its
 * id alone (`db-1`) or qualified by its kind (`asg:web`). A bare id is looked up among the configured kinds whose
 * ids it can be (an RDS identifier can also be a group's name), with each kind's own `find`; more than one match is
 * an error naming the kinds, which the kind-qualified form settles. A link always names the kind (links.ts).
 */
import { KINDS, type Kind } from './types';
import { kindOf } from './kinds';
import type { Clients, Resource } from './kinds/kind';
import { isAllowed, type AllowRules } from './allow';
import { RESOURCE_ID } from './validate';

/** A resource as typed or linked: `kind` absent for a bare id. */
export interface ResourceName {
  kind?: Kind;
  id: string;
}

/** Reads `<kind>:<id>` or a bare id; undefined when it can be no configured kind's id. */
export function parseName(text: string, kinds: readonly Kind[]): ResourceName | undefined {
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

/** Why a name found nothing to control (`kinds` empty), or more than one resource: a reply's text, `show` writing what the caller typed as the reply's dialect shows it. */
export function refusal(name: ResourceName, kinds: readonly Kind[], show: (text: string) => string): string {
  if (kinds.length === 0)
    return `${name.kind === 'ec2' || (!name.kind && RESOURCE_ID.ec2.test(name.id)) ? 'Instance' : 'Resource'} ${show(name.id)} is not one you may control here.`;
  return `${show(name.id)} names a resource of each of these kinds: ${kinds.join(', ')}; name one as <kind>:<id>, for example ${show(`${kinds[0]}:${name.id}`)}.`;
}

/** How a reply names the kind: `RDS DB instance`. */
export const nounOf = (r: Pick<Resource, 'kind'>) => kindOf(r.kind).noun;
