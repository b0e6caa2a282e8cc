/**
 * Control links: a signed URL per (resource, action) that lets someone without AWS access start or stop
 * exactly that resource (an EC2 instance, or a resource of any scheduled kind: core/kinds/). Not one static token in a Lambda environment variable, which only a CloudFormation
 * stack update could change: each link carries its own id and optional expiry, signed with HMAC-SHA256 under a
 * secret kept in the Ec2Schedule table:
 *
 *   <base>/ec2/control/<target>/<action>?token=v1.<linkId>.<expiresAt>.<signature>
 *
 * `<target>` is an EC2 instance id as it is (the links handed out before kinds existed stay valid, byte for byte), or
 * `<kind>:<id>` for any other kind (`rds-instance:db-1`), its `/` written `:` (ECS's `<cluster>/<service>`): no kind's
 * id has a `:` (validate.ts RESOURCE_ID), so the segment reads back one way. A resource in another account or region
 * of the organisation (config `targets`) adds `@<account>:<region>` (`i-0abc…@111122223333:eu-west-1`, the chat's
 * `@<account>/<region>` with its `/` written `:` too); without it the link means the hub's own account and region, as
 * every link did before. The signature covers the whole segment, so a link is valid for the resource, the account,
 * the region and the action it was signed for only: changing the account in a link breaks its signature. Revoking one link stores its id;
 * rotating the secret revokes every link at once, effective on the next request (no redeploy).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { INSTANCE_ID } from '../../shared/instance-id';
import { splitWhere, whereSuffix } from './resolve';
import { KINDS, type Ec2Action, type Kind, type Where } from './types';
import { RESOURCE_ID } from './validate';

const VERSION = 'v1';
const LINK_ID = /^[A-Za-z0-9_-]{8,32}$/;

export interface LinkClaims {
  /** The resource, as `linkTarget` writes it. */
  target: string;
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
  return createHmac('sha256', secret).update(`opsflow-ec2-link/${VERSION}\n${c.target}\n${c.action}\n${c.linkId}\n${c.expiresAt}`).digest('base64url');
}

export function signLink(secret: string, claims: LinkClaims): string {
  if (!LINK_ID.test(claims.linkId)) throw new Error(`link id must be 8-32 URL-safe characters, got '${claims.linkId}'`);
  return `${VERSION}.${claims.linkId}.${claims.expiresAt}.${signature(secret, claims)}`;
}

/**
 * The target percent-encoded (an Auto Scaling group's name may hold any character but `:`); an EC2 id and the usual
 * names read the same. HTTP APIs hand the Lambda the path parameter decoded (recorded events in
 * https://github.com/aws-powertools/powertools-lambda-python/issues/1098: `Chester%20Mall` arrives as `Chester Mall`),
 * as the local runtime does; a name with `?` or `#` is unconfirmed there and best scheduled, not linked.
 */
export function linkUrl(baseUrl: string, claims: LinkClaims, token: string): string {
  const segment = encodeURIComponent(claims.target).replaceAll('%3A', ':').replaceAll('%40', '@'); // both allowed in a path (RFC 3986 pchar)
  return `${baseUrl.replace(/\/+$/, '')}/ec2/control/${segment}/${claims.action}?token=${token}`;
}

export type LinkCheck = { ok: true; linkId: string; expiresAt: number } | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

/** Checks a token against the target and action of the request; the caller still checks revocation. */
export function checkLink(secret: string, target: string, action: Ec2Action, token: string | undefined, nowMs: number): LinkCheck {
  const parts = (token ?? '').split('.');
  if (parts.length !== 4 || parts[0] !== VERSION || !LINK_ID.test(parts[1]) || !/^\d{1,12}$/.test(parts[2])) return { ok: false, reason: 'malformed' };
  const claims: LinkClaims = { target, action, linkId: parts[1], expiresAt: Number(parts[2]) };
  const expected = Buffer.from(signature(secret, claims));
  const given = Buffer.from(parts[3]);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature' };
  if (claims.expiresAt !== 0 && claims.expiresAt * 1000 <= nowMs) return { ok: false, reason: 'expired' };
  return { ok: true, linkId: claims.linkId, expiresAt: claims.expiresAt };
}

/** A resource's `<target>` segment (see above). */
export function linkTarget(r: { kind: Kind; id: string } & Where): string {
  return `${r.kind === 'ec2' ? r.id : `${r.kind}:${r.id.replaceAll('/', ':')}`}${whereSuffix(r, ':')}`;
}

/** The resource a `<target>` segment names (with its account and region, if in a spoke), or undefined when it names none. */
export function parseLinkTarget(segment: string): ({ kind: Kind; id: string } & Where) | undefined {
  const { name: target, where } = splitWhere(segment, ':');
  if (INSTANCE_ID.test(target)) return { kind: 'ec2', id: target, ...where };
  const colon = target.indexOf(':');
  const kind = target.slice(0, colon) as Kind;
  const id = target.slice(colon + 1).replaceAll(':', '/');
  return colon > 0 && kind !== 'ec2' && KINDS.includes(kind) && RESOURCE_ID[kind].test(id) ? { kind, id, ...where } : undefined;
}
