import { describe, expect, it } from 'vitest';
import { EnvError, requireEmailList, requireInt, requireString, requireUrl } from '../../../tasks/shared/env';

describe('environment readers', () => {
  it('reads a present string', () => {
    expect(requireString({ TABLE_NAME: 'approvals' }, 'TABLE_NAME')).toBe('approvals');
  });

  it.each([
    ['missing', {}],
    ['blank', { TABLE_NAME: '  ' }],
  ])('fails naming the variable when it is %s', (_case, env) => {
    expect(() => requireString(env, 'TABLE_NAME')).toThrow(EnvError);
    expect(() => requireString(env, 'TABLE_NAME')).toThrow('environment variable TABLE_NAME is required');
  });

  it('reads integers within limits', () => {
    expect(requireInt({ N: ' 300 ' }, 'N', { min: 60 })).toBe(300);
  });

  it.each([
    ['not an integer', '1.5', /N must be an integer/],
    ['below the minimum', '10', /N must be at least 60, got 10/],
    ['above the maximum', '5000', /N must be at most 3600, got 5000/],
  ])('fails naming the variable when it is %s', (_case, value, message) => {
    expect(() => requireInt({ N: value }, 'N', { min: 60, max: 3600 })).toThrow(message);
  });

  it('reads a URL without its trailing slash', () => {
    expect(requireUrl({ LINK_BASE_URL: 'https://x.example.com/prod/' }, 'LINK_BASE_URL')).toBe('https://x.example.com/prod');
  });

  it.each(['not a url', 'ftp://x.example.com', 'https://x.example.com/?a=1'])('refuses the URL %s naming the variable', (value) => {
    expect(() => requireUrl({ LINK_BASE_URL: value }, 'LINK_BASE_URL')).toThrow(/LINK_BASE_URL/);
  });

  it('reads an email list normalized and de-duplicated, empty allowed', () => {
    expect(requireEmailList({ A: '["Bob@Example.com","bob@example.com"]' }, 'A')).toEqual(['bob@example.com']);
    expect(requireEmailList({ A: '[]' }, 'A')).toEqual([]);
  });

  it.each([
    ['not JSON', 'bob@example.com', /A must be a JSON array/],
    ['not an array', '{"a":1}', /A must be a JSON array/],
    ['an invalid entry', '["ok@example.com","nope"]', /A entry 1 is not a valid email address: "nope"/],
  ])('refuses an email list that is %s naming the variable', (_case, value, message) => {
    expect(() => requireEmailList({ A: value }, 'A')).toThrow(message);
  });
});
