import { describe, expect, it } from 'vitest';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { EMPTY_SHA256, expectedSignature, IncompleteSignatureError, parseSigV4, verifyChunks } from '../../local/sigv4';

// The examples from https://docs.aws.amazon.com/IAM/latest/UserGuide/aws-signing-authentication-methods.html
const SIGNATURE = 'fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024';
const HEADER = `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=${SIGNATURE}`;

describe('parseSigV4', () => {
  it('reads every part of an Authorization header', () => {
    const sig = parseSigV4({ headers: { authorization: HEADER, 'x-amz-date': '20130524T000000Z', 'x-amz-security-token': 'tok' } });
    expect(sig).toEqual({
      algorithm: 'AWS4-HMAC-SHA256',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      date: '20130524',
      region: 'us-east-1',
      service: 's3',
      signedHeaders: ['host', 'range', 'x-amz-date'],
      signature: SIGNATURE,
      location: 'header',
      requestDate: '20130524T000000Z',
      securityToken: 'tok',
    });
  });

  it('matches header names case-insensitively and tolerates no spaces after commas', () => {
    const sig = parseSigV4({ headers: { Authorization: HEADER.replace(/, /g, ',') } });
    expect(sig?.service).toBe('s3');
    expect(sig?.signedHeaders).toEqual(['host', 'range', 'x-amz-date']);
  });

  it('reads a presigned query string', () => {
    const query = new URLSearchParams({
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIDLOCAL/20260101/eu-west-1/states/aws4_request',
      'X-Amz-Date': '20260101T120000Z',
      'X-Amz-Expires': '900',
      'X-Amz-SignedHeaders': 'host',
      'X-Amz-Signature': 'abc123',
    });
    expect(parseSigV4({ headers: {}, query: query.toString() })).toEqual({
      algorithm: 'AWS4-HMAC-SHA256',
      accessKeyId: 'AKIDLOCAL',
      date: '20260101',
      region: 'eu-west-1',
      service: 'states',
      signedHeaders: ['host'],
      signature: 'abc123',
      location: 'query',
      requestDate: '20260101T120000Z',
      securityToken: undefined,
      expiresSeconds: 900,
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
    const query = new URLSearchParams({
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKID/20260101/us-east-1/sns/aws4_request',
      'X-Amz-SignedHeaders': 'host',
    });
    expect(() => parseSigV4({ headers: {}, query })).toThrow(/Presigned URL requires a 'Signature' parameter/);
  });
});

// AWS's published examples: the signatures they print must come out of the verifier, byte for byte.
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('expectedSignature', () => {
  it('computes the S3 header example (GET Object with a Range; S3 paths are not double-encoded)', async () => {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "Example: GET Object"
    const headers = { host: 'examplebucket.s3.amazonaws.com', range: 'bytes=0-9', 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': '20130524T000000Z' };
    const sig = parseSigV4({
      headers: {
        ...headers,
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
      },
    })!;
    const computed = await expectedSignature({ method: 'GET', target: '/test.txt', headers, body: Buffer.alloc(0) }, sig, SECRET, EMPTY_SHA256);
    expect(computed.signature).toBe(sig.signature);
  });

  it('computes the S3 presigned URL example (UNSIGNED-PAYLOAD, X-Amz-Signature left out of the canonical query)', async () => {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html, "An example"
    const target =
      '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
    const headers = { host: 'examplebucket.s3.amazonaws.com' };
    const sig = parseSigV4({ headers, query: target.split('?')[1] })!;
    const computed = await expectedSignature({ method: 'GET', target, headers, body: Buffer.alloc(0) }, sig, SECRET, 'UNSIGNED-PAYLOAD');
    expect(computed.signature).toBe('aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
  });

  it('computes the IAM example of the signing guide (a query API; the body hash is the payload hash)', async () => {
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html (GET ?Action=ListUsers&Version=2010-05-08)
    const headers = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', host: 'iam.amazonaws.com', 'x-amz-date': '20150830T123600Z' };
    const sig = parseSigV4({
      headers: {
        ...headers,
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
      },
    })!;
    // This guide's example key has a '+' where the S3 pages' has a '/'.
    const computed = await expectedSignature(
      { method: 'GET', target: '/?Action=ListUsers&Version=2010-05-08', headers, body: Buffer.alloc(0) },
      sig,
      'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      EMPTY_SHA256,
    );
    expect(computed.signature).toBe(sig.signature);
  });

  it('double-encodes the path of every service but S3, as the SDK signs it', async () => {
    // "Each path segment must be URI-encoded twice ... except for Amazon S3" (create-signed-request.html).
    const sign = async (service: string) => {
      const signer = new SignatureV4({
        service,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        sha256: Hash.bind(null, 'sha256'),
        uriEscapePath: service !== 's3',
      });
      const signed = await signer.sign(
        { method: 'GET', protocol: 'http:', hostname: 'localhost', path: '/schedules/a%20b', query: {}, headers: { host: 'localhost:4566' } } as HttpRequest,
        { signingDate: new Date('2026-01-01T00:00:00Z') },
      );
      const sig = parseSigV4({ headers: signed.headers })!;
      return (
        await expectedSignature(
          { method: 'GET', target: '/schedules/a%20b', headers: signed.headers, body: Buffer.alloc(0) },
          sig,
          'test',
          signed.headers['x-amz-content-sha256'] ?? EMPTY_SHA256,
        )
      ).canonicalRequest;
    };
    expect((await sign('scheduler')).split('\n')[1]).toBe('/schedules/a%2520b');
    expect((await sign('s3')).split('\n')[1]).toBe('/schedules/a%20b');
  });
});

describe('verifyChunks', () => {
  // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html, "Example: PUT Object": 66,560 bytes of 'a' in 64 KB + 1 KB chunks.
  const headers = {
    host: 's3.amazonaws.com',
    'x-amz-date': '20130524T000000Z',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': '66560',
    'content-length': '66824',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    authorization:
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class, Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
  };
  const body = (last = 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9', second = 'a'.repeat(1024)) =>
    Buffer.from(
      `10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n${'a'.repeat(65536)}\r\n` +
        `400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n${second}\r\n` +
        `0;chunk-signature=${last}\r\n\r\n`,
    );
  const sig = parseSigV4({ headers })!;

  it('verifies the seed signature and every chunk of the example', async () => {
    const seed = await expectedSignature(
      { method: 'PUT', target: '/examplebucket/chunkObject.txt', headers, body: body() },
      sig,
      SECRET,
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    );
    expect(seed.signature).toBe(sig.signature);
    expect(await verifyChunks(body(), sig, SECRET, false)).toBeUndefined();
  });

  it('verifies the chunks and the signed trailer of the trailing-header example', async () => {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html: the same 66,560 bytes, a CRC32C trailer.
    const seeded = parseSigV4({
      headers: {
        ...headers,
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
        authorization: headers.authorization.replace(/Signature=\w+/, 'Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e'),
      },
    })!;
    const trailed = (trailerSignature: string) =>
      Buffer.from(
        `10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n${'a'.repeat(65536)}\r\n` +
          `400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n${'a'.repeat(1024)}\r\n` +
          '0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n' +
          `x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:${trailerSignature}\r\n\r\n`,
      );
    expect(await verifyChunks(trailed('d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435'), seeded, SECRET, true)).toBeUndefined();
    expect(await verifyChunks(trailed('0'.repeat(64)), seeded, SECRET, true)).toBe('signature');
  });

  it('refuses a chunk changed after signing, a wrong final signature, and a wrong secret', async () => {
    expect(await verifyChunks(body(undefined, `${'a'.repeat(1023)}b`), sig, SECRET, false)).toBe('signature');
    expect(await verifyChunks(body('0'.repeat(64)), sig, SECRET, false)).toBe('signature');
    expect(await verifyChunks(body(), sig, 'not-the-secret', false)).toBe('signature');
    expect(await verifyChunks(Buffer.from('zz;chunk-signature=00\r\n'), sig, SECRET, false)).toBe('framing');
  });
});
