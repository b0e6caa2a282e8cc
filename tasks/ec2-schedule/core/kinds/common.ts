/** What the kinds share: the override tag, tags as a record, final settling, and the generic states of a move. */
import { boundReason } from '../../../shared/reasons';
import { validUntil } from '../../../shared/valid-until';
import { OVERRIDE_TAG } from '../tags';
import type { BatchEntry } from '../types';
import type { TagFilter, Verdict } from './kind';

export function tagRecord(tags: ReadonlyArray<{ Key?: string; Value?: string }> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}

/** The override deadline of `opsflow:override`, by the project's one "valid until" rule (tasks/shared/valid-until.ts). */
export function overrideUntil(value: string): number {
  return validUntil(value) ?? NaN;
}

/** `opsflow:override=<ISO date>`: leave the resource alone until then, whatever its kind; expires by itself. */
export function overrideVerdict(tags: Record<string, string>, now: Date): Verdict | undefined {
  const override = tags[OVERRIDE_TAG];
  if (override === undefined) return undefined;
  const until = overrideUntil(override);
  if (Number.isNaN(until))
    return {
      kind: 'skip',
      reason: `${OVERRIDE_TAG} '${override}' is not an ISO date (YYYY-MM-DD, or a timestamp with Z or an offset); left alone until the tag is fixed or removed`,
    };
  return until > now.getTime() ? { kind: 'skip', reason: `${OVERRIDE_TAG} until ${override}` } : undefined;
}

/** Whether tags match a list's filter (no filter: every resource), for the APIs that filter no list by tag. */
export const hasTag = (tags: Record<string, string>, tag: TagFilter | undefined) => tag === undefined || tags[tag.key] === tag.value;

/** Settles an entry for good: its outcome, the state it ended in, why. */
export function finish(e: BatchEntry, status: BatchEntry['status'], to: string, reason: string): void {
  Object.assign(e, { status, to, reason: boundReason(reason), verifyBy: undefined });
}

/** Past its verification deadline. */
export const expired = (e: BatchEntry, now: Date) => e.verifyBy !== undefined && now.getTime() >= Date.parse(e.verifyBy);

/** Reads values in chunks of `size` (filter value limits), all chunks in turn. */
export async function chunked<T>(ids: readonly string[], size: number, read: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += size) out.push(...(await read(ids.slice(i, i + size))));
  return out;
}
