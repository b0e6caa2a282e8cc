/**
 * The local S3's objects as the real S3 client reads and writes them (local/services/s3.ts, s3-multipart.ts):
 * byte ranges, listings with a delimiter and URL encoding, multipart uploads and S3's errors for each.
 */
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, startRuntime, type Harness } from '../e2e/harness';

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
  const err = await p.then(() => undefined, (e: Error & { $metadata?: { httpStatusCode?: number } }) => e);
  if (!err) throw new Error('the request was accepted');
  return { name: err.name, status: err.$metadata?.httpStatusCode };
}

describe('objects', () => {
  it('GetObject reads a byte range (206, Content-Range), a suffix range, and refuses one past the end with InvalidRange', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'digits', Body: '0123456789' }));
    const middle = await s3.send(new GetObjectCommand({ Bucket, Key: 'digits', Range: 'bytes=2-4' }));
    expect([middle.$metadata.httpStatusCode, await middle.Body?.transformToString(), middle.ContentRange, middle.ContentLength]).toEqual([206, '234', 'bytes 2-4/10', 3]);
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'digits', Range: 'bytes=-3' }))).Body?.transformToString()).toBe('789');
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'digits', Range: 'bytes=8-100' }))).Body?.transformToString()).toBe('89');
    expect(await refusal(s3.send(new GetObjectCommand({ Bucket, Key: 'digits', Range: 'bytes=10-' })))).toMatchObject({ name: 'InvalidRange', status: 416 });
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
    // As S3 answers: a space is `+`, a `+` is `%2B` (the client decodes), slashes stay.
    const encoded = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'd/x', EncodingType: 'url' }));
    expect([encoded.EncodingType, encoded.Contents?.map((o) => o.Key)]).toEqual(['url', ['d/x+1.json', 'd/x%2B1.json']]);
  });
});

describe('keys', () => {
  it('keep their . and .. segments: the path is read as sent, never resolved to another key or bucket', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'dots/../y', Body: 'dotted' }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'y', Body: 'plain' }));
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'dots/../y' }))).Body?.transformToString()).toBe('dotted');
    expect((await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'dots/' }))).Contents?.map((o) => o.Key)).toEqual(['dots/../y']);
  });
});

describe('multipart uploads', () => {
  const MiB = 1024 * 1024;
  const Key = 'parts/object.bin';
  const start = async () => (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/x-test' }))).UploadId!;
  const part = async (UploadId: string, PartNumber: number, Body: Buffer) => ({ PartNumber, ETag: (await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body }))).ETag! });

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
    expect(await refusal(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 3, Body: 'late' })))).toEqual({ name: 'NoSuchUpload', status: 404 });
  });

  it('refuses a small part that is not the last, parts out of order, a wrong ETag, and an aborted upload; the object is not written', async () => {
    const UploadId = await start();
    const parts = [await part(UploadId, 1, Buffer.from('too small')), await part(UploadId, 2, Buffer.from('end'))];
    expect(await refusal(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'parts/never', UploadId, MultipartUpload: { Parts: parts } })))).toEqual({ name: 'NoSuchUpload', status: 404 });
    expect(await refusal(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })))).toEqual({ name: 'EntityTooSmall', status: 400 });
    expect(await refusal(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [...parts].reverse() } })))).toEqual({ name: 'InvalidPartOrder', status: 400 });
    expect(await refusal(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"0"' }] } })))).toEqual({ name: 'InvalidPart', status: 400 });
    expect(await refusal(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 10_001, Body: 'x' })))).toEqual({ name: 'InvalidArgument', status: 400 });
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    expect(await refusal(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })))).toEqual({ name: 'NoSuchUpload', status: 404 });
    expect(await refusal(s3.send(new GetObjectCommand({ Bucket, Key: 'parts/never' })))).toMatchObject({ name: 'NoSuchKey' });
  });
});
