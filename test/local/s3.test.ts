/**
 * The local S3's objects as the real S3 client reads and writes them (local/services/s3.ts, s3-multipart.ts):
 * byte ranges, listings with a delimiter and URL encoding, multipart uploads and S3's errors for each.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, signedHeaders, startRuntime, type Harness } from '../e2e/harness';

const Bucket = 's3-objects';
let h: Harness;
let s3: S3Client;
beforeAll(async () => {
  h = await startRuntime({ seedFleet: false });
  s3 = new S3Client({ endpoint: h.endpoint, region: 'us-east-1', credentials, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket }));
});
afterAll(async () => {
  s3?.destroy();
  await h?.stop();
});

async function refusal(p: Promise<unknown>): Promise<{ name: string; status?: number }> {
  const err = await p.then(
    () => undefined,
    (e: Error & { $metadata?: { httpStatusCode?: number } }) => e,
  );
  if (!err) throw new Error('the request was accepted');
  return { name: err.name, status: err.$metadata?.httpStatusCode };
}

/** A request written to the socket as is (the SDK never sends an absolute-form target); resolves with the whole answer. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** A request with this request line, signed as the S3 clients sign (the path as sent, not normalized). */
async function signedRaw(line: string, headers: Record<string, string> = {}, body = ''): Promise<string> {
  const { port } = new URL(h.endpoint);
  const [method, target] = line.split(' ');
  const extra = Object.fromEntries(Object.entries({ 'content-length': String(Buffer.byteLength(body)), ...headers }).map(([k, v]) => [k.toLowerCase(), v]));
  const signed = await signedHeaders(h.endpoint, { method, path: target.replace(/^[a-z]+:\/\/[^/]*/i, ''), service: 's3', headers: extra, body });
  return raw(
    Number(port),
    `${line}\r\n${Object.entries(signed)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}Connection: close\r\n\r\n${body}`,
  );
}

describe('objects', () => {
  it('GetObject reads a byte range (206, Content-Range), a suffix range, and refuses one past the end with InvalidRange', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'digits', Body: '0123456789' }));
    const middle = await s3.send(new GetObjectCommand({ Bucket, Key: 'digits', Range: 'bytes=2-4' }));
    expect([middle.$metadata.httpStatusCode, await middle.Body?.transformToString(), middle.ContentRange, middle.ContentLength]).toEqual([
      206,
      '234',
      'bytes 2-4/10',
      3,
    ]);
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'digits', Range: 'bytes=-3' }))).Body?.transformToString()).toBe('789');
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'digits', Range: 'bytes=8-100' }))).Body?.transformToString()).toBe('89');
    expect(await refusal(s3.send(new GetObjectCommand({ Bucket, Key: 'digits', Range: 'bytes=10-' })))).toMatchObject({ name: 'InvalidRange', status: 416 });
    // A suffix of an empty object is all of it: 200, no bytes.
    await s3.send(new PutObjectCommand({ Bucket, Key: 'empty', Body: '' }));
    const empty = await s3.send(new GetObjectCommand({ Bucket, Key: 'empty', Range: 'bytes=-1' }));
    expect([empty.$metadata.httpStatusCode, await empty.Body?.transformToString()]).toEqual([200, '']);
  });

  it('ListObjectsV2 rolls keys up to CommonPrefixes at the delimiter, pages across them, and URL-encodes names when asked', async () => {
    for (const Key of ['d/sub/a', 'd/sub/b', 'd/x 1.json', 'd/x+1.json', 'd/z']) await s3.send(new PutObjectCommand({ Bucket, Key, Body: '-' }));
    const entries: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'd/', Delimiter: '/', MaxKeys: 1, ContinuationToken }));
      expect(page.KeyCount).toBe(1);
      entries.push(...(page.CommonPrefixes ?? []).map((p) => `prefix ${p.Prefix}`), ...(page.Contents ?? []).map((o) => `key ${o.Key}`));
      ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken);
    expect(entries).toEqual(['prefix d/sub/', 'key d/x 1.json', 'key d/x+1.json', 'key d/z']);
    // StartAfter a rolled-up prefix starts after all of it; inside one, the prefix is still there.
    const names = async (StartAfter: string) => {
      const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'd/', Delimiter: '/', StartAfter }));
      return [...(page.CommonPrefixes ?? []).map((p) => p.Prefix), ...(page.Contents ?? []).map((o) => o.Key)];
    };
    expect(await names('d/sub/')).toEqual(['d/x 1.json', 'd/x+1.json', 'd/z']);
    expect(await names('d/sub/a')).toEqual(['d/sub/', 'd/x 1.json', 'd/x+1.json', 'd/z']);
    // As S3 answers: a space is `+`, a `+` is `%2B` (the client decodes), slashes stay.
    const encoded = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'd/x', EncodingType: 'url' }));
    expect([encoded.EncodingType, encoded.Contents?.map((o) => o.Key)]).toEqual(['url', ['d/x+1.json', 'd/x%2B1.json']]);
  });
});

describe('writes', () => {
  it('store a streamed body (the SDK sends it aws-chunked, with a checksum trailer) as its bytes, in one PUT or a part', async () => {
    const stream = () => Readable.from([Buffer.from('hello '), Buffer.from('world')]);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'streamed', Body: stream(), ContentLength: 11 }));
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'streamed' }))).Body?.transformToString()).toBe('hello world');
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'streamed-parts' }));
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key: 'streamed-parts', UploadId, PartNumber: 1, Body: stream(), ContentLength: 11 }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'streamed-parts', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] } }));
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'streamed-parts' }))).Body?.transformToString()).toBe('hello world');
  });

  it("refuse a key too long with KeyTooLongError: over S3's 1,024 bytes, or over the local S3's 175", async () => {
    expect(await refusal(s3.send(new PutObjectCommand({ Bucket, Key: 'k'.repeat(1025), Body: 'x' })))).toEqual({ name: 'KeyTooLongError', status: 400 });
    expect(await refusal(s3.send(new PutObjectCommand({ Bucket, Key: 'k'.repeat(176), Body: 'x' })))).toEqual({ name: 'KeyTooLongError', status: 400 });
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k'.repeat(175), Body: 'x' }));
  });

  it('a body whose metadata a crash kept from disk was never acknowledged: not listed, not read', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'torn/a', Body: 'a' }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'torn/b', Body: 'b' }));
    rmSync(join(h.stateDir, 's3', Bucket, `${Buffer.from('torn/a').toString('base64url')}.meta`));
    expect((await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'torn/' }))).Contents?.map((o) => o.Key)).toEqual(['torn/b']);
    expect(await refusal(s3.send(new GetObjectCommand({ Bucket, Key: 'torn/a' })))).toMatchObject({ name: 'NoSuchKey', status: 404 });
  });
});

describe('keys', () => {
  it('keep their . and .. segments: the path is read as sent, never resolved to another key or bucket', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'dots/../y', Body: 'dotted' }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'y', Body: 'plain' }));
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'dots/../y' }))).Body?.transformToString()).toBe('dotted');
    expect((await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'dots/' }))).Contents?.map((o) => o.Key)).toEqual(['dots/../y']);
  });

  it('are read as sent in an absolute-form request target too; a target that is no URL is a 400', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'bystander' }));
    const { port } = new URL(h.endpoint);
    const send = (line: string) => signedRaw(line);
    // The AWS CLI's DELETE of the key '../bystander' (no x-id): a DeleteObject in this bucket, not a DeleteBucket.
    expect(await send(`DELETE http://127.0.0.1:${port}/${Bucket}/../bystander HTTP/1.1`)).toMatch(/^HTTP\/1\.1 204/);
    expect((await s3.send(new HeadBucketCommand({ Bucket: 'bystander' }))).$metadata.httpStatusCode).toBe(200);
    expect(await send('GET http://[::1/x HTTP/1.1')).toMatch(/^HTTP\/1\.1 400[\s\S]*is not a valid URL/);
  });
});

describe("malformed requests get S3's 400s", () => {
  it('a key that is not valid percent-encoding is InvalidURI; aws-chunked framing that is cut short or disagrees with its declared length is IncompleteBody', async () => {
    expect(await signedRaw(`GET /${Bucket}/bad%E0%A4%A HTTP/1.1`)).toMatch(/^HTTP\/1\.1 400[\s\S]*<Code>InvalidURI<\/Code>/);
    const chunked = { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '5' };
    expect(await signedRaw(`PUT /${Bucket}/chunked HTTP/1.1`, chunked, '3\r\nabc\r\n0\r\n\r\n')).toMatch(/^HTTP\/1\.1 400[\s\S]*<Code>IncompleteBody<\/Code>/);
    expect(await signedRaw(`PUT /${Bucket}/chunked HTTP/1.1`, chunked, 'ff\r\nabc')).toMatch(/^HTTP\/1\.1 400[\s\S]*<Code>IncompleteBody<\/Code>/);
    expect(await refusal(s3.send(new GetObjectCommand({ Bucket, Key: 'chunked' })))).toMatchObject({ name: 'NoSuchKey' });
  });

  it('a PUT declaring more than the local S3 keeps (2 GiB - 1) is refused with 413 before its body is read', async () => {
    expect(await signedRaw(`PUT /${Bucket}/huge HTTP/1.1`, { 'Content-Length': String(2 ** 31) })).toMatch(/^HTTP\/1\.1 413[\s\S]*local S3 object size/);
  });

  it('a CompleteMultipartUpload body that is not the parts list is MalformedXML', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'malformed' }));
    expect(await signedRaw(`POST /${Bucket}/malformed?uploadId=${UploadId} HTTP/1.1`, {}, '<CompleteMultipartUpload><Part>')).toMatch(
      /^HTTP\/1\.1 400[\s\S]*<Code>MalformedXML<\/Code>/,
    );
    expect(await signedRaw(`POST /${Bucket}/malformed?uploadId=${UploadId} HTTP/1.1`, {}, '<CompleteMultipartUpload></CompleteMultipartUpload>')).toMatch(
      /^HTTP\/1\.1 400[\s\S]*<Code>MalformedXML<\/Code>/,
    );
  });
});

describe('multipart uploads', () => {
  const MiB = 1024 * 1024;
  const Key = 'parts/object.bin';
  const start = async () => (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/x-test' }))).UploadId!;
  const part = async (UploadId: string, PartNumber: number, Body: Buffer) => ({
    PartNumber,
    ETag: (await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body }))).ETag!,
  });

  it('joins the parts in order into one object whose ETag is the MD5 of the MD5s and the count', async () => {
    const UploadId = await start();
    const first = Buffer.alloc(5 * MiB, 'a');
    const second = Buffer.from('the last part may be small');
    const parts = [await part(UploadId, 1, first), await part(UploadId, 2, second)];
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-2"$/);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    expect([got.ContentLength, got.ContentType, got.ETag]).toEqual([5 * MiB + second.length, 'application/x-test', done.ETag]);
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat([first, second]))).toBe(true);
    // Completed: the upload is gone.
    expect(await refusal(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 3, Body: 'late' })))).toEqual({
      name: 'NoSuchUpload',
      status: 404,
    });
  });

  it('refuses a small part that is not the last, parts out of order, a wrong ETag, and an aborted upload; the object is not written', async () => {
    const UploadId = await start();
    const parts = [await part(UploadId, 1, Buffer.from('too small')), await part(UploadId, 2, Buffer.from('end'))];
    expect(await refusal(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'parts/never', UploadId, MultipartUpload: { Parts: parts } })))).toEqual({
      name: 'NoSuchUpload',
      status: 404,
    });
    expect(await refusal(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })))).toEqual({
      name: 'EntityTooSmall',
      status: 400,
    });
    expect(await refusal(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [...parts].reverse() } })))).toEqual({
      name: 'InvalidPartOrder',
      status: 400,
    });
    expect(
      await refusal(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"0"' }] } }))),
    ).toEqual({ name: 'InvalidPart', status: 400 });
    expect(await refusal(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 10_001, Body: 'x' })))).toEqual({
      name: 'InvalidArgument',
      status: 400,
    });
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    expect(await refusal(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })))).toEqual({
      name: 'NoSuchUpload',
      status: 404,
    });
    expect(await refusal(s3.send(new GetObjectCommand({ Bucket, Key: 'parts/never' })))).toMatchObject({ name: 'NoSuchKey' });
  });
});
