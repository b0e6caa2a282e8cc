/**
 * Approval ids and personal approval links.
 *
 * The id is derived from the execution ARN, so a retried delivery of the same activity task finds the
 * same record. Each approver's link carries `<id>.<secret>`: the secret (32 random bytes) is only ever in
 * that approver's email; the record keeps its sha256, so a table read does not yield working links.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Approver } from './types';

const ID_CHARS = 22;
const REF_SHAPE = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

export function requestId(executionArn: string): string {
  return createHash('sha256').update(executionArn).digest('base64url').slice(0, ID_CHARS);
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** The page URL for one approver; `linkBaseUrl` has no trailing slash. */
export function approvalUrl(linkBaseUrl: string, id: string, secret: string): string {
  return `${linkBaseUrl}/approvals/${id}.${secret}`;
}

export interface ApprovalLinks {
  page: string;
  approve: string;
  reject: string;
}

/** Both email links open the same page; `intent` only preselects a button, opening never decides. */
export function approvalLinks(linkBaseUrl: string, id: string, secret: string): ApprovalLinks {
  const page = approvalUrl(linkBaseUrl, id, secret);
  return { page, approve: `${page}?intent=approve`, reject: `${page}?intent=reject` };
}

export type ParsedRef = { id: string; secret: string } | 'invalid';

export function parseRef(ref: string | undefined): ParsedRef {
  const match = ref === undefined ? null : REF_SHAPE.exec(ref);
  return match ? { id: match[1], secret: match[2] } : 'invalid';
}

/** The approver whose link secret this is, or undefined. Compares every hash in constant time. */
export function findApprover(approvers: readonly Approver[], secret: string): Approver | undefined {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  let found: Approver | undefined;
  for (const approver of approvers) {
    for (const hash of approver.secretHashes) {
      const stored = Buffer.from(hash, 'hex');
      if (stored.length === presented.length && timingSafeEqual(stored, presented) && !found) found = approver;
    }
  }
  return found;
}
