import { describe, expect, it } from 'vitest';
import { CALL_HEADER, Clock } from '../../local/kernel';

/** Keeps the event loop busy for `ms` real milliseconds, as a loaded machine delays timers. */
function block(ms: number): void {
  for (const end = Date.now() + ms; Date.now() < end; );
}

describe('Clock', () => {
  it('runs at real speed while work is marked busy, at the scale once it is released', () => {
    // Prepare
    const clock = new Clock({ scale: 1000, start: Date.UTC(2030, 0, 1) });
    const release = clock.busy();
    const [real0, virtual0] = [Date.now(), clock.nowMs()];

    // Act
    block(20);
    const busyReal = Date.now() - real0;
    const busyVirtual = clock.nowMs() - virtual0;
    release();
    const [real1, virtual1] = [Date.now(), clock.nowMs()];
    block(20);

    // Assess (to the millisecond the two readings of the real clock can fall apart)
    expect(Math.abs(busyVirtual - busyReal)).toBeLessThanOrEqual(1);
    const idleVirtual = clock.nowMs() - virtual1;
    const idleReal = Date.now() - real1;
    expect(idleVirtual).toBeGreaterThanOrEqual((idleReal - 1) * 1000);
    expect(idleVirtual).toBeLessThanOrEqual((idleReal + 1) * 1000);
  });

  it('fires a timer that comes late in real time at its virtual instant: time does not pass a timer that has not fired', async () => {
    // Prepare
    const clock = new Clock({ scale: 1000, start: Date.UTC(2030, 0, 1) });
    const due = clock.nowMs() + 1000;
    const seen = new Promise<number>((resolve) => clock.at(due, () => resolve(clock.nowMs())));

    // Act: the timer is due after 1 real ms; the event loop is held for 100 (100 virtual seconds at this scale).
    block(100);

    // Assess
    expect(clock.nowMs()).toBe(due);
    expect(await seen).toBe(due);
  });

  it('holds time at the instant of due timers while their callbacks run, however long the machine takes between them', async () => {
    // Prepare: two timers due at the same instant; the first callback is slow (50 real ms, 50 virtual s at this scale).
    const clock = new Clock({ scale: 1000, start: Date.UTC(2030, 0, 1) });
    const due = clock.nowMs() + 1000;
    clock.at(due, () => block(50));
    const seen = new Promise<number>((resolve) => clock.at(due, () => resolve(clock.nowMs())));

    // Act and assess: the second callback sees the instant it was due, and time goes on from there afterwards.
    expect(await seen).toBe(due);
    expect(clock.nowMs()).toBeGreaterThanOrEqual(due);
  });

  it('never goes back: a timer set for an instant already past fires now', async () => {
    // Prepare
    const clock = new Clock({ scale: 1000, start: Date.UTC(2030, 0, 1) });
    block(5);
    const before = clock.nowMs();

    // Act
    const fired = new Promise<number>((resolve) => clock.at(before - 60_000, () => resolve(clock.nowMs())));

    // Assess
    expect(clock.nowMs()).toBeGreaterThanOrEqual(before);
    expect(await fired).toBeGreaterThanOrEqual(before);
  });

  it('tells the watcher of calls when a named call waits, and answers once the caller follows the clock again', async () => {
    // Prepare
    const clock = new Clock({ scale: 1000 });
    const events: string[] = [];
    clock.watchCalls({
      begin: (call) => {
        events.push(`begin ${call}`);
        return async () => {
          events.push(`end ${call}`);
          await new Promise((r) => setImmediate(r));
          events.push(`synced ${call}`);
        };
      },
    });

    // Act
    const named = await clock.waitFor(
      { headers: { [CALL_HEADER]: 'f00d:1' } },
      clock.sleep(1000).then(() => 'answer'),
    );
    const unnamed = await clock.waitFor({ headers: {} }, Promise.resolve('other'));

    // Assess
    expect([named, unnamed]).toEqual(['answer', 'other']);
    expect(events).toEqual(['begin f00d:1', 'end f00d:1', 'synced f00d:1']);
  });
});
