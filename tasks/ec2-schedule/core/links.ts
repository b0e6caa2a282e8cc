/**
 * Control links: a signed URL per (instance, action) that lets someone without AWS access start or stop
 * exactly that instance. Not one static token in a Lambda environment variable, which only a CloudFormation
 * stack update could change: each link carries its own id and optional expiry, signed with HMAC-SHA256 under a
 * secret kept in the Ec2Schedule table:
 *
 *   <base>/ec2/control/<instanceId>/<action>?token=v1.<linkId>.<expiresAt>.<signature>
 *
 * A link is valid for the instance and action it was signed for only. Revoking one link stores its id;
 * rotating the secret revokes every link at once, effective on the next request (no redeploy).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Ec2Action } from './types';

const VERSION = 'v1';
const LINK_ID = /^[A-Za-z0-9_-]{8,32}$/;

export interface LinkClaims {
  instanceId: string;
  action: Ec2Action;
  linkId: string;
  /** Epoch seconds; 0 = does not expire. */
  expiresAt: number;
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function newLinkId(): string {
  return randomBytes(9).toString('base64url');
}

function signature(secret: string, c: LinkClaims): string {
  return createHmac('sha256', secret).update(`opsflow-ec2-link/${VERSION}\n${c.instanceId}\n${c.action}\n${c.linkId}\n${c.expiresAt}`).digest('base64url');
}

export function signLink(secret: string, claims: LinkClaims): string {
  if (!LINK_ID.test(claims.linkId)) throw new Error(`link id must be 8-32 URL-safe characters, got '${claims.linkId}'`);
  return `${VERSION}.${claims.linkId}.${claims.expiresAt}.${signature(secret, claims)}`;
}

export function linkUrl(baseUrl: string, claims: LinkClaims, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/ec2/control/${claims.instanceId}/${claims.action}?token=${token}`;
}

export type LinkCheck = { ok: true; linkId: string; expiresAt: number } | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

/** Checks a token against the instance and action of the request; the caller still checks revocation. */
export function checkLink(secret: string, instanceId: string, action: Ec2Action, token: string | undefined, nowMs: number): LinkCheck {
  const parts = (token ?? '').split('.');
  if (parts.length !== 4 || parts[0] !== VERSION || !LINK_ID.test(parts[1]) || !/^\d{1,12}$/.test(parts[2])) return { ok: false, reason: 'malformed' };
  const claims: LinkClaims = { instanceId, action, linkId: parts[1], expiresAt: Number(parts[2]) };
  const expected = Buffer.from(signature(secret, claims));
  const given = Buffer.from(parts[3]);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature' };
  if (claims.expiresAt !== 0 && claims.expiresAt * 1000 <= nowMs) return { ok: false, reason: 'expired' };
  return { ok: true, linkId: claims.linkId, expiresAt: claims.expiresAt };
}
