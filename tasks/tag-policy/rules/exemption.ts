/**
 * The exemption tag: `forever`, or an ISO date (`2025-06-30`, exempt through that UTC day) or timestamp
 * (`2025-06-30T12:00:00Z`, exempt until then; a timestamp must say Z or an offset, so no local time zone ever
 * decides). Any other value exempts nothing and is reported, instead of being guessed at.
 */
import type { InstanceFacts } from '../core/types';

export type Exemption =
  | { status: 'none' }
  | { status: 'exempt'; until: string }
  | { status: 'expired'; until: string }
  | { status: 'invalid'; value: string };

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

export function exemption(instance: InstanceFacts, exemptionTag: string, now: Date): Exemption {
  const raw = instance.tags[exemptionTag];
  if (raw === undefined) return { status: 'none' };
  const value = raw.trim();
  if (value.toLowerCase() === 'forever') return { status: 'exempt', until: 'forever' };
  let endMs: number;
  if (DATE.test(value)) endMs = Date.parse(`${value}T00:00:00Z`) + 86_400_000;
  else if (TIMESTAMP.test(value)) endMs = Date.parse(value);
  else return { status: 'invalid', value: raw };
  if (Number.isNaN(endMs) || (DATE.test(value) && new Date(endMs - 86_400_000).toISOString().slice(0, 10) !== value)) {
    return { status: 'invalid', value: raw };
  }
  return { status: now.getTime() < endMs ? 'exempt' : 'expired', until: value };
}
