import { describe, expect, it } from 'vitest';
import { approvalLinks, findApprover, hashSecret, newSecret, parseRef, requestId } from '../../../tasks/approval/core/links';
import type { Approver } from '../../../tasks/approval/core/types';

const EXECUTION = 'arn:aws:states:us-east-1:000000000000:execution:Approval:run-1';

function approver(email: string, secret: string): Approver {
  return { email, secretHashes: [hashSecret(secret)], role: 'approver', notifiedAt: null, remindedAt: null };
}

describe('approval ids', () => {
  it('derives a stable 22-character base64url id from the execution ARN', () => {
    const id = requestId(EXECUTION);
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(requestId(EXECUTION)).toBe(id);
    expect(requestId(`${EXECUTION}-2`)).not.toBe(id);
  });
});

describe('approval links', () => {
  it('makes a personal link that parses back to its id and secret', () => {
    // Prepare
    const id = requestId(EXECUTION);
    const secret = newSecret();
    // Act
    const links = approvalLinks('https://approve.example.com', id, secret);
    const ref = links.page.split('/approvals/')[1];
    // Assess
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(links.page).toBe(`https://approve.example.com/approvals/${id}.${secret}`);
    expect(links.approve).toBe(`${links.page}?intent=approve`);
    expect(links.reject).toBe(`${links.page}?intent=reject`);
    expect(parseRef(ref)).toEqual({ id, secret });
  });

  it('issues a different secret every time', () => {
    expect(newSecret()).not.toBe(newSecret());
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['without the secret', 'A'.repeat(22)],
    ['with a short id', `${'A'.repeat(21)}.${'s'.repeat(43)}`],
    ['with a short secret', `${'A'.repeat(22)}.${'s'.repeat(42)}`],
    ['with a long secret', `${'A'.repeat(22)}.${'s'.repeat(44)}`],
    ['with padding', `${'A'.repeat(22)}.${'s'.repeat(42)}=`],
    ['with a path', `../${'A'.repeat(19)}.${'s'.repeat(43)}`],
    ['with standard base64 characters', `${'A'.repeat(22)}.${'s+/'.repeat(14)}s`],
  ])('refuses a malformed ref (%s)', (_case, ref) => {
    expect(parseRef(ref)).toBe('invalid');
  });

  it('identifies the approver whose secret the link carries', () => {
    const approvers = [approver('alice@example.com', 'a'.repeat(43)), approver('bob@example.com', 'b'.repeat(43))];
    expect(findApprover(approvers, 'b'.repeat(43))?.email).toBe('bob@example.com');
  });

  it('identifies nobody for a tampered secret', () => {
    const approvers = [approver('alice@example.com', 'a'.repeat(43))];
    expect(findApprover(approvers, `${'a'.repeat(42)}b`)).toBeUndefined();
  });

  it("identifies nobody for another request's secret", () => {
    // Prepare: same approver on two requests, each with its own secret
    const first = [approver('alice@example.com', newSecret())];
    const otherSecret = newSecret();
    // Act / Assess
    expect(findApprover(first, otherSecret)).toBeUndefined();
  });

  it('keeps only the hash of the secret', () => {
    const secret = newSecret();
    expect(hashSecret(secret)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashSecret(secret)).not.toContain(secret);
  });
});
