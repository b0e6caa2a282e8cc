import { describe, expect, it } from 'vitest';
import { IncompleteSignatureError, parseSigV4 } from '../../local/sigv4';

// The examples from https://docs.aws.amazon.com/IAM/latest/UserGuide/aws-signing-authentication-methods.html
const SIGNATURE = 'fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024';
const HEADER = `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=${SIGNATURE}`;

describe('parseSigV4', () => {
  it('reads every part of an Authorization header', () => {
    const sig = parseSigV4({ headers: { authorization: HEADER, 'x-amz-date': '20130524T000000Z', 'x-amz-security-token': 'tok' } });
    expect(sig).toEqual({
      algorithm: 'AWS4-HMAC-SHA256', accessKeyId: 'AKIAIOSFODNN7EXAMPLE', date: '20130524', region: 'us-east-1', service: 's3',
      signedHeaders: ['host', 'range', 'x-amz-date'], signature: SIGNATURE, location: 'header', requestDate: '20130524T000000Z', securityToken: 'tok',
    });
  });

  it('matches header names case-insensitively and tolerates no spaces after commas', () => {
    const sig = parseSigV4({ headers: { Authorization: HEADER.replace(/, /g, ',') } });
    expect(sig?.service).toBe('s3');
    expect(sig?.signedHeaders).toEqual(['host', 'range', 'x-amz-date']);
  });

  it('reads a presigned query string', () => {
    const query = new URLSearchParams({
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256', 'X-Amz-Credential': 'AKIDLOCAL/20260101/eu-west-1/states/aws4_request',
      'X-Amz-Date': '20260101T120000Z', 'X-Amz-Expires': '900', 'X-Amz-SignedHeaders': 'host', 'X-Amz-Signature': 'abc123',
    });
    expect(parseSigV4({ headers: {}, query: query.toString() })).toEqual({
      algorithm: 'AWS4-HMAC-SHA256', accessKeyId: 'AKIDLOCAL', date: '20260101', region: 'eu-west-1', service: 'states',
      signedHeaders: ['host'], signature: 'abc123', location: 'query', requestDate: '20260101T120000Z', securityToken: undefined, expiresSeconds: 900,
    });
  });

  it('is undefined for an unsigned request, and for non-AWS authorization schemes', () => {
    expect(parseSigV4({ headers: {} })).toBeUndefined();
    expect(parseSigV4({ headers: { authorization: 'Bearer abc' }, query: new URLSearchParams('a=1') })).toBeUndefined();
  });

  it.each([
    ['no Signature', HEADER.replace(/, Signature=.*$/, ''), /requires a 'Signature' parameter/],
    ['no SignedHeaders', HEADER.replace(' SignedHeaders=host;range;x-amz-date,', ''), /requires a 'SignedHeaders' parameter/],
    ['no Credential', HEADER.replace(/Credential=[^,]+, /, ''), /requires a 'Credential' parameter/],
    ['a scope without region', HEADER.replace('/us-east-1/', '/'), /scoped to a valid region, service and date/],
    ['a scope with a bad date', HEADER.replace('20130524', '2013-05-24'), /scoped to a valid region, service and date/],
    ['SigV4a', HEADER.replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256'), /only AWS4-HMAC-SHA256/],
  ])('refuses a header with %s as IncompleteSignature', (_, authorization, message) => {
    const parse = () => parseSigV4({ headers: { authorization } });
    expect(parse).toThrow(IncompleteSignatureError);
    expect(parse).toThrow(message);
    try {
      parse();
    } catch (err) {
      expect((err as IncompleteSignatureError).code).toBe('IncompleteSignature');
      expect((err as IncompleteSignatureError).status).toBe(400);
    }
  });

  it('refuses an incomplete presigned query', () => {
    const query = new URLSearchParams({ 'X-Amz-Algorithm': 'AWS4-HMAC-SHA256', 'X-Amz-Credential': 'AKID/20260101/us-east-1/sns/aws4_request', 'X-Amz-SignedHeaders': 'host' });
    expect(() => parseSigV4({ headers: {}, query })).toThrow(/Presigned URL requires a 'Signature' parameter/);
  });
});
