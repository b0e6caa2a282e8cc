import { describe, expect, it } from 'vitest';
import { checkLink, linkUrl, newSecret, signLink, type LinkClaims } from '../../../tasks/ec2-schedule/core/links';

const secret = newSecret();
const claims: LinkClaims = { target: 'i-0feed000000000011', action: 'stop', linkId: 'abcDEF123_-x', expiresAt: 0 };
const NOW = Date.parse('2025-06-04T09:00:00Z');

describe('control links', () => {
  it('accepts a token for exactly the instance and action it was signed for', () => {
    const token = signLink(secret, claims);

    expect(checkLink(secret, claims.target, 'stop', token, NOW)).toEqual({ ok: true, linkId: claims.linkId, expiresAt: 0 });
    expect(checkLink(secret, claims.target, 'start', token, NOW)).toEqual({ ok: false, reason: 'signature' });
    expect(checkLink(secret, 'i-0feed000000000012', 'stop', token, NOW)).toEqual({ ok: false, reason: 'signature' });
  });

  it('refuses a tampered, malformed or missing token', () => {
    const token = signLink(secret, claims);
    const tampered = token.replace(/\.0\./, '.9999999999.');

    expect(checkLink(secret, claims.target, 'stop', tampered, NOW)).toEqual({ ok: false, reason: 'signature' });
    expect(checkLink(secret, claims.target, 'stop', 'v1.short', NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(checkLink(secret, claims.target, 'stop', undefined, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses every link once the secret is rotated', () => {
    const token = signLink(secret, claims);

    expect(checkLink(newSecret(), claims.target, 'stop', token, NOW)).toEqual({ ok: false, reason: 'signature' });
  });

  it('refuses an expired link', () => {
    const expiring = { ...claims, expiresAt: NOW / 1000 + 60 };
    const token = signLink(secret, expiring);

    expect(checkLink(secret, claims.target, 'stop', token, NOW).ok).toBe(true);
    expect(checkLink(secret, claims.target, 'stop', token, NOW + 61_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('builds the URL the HTTP API serves', () => {
    expect(linkUrl('https://x.execute-api.us-east-1.amazonaws.com/', claims, 'v1.t')).toBe(
      'https://x.execute-api.us-east-1.amazonaws.com/ec2/control/i-0feed000000000011/stop?token=v1.t',
    );
  });
});
