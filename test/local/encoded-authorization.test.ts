/**
 * EC2's encoded authorization message (UnauthorizedOperation) in the local runtime is as long as AWS's. Calibration:
 * a RunInstances denial recorded against AWS, whose `aws sts decode-authorization-message` output is
 * fixtures/recorded-authorization-message.json, was 958 characters encoded (github.com/xjantoth/k3s-udemy-course,
 * content-md/MFA-enforced-on-CLI-level.md). STS takes up to 10,240 characters
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html, EncodedMessage).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeAuthorizationMessage, encodedAuthorizationMessage } from '../../local/iam/enforcer';

const recorded = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'recorded-authorization-message.json'), 'utf8'));

describe('encoded authorization message', () => {
  it('encodes the recorded decoded message to about the length AWS gave it (958 characters)', () => {
    const encoded = encodeAuthorizationMessage(recorded);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Math.abs(encoded.length - 958)).toBeLessThan(958 * 0.05);
  });

  it('carries the decision and the request context, readable by inflating what follows the 84-byte envelope', () => {
    const encoded = encodedAuthorizationMessage({
      principalArn: 'arn:aws:sts::000000000000:assumed-role/act/session',
      action: 'ec2:StopInstances',
      resource: 'arn:aws:ec2:us-east-1:000000000000:instance/i-0123456789abcdef0',
      evaluation: { decision: 'ImplicitDeny' },
      context: { 'aws:Region': 'us-east-1', 'aws:ResourceTag/Name': 'web-01', 'aws:TagKeys': ['Name', 'Team'] },
    });
    const decoded = JSON.parse(inflateRawSync(Buffer.from(encoded, 'base64url').subarray(84)).toString('utf8'));
    expect(decoded).toMatchObject({
      allowed: false,
      explicitDeny: false,
      context: { action: 'ec2:StopInstances', resource: expect.stringContaining('i-0123456789abcdef0') },
    });
    expect(decoded.context.conditions.items).toContainEqual({ key: 'aws:TagKeys', values: { items: [{ value: 'Name' }, { value: 'Team' }] } });
  });
});
