/** The one "valid until" rule shared by the exemption tag and opsflow:override. */
import { describe, expect, it } from 'vitest';
import { validUntil } from '../../../tasks/shared/valid-until';
import { overrideUntil } from '../../../tasks/ec2-schedule/core/kinds/common';

describe('validUntil', () => {
  it('reads a date as through that UTC day, a zoned timestamp as that instant', () => {
    expect(validUntil('2025-06-30')).toBe(Date.parse('2025-07-01T00:00:00Z'));
    expect(validUntil('2025-06-30T12:00:00Z')).toBe(Date.parse('2025-06-30T12:00:00Z'));
    expect(validUntil('2025-06-30T14:00+02:00')).toBe(Date.parse('2025-06-30T12:00:00Z'));
  });

  it('refuses local time, impossible dates and words', () => {
    for (const v of ['2025-06-30T12:00', '2025-06-30T12:00:00', '2025-02-30', 'next week', '']) expect(validUntil(v), v).toBeUndefined();
  });

  it('is the rule of opsflow:override too: local time is refused there as well', () => {
    expect(overrideUntil('2025-06-30')).toBe(Date.parse('2025-07-01T00:00:00Z'));
    expect(overrideUntil('2025-06-30T12:00')).toBeNaN();
  });
});
