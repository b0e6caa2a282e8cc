import { describe, expect, it } from 'vitest';
import { graceStatus } from '../../../tasks/tag-policy/core/grace';

describe('graceStatus', () => {
  const now = new Date('2025-03-10T12:00:00Z');
  const record = (firstSeenAt: string) => ({ instanceId: 'i-1', action: 'stop' as const, firstSeenAt, reason: 'r' });

  it('needs nothing without a destructive violation', () => expect(graceStatus(undefined, undefined, 72, now, undefined)).toEqual({ state: 'none' }));
  it('starts the grace period on the first sighting', () => {
    expect(graceStatus('stop', 'r', 72, now, undefined)).toEqual({
      state: 'started',
      action: 'stop',
      reason: 'r',
      firstSeenAt: '2025-03-10T12:00:00.000Z',
      dueAt: '2025-03-13T12:00:00.000Z',
    });
  });
  it('keeps waiting inside the period', () => {
    expect(graceStatus('stop', 'r', 72, now, record('2025-03-09T12:00:00.000Z'))).toEqual({
      state: 'running',
      firstSeenAt: '2025-03-09T12:00:00.000Z',
      dueAt: '2025-03-12T12:00:00.000Z',
    });
  });
  it('is due exactly when the period ends (UTC arithmetic, no time zones)', () => {
    expect(graceStatus('terminate', 'r', 72, now, record('2025-03-07T12:00:00.000Z'))).toEqual({ state: 'due', dueAt: '2025-03-10T12:00:00.000Z' });
  });
  it('is due at once with a zero grace period', () => expect(graceStatus('stop', 'r', 0, now, undefined).state).toBe('due'));
  it('restarts from a corrupt record rather than acting', () => expect(graceStatus('stop', 'r', 72, now, record('yesterday')).state).toBe('started'));
});
