/**
 * The grace period before stop/terminate. The first run that finds a destructive violation records when it
 * saw it (an ISO UTC timestamp in the workflow's table, never a local time, never a value on the instance that
 * its users could edit) and only notifies; a run at or after `firstSeenAt + gracePeriodHours` may act. Fixing
 * the tags clears the record, so a later violation starts a fresh grace period.
 */

export interface GraceRecord {
  instanceId: string;
  action: 'stop' | 'terminate';
  /** ISO UTC. */
  firstSeenAt: string;
  reason: string;
}

export type GraceStatus =
  /** No destructive violation: a stored record is obsolete. */
  | { state: 'none' }
  /** First sighting: store a record. */
  | { state: 'started'; action: 'stop' | 'terminate'; reason: string; firstSeenAt: string; dueAt: string }
  | { state: 'running'; firstSeenAt: string; dueAt: string }
  | { state: 'due'; dueAt: string };

const HOUR = 3_600_000;

export function graceStatus(
  action: 'stop' | 'terminate' | undefined,
  reason: string | undefined,
  gracePeriodHours: number,
  now: Date,
  record: GraceRecord | undefined,
): GraceStatus {
  if (!action) return { state: 'none' };
  if (gracePeriodHours === 0) return { state: 'due', dueAt: now.toISOString() };
  const firstMs = record ? Date.parse(record.firstSeenAt) : NaN;
  if (Number.isNaN(firstMs)) {
    return {
      state: 'started',
      action,
      reason: reason ?? '',
      firstSeenAt: now.toISOString(),
      dueAt: new Date(now.getTime() + gracePeriodHours * HOUR).toISOString(),
    };
  }
  const dueMs = firstMs + gracePeriodHours * HOUR;
  const dueAt = new Date(dueMs).toISOString();
  return now.getTime() >= dueMs ? { state: 'due', dueAt } : { state: 'running', firstSeenAt: record!.firstSeenAt, dueAt };
}
