/** Every rule check: one compliant case and one case per breach it detects. */
import { describe, expect, it } from 'vitest';
import { allowedValue, valueVerdict } from '../../../tasks/tag-policy/rules/allowed-value';
import { exemption } from '../../../tasks/tag-policy/rules/exemption';
import { managedBy } from '../../../tasks/tag-policy/rules/managed';
import { presence } from '../../../tasks/tag-policy/rules/presence';
import type { TagRule } from '../../../tasks/tag-policy/core/types';
import { instance } from './fakes';

const rule = (r: Partial<TagRule>): TagRule => ({
  key: 'Env',
  required: true,
  case: 'sensitive',
  onMissing: { action: 'notify' },
  onInvalid: { action: 'notify' },
  ...r,
});

describe('presence', () => {
  it('accepts a present tag', () => expect(presence(instance('i-1', { Env: 'dev' }), rule({}))).toEqual({ ok: true }));
  it('reports a missing tag', () => expect(presence(instance('i-1', {}), rule({}))).toEqual({ ok: false, message: 'tag Env is missing' }));
  it('reports a blank value as empty', () => expect(presence(instance('i-1', { Env: '  ' }), rule({}))).toEqual({ ok: false, message: 'tag Env is empty' }));
  it('accepts a missing tag that is not required', () => expect(presence(instance('i-1', {}), rule({ required: false })).ok).toBe(true));
});

describe('allowedValue', () => {
  const values = rule({ allowedValues: ['dev', 'prod'] });

  it('accepts an allowed value', () => expect(allowedValue(instance('i-1', { Env: 'dev' }), values).ok).toBe(true));
  it('reports a value outside the list', () => {
    expect(allowedValue(instance('i-1', { Env: 'Production' }), values)).toEqual({ ok: false, message: 'tag Env is "Production", expected one of dev, prod' });
  });
  it('is case-sensitive by default', () => expect(valueVerdict('DEV', values).ok).toBe(false));
  it('ignores case when asked', () => expect(valueVerdict('DEV', { ...values, case: 'insensitive' }).ok).toBe(true));
  it('reports the allowed spelling to normalize to', () => {
    expect(valueVerdict('Prod', { ...values, case: 'normalize' })).toMatchObject({ ok: false, normalized: 'prod' });
  });
  it('matches patterns in linear time: (a+)+$ against 40 a and a ! answers at once (RE2, no backtracking)', () => {
    const evil = rule({ key: 'CostCenter', pattern: '(a+)+$' });
    // A backtracking engine needs about 2^40 steps here (minutes to hours: the test times out); RE2 a few hundred.
    expect(allowedValue(instance('i-1', { CostCenter: `${'a'.repeat(40)}!` }), evil).ok).toBe(false);
    expect(allowedValue(instance('i-1', { CostCenter: 'a'.repeat(40) }), evil).ok).toBe(true);
  });

  it('matches a pattern against the whole value', () => {
    const cc = rule({ key: 'CostCenter', pattern: 'CC-[0-9]{4}' });
    expect(valueVerdict('CC-1001', cc).ok).toBe(true);
    expect(valueVerdict('xCC-1001', cc).ok).toBe(false);
    expect(valueVerdict('cc-12', cc)).toMatchObject({ ok: false, message: expect.stringContaining('does not match /CC-[0-9]{4}/') });
  });
  it('leaves missing tags to presence()', () => expect(allowedValue(instance('i-1', {}), values).ok).toBe(true));
});

describe('exemption', () => {
  const now = new Date('2025-06-30T12:00:00Z');
  const exempt = (value: string) => exemption(instance('i-1', { 'opsflow:exempt': value }), 'opsflow:exempt', now);

  it('knows no exemption without the tag', () => expect(exemption(instance('i-1', {}), 'opsflow:exempt', now)).toEqual({ status: 'none' }));
  it('exempts forever', () => expect(exempt('forever')).toEqual({ status: 'exempt', until: 'forever' }));
  it('exempts through the whole UTC day of a date', () => expect(exempt('2025-06-30')).toEqual({ status: 'exempt', until: '2025-06-30' }));
  it('expires after that day', () => expect(exempt('2025-06-29')).toEqual({ status: 'expired', until: '2025-06-29' }));
  it('honours a timestamp with a zone', () => expect(exempt('2025-06-30T11:59:59Z').status).toBe('expired'));
  it('refuses a timestamp without a zone (no local-time guessing)', () => expect(exempt('2025-06-30T23:00:00').status).toBe('invalid'));
  it('refuses impossible dates and free text', () => {
    expect(exempt('2025-02-30').status).toBe('invalid');
    expect(exempt('next week').status).toBe('invalid');
  });
});

describe('managedBy', () => {
  it('finds Auto Scaling groups', () => expect(managedBy(instance('i-1', { 'aws:autoscaling:groupName': 'web' }))).toBe('asg:web'));
  it('finds CloudFormation stacks', () => expect(managedBy(instance('i-1', { 'aws:cloudformation:stack-name': 'app' }))).toBe('cloudformation:app'));
  it('finds nothing on a hand-made instance', () => expect(managedBy(instance('i-1', { Name: 'x' }))).toBeUndefined());
});
