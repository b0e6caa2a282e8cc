/**
 * S3 multipart uploads (CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload), as
 * the AWS CLI and SDK upload managers use them for objects over their threshold (8 MB for `aws s3 cp`).
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html: parts are numbered 1 to 10,000; every
 * part but the last is at least 5 MiB; the object's ETag is the MD5 of the parts' MD5s, `-` and the part count.
 *
 * Errors as S3 names them (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html): NoSuchUpload,
 * InvalidPart, InvalidPartOrder, EntityTooSmall, MalformedXML; EntityTooLarge past the local size cap.
 *
 * An upload in progress is a directory under the S3 root, `.uploads/<upload id>/` (a name no bucket can have),
 * holding `upload.json` and one file per part, each written durably before its request is answered.
 */
import { parseXML } from '@aws-sdk/xml-builder';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AwsError } from '../kernel';
import { S3_LOCAL_OBJECT_BYTES } from '../limits';
import { fsyncDir, writeDurable } from '../storage';

const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PART_NUMBER = 10_000;

interface Upload {
  bucket: string;
  key: string;
  contentType: string;
}

/** The whole object a completed upload makes, for the bucket to store. */
interface Assembled extends Upload {
  body: Buffer;
  etag: string;
}

const md5 = (data: Buffer) => createHash('md5').update(data).digest();

export class MultipartUploads {
  private readonly root: string;

  constructor(s3Root: string) {
    this.root = join(s3Root, '.uploads');
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
  }

  create(bucket: string, key: string, contentType = 'application/octet-stream'): string {
    const uploadId = randomBytes(24).toString('base64url');
    mkdirSync(this.dir(uploadId), { mode: 0o700 });
    writeDurable(join(this.dir(uploadId), 'upload.json'), JSON.stringify({ bucket, key, contentType } satisfies Upload));
    fsyncDir(this.root);
    return uploadId;
  }

  /** Stores a part; returns its ETag (the MD5 of its bytes, quoted). */
  uploadPart(bucket: string, key: string, uploadId: string, partNumber: string | null, body: Buffer): string {
    this.upload(bucket, key, uploadId);
    const n = Number(partNumber);
    if (!Number.isInteger(n) || n < 1 || n > MAX_PART_NUMBER)
      throw new AwsError('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`);
    writeDurable(join(this.dir(uploadId), `part.${n}`), body);
    return `"${md5(body).toString('hex')}"`;
  }

  /**
   * Checks the parts list of a CompleteMultipartUpload body against the stored parts and joins them; the upload
   * is gone once the caller has stored the object (`discard`).
   */
  complete(bucket: string, key: string, uploadId: string, xmlBody: Buffer): Assembled {
    const upload = this.upload(bucket, key, uploadId);
    const parts = listedParts(xmlBody);
    const buffers: Buffer[] = [];
    for (const [i, part] of parts.entries()) {
      if (i > 0 && part.number <= parts[i - 1].number) {
        throw new AwsError('InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
      }
      const file = join(this.dir(uploadId), `part.${part.number}`);
      const data = existsSync(file) ? readFileSync(file) : undefined;
      if (!data || `"${md5(data).toString('hex')}"` !== `"${part.etag.replace(/"/g, '')}"`) {
        throw new AwsError(
          'InvalidPart',
          "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.",
        );
      }
      buffers.push(data);
    }
    if (buffers.slice(0, -1).some((b) => b.length < MIN_PART_BYTES))
      throw new AwsError('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.');
    if (buffers.reduce((n, b) => n + b.length, 0) > S3_LOCAL_OBJECT_BYTES) {
      throw new AwsError(
        'EntityTooLarge',
        `Your proposed upload exceeds the maximum allowed object size: the local S3 keeps objects up to ${S3_LOCAL_OBJECT_BYTES} bytes (local/limits.ts).`,
        400,
      );
    }
    const etag = `"${md5(Buffer.concat(buffers.map(md5))).toString('hex')}-${buffers.length}"`;
    return { ...upload, body: Buffer.concat(buffers), etag };
  }

  abort(bucket: string, key: string, uploadId: string): void {
    this.upload(bucket, key, uploadId);
    this.discard(uploadId);
  }

  discard(uploadId: string): void {
    rmSync(this.dir(uploadId), { recursive: true, force: true });
    fsyncDir(this.root);
  }

  private upload(bucket: string, key: string, uploadId: string): Upload {
    const file = /^[\w-]+$/.test(uploadId) ? join(this.dir(uploadId), 'upload.json') : undefined;
    const upload = file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Upload) : undefined;
    if (!upload || upload.bucket !== bucket || upload.key !== key) {
      throw new AwsError(
        'NoSuchUpload',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
        404,
      );
    }
    return upload;
  }

  private dir(uploadId: string): string {
    return join(this.root, uploadId);
  }
}

/** `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"…"</ETag></Part>…`, read with the SDK's XML parser. */
function listedParts(body: Buffer): Array<{ number: number; etag: string }> {
  const malformed = () => new AwsError('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  let doc: { CompleteMultipartUpload?: { Part?: unknown } };
  try {
    doc = parseXML(body.toString('utf8')) as typeof doc;
  } catch {
    throw malformed();
  }
  const raw = doc.CompleteMultipartUpload?.Part;
  const list = (Array.isArray(raw) ? raw : raw ? [raw] : []) as Array<{ PartNumber?: unknown; ETag?: unknown }>;
  if (list.length === 0 || list.some((p) => typeof p.ETag !== 'string' || !/^\d+$/.test(String(p.PartNumber)))) throw malformed();
  return list.map((p) => ({ number: Number(p.PartNumber), etag: p.ETag as string }));
}
