/**
 * The exemption tag: `forever`, or a "valid until" value read by the project's one rule (tasks/shared/valid-until.ts:
 * a date is through that UTC day, a timestamp must say Z or an offset). Any other value exempts nothing and is
 * reported, instead of being guessed at.
 */
import { validUntil } from '../../shared/valid-until';
import type { InstanceFacts } from '../core/types';

export type Exemption = { status: 'none' } | { status: 'exempt'; until: string } | { status: 'expired'; until: string } | { status: 'invalid'; value: string };

export function exemption(instance: InstanceFacts, exemptionTag: string, now: Date): Exemption {
  const raw = instance.tags[exemptionTag];
  if (raw === undefined) return { status: 'none' };
  const value = raw.trim();
  if (value.toLowerCase() === 'forever') return { status: 'exempt', until: 'forever' };
  const endMs = validUntil(value);
  if (endMs === undefined) return { status: 'invalid', value: raw };
  return { status: now.getTime() < endMs ? 'exempt' : 'expired', until: value };
}
