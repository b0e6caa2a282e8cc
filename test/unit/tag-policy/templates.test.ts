import { describe, expect, it } from 'vitest';
import { expandTemplate, templateVariables } from '../../../tasks/tag-policy/core/templates';

describe('default-value templates', () => {
  const now = new Date('2025-03-04T23:30:00-05:00');

  it('expands ${today} as the UTC date', () => expect(expandTemplate('${today}', { now })).toBe('2025-03-05'));
  it('expands ${creator} and ${launchTime}', () => {
    expect(expandTemplate('${creator} at ${launchTime}', { now, creator: 'alice', launchTime: '2025-01-01T00:00:00.000Z' })).toBe(
      'alice at 2025-01-01T00:00:00.000Z',
    );
  });
  it('keeps literals', () => expect(expandTemplate('Proj007', { now })).toBe('Proj007'));
  it('refuses to expand an unknown creator instead of writing an empty value', () => expect(expandTemplate('${creator}', { now })).toBeUndefined());
  it('cuts values to the 256 characters EC2 accepts', () => expect(expandTemplate('${creator}', { now, creator: 'x'.repeat(300) })).toHaveLength(256));
  it('lists the variables used', () => expect(templateVariables('${today}-${nope}')).toEqual(['today', 'nope']));
});
