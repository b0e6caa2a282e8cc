/**
 * Amazon S3 over its REST protocol, path-style (`/<bucket>/<key>` on the runtime's endpoint; SDK clients
 * set `forcePathStyle: true`), for the app and for Distributed Map's ItemReader and ResultWriter:
 * CreateBucket, HeadBucket, DeleteBucket, ListBuckets, PutObject, GetObject and HeadObject (byte ranges too),
 * DeleteObject, ListObjectsV2 (delimiter, URL encoding) and multipart uploads (s3-multipart.ts), with S3's error
 * codes and XML (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html); any other S3 operation is
 * NotImplemented.
 *
 * Objects are files under the state directory (`s3/<bucket>/<base64url key>`, metadata beside them).
 * Calls are authorized like every signed call (local/rules/gate.ts; bucket policies count), and Distributed
 * Map's reads and writes with the state machine's role (`authorizedS3`); a denial is S3's 403 AccessDenied.
 * Not modelled: versioning, ACLs, listing uploads and parts, virtual-hosted-style addressing.
 */
import escapeHtml from 'escape-html';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AwsError, type AwsRequest, type AwsResponse, type Clock, type ServiceHandler, type StateDir } from '../kernel';
import { s3AccessDenied } from '../iam/enforcer';
import { fsyncDir, writeDurable } from '../storage';
import { MultipartUploads } from './s3-multipart';

/** https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html */
const BUCKET_NAME = /^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The operations served, by their names in S3's model (local/iam/requests.ts authorizes each). */
const S3_SERVED = new Set([
  'ListBuckets',
  'CreateBucket',
  'HeadBucket',
  'DeleteBucket',
  'ListObjectsV2',
  'PutObject',
  'GetObject',
  'HeadObject',
  'DeleteObject',
  'CreateMultipartUpload',
  'UploadPart',
  'CompleteMultipartUpload',
  'AbortMultipartUpload',
]);

/** "List results are always returned in UTF-8 binary order" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html). */
const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** base64url of 175 bytes is 236 characters; with `.meta.<pid>.tmp` the file name stays under 255 bytes. */
const MAX_LOCAL_KEY_BYTES = 175;

interface Meta {
  contentType: string;
  etag: string;
  lastModified: number;
  size: number;
}

export interface S3Object {
  body: Buffer;
  meta: Meta;
}

export class S3Service implements ServiceHandler {
  readonly services = ['s3'] as const;
  private readonly root: string;
  private readonly multipart: MultipartUploads;

  constructor(private readonly deps: { state: StateDir; clock: Clock }) {
    this.root = deps.state.path('s3');
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    this.multipart = new MultipartUploads(this.root);
  }

  // ---- used in-process (Distributed Map) ----------------------------------------------------------------

  getObject(bucket: string, key: string): S3Object {
    this.bucket(bucket);
    const file = this.file(bucket, key);
    // A body without its metadata is a PutObject cut short by a crash: never acknowledged, so not there.
    if (!existsSync(file) || !existsSync(`${file}.meta`)) throw new AwsError('NoSuchKey', 'The specified key does not exist.', 404);
    return { body: readFileSync(file), meta: this.meta(bucket, key) };
  }

  /** `etag`: a multipart upload's (the MD5 of its parts' MD5s); otherwise the body's MD5. */
  putObject(
    bucket: string,
    key: string,
    body: Buffer,
    contentType = 'application/octet-stream',
    etag = `"${createHash('md5').update(body).digest('hex')}"`,
  ): Meta {
    this.bucket(bucket);
    checkKey(key);
    const file = this.file(bucket, key);
    const meta: Meta = { contentType, etag, lastModified: this.deps.clock.nowMs(), size: body.length };
    // On disk (fsync) before PutObject answers, readable by this user only.
    writeDurable(file, body);
    writeDurable(`${file}.meta`, JSON.stringify(meta));
    return meta;
  }

  listObjects(bucket: string, prefix = ''): { key: string; meta: Meta }[] {
    return this.keys(bucket, prefix).map((key) => ({ key, meta: this.meta(bucket, key) }));
  }

  /** The keys under `prefix`, in S3's order, without reading their metadata. */
  private keys(bucket: string, prefix: string): string[] {
    const files = readdirSync(this.bucket(bucket));
    const metas = new Set(files.filter((f) => f.endsWith('.meta')));
    // A body without its metadata is a PutObject cut short by a crash (see getObject).
    return files
      .filter((f) => !f.endsWith('.meta') && !f.endsWith('.tmp') && metas.has(`${f}.meta`))
      .map((f) => Buffer.from(f, 'base64url').toString('utf8'))
      .filter((key) => key.startsWith(prefix))
      .sort(utf8Order);
  }

  private meta(bucket: string, key: string): Meta {
    return JSON.parse(readFileSync(`${this.file(bucket, key)}.meta`, 'utf8')) as Meta;
  }

  createBucket(bucket: string): void {
    if (!BUCKET_NAME.test(bucket)) throw new AwsError('InvalidBucketName', 'The specified bucket is not valid.', 400);
    if (existsSync(join(this.root, bucket)))
      throw new AwsError('BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', 409);
    mkdirSync(join(this.root, bucket), { mode: 0o700 });
    fsyncDir(this.root);
  }

  /** A bucket the template declares (AWS::S3::Bucket): created at deploy, kept with its objects across restarts. */
  ensureBucket(bucket: string): void {
    if (!BUCKET_NAME.test(bucket))
      throw new Error(`S3 bucket name '${bucket}' is not valid (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html)`);
    mkdirSync(join(this.root, bucket), { recursive: true, mode: 0o700 });
  }

  private bucket(bucket: string): string {
    const dir = join(this.root, bucket);
    if (!BUCKET_NAME.test(bucket) || !existsSync(dir)) throw new AwsError('NoSuchBucket', 'The specified bucket does not exist', 404);
    return dir;
  }

  private file(bucket: string, key: string): string {
    return join(this.root, bucket, Buffer.from(key, 'utf8').toString('base64url'));
  }

  // ---- REST API ---------------------------------------------------------------------------------------

  async handle(req: AwsRequest): Promise<AwsResponse> {
    try {
      return this.route(req);
    } catch (err) {
      const e = err instanceof AwsError ? err : new AwsError('InternalError', (err as Error).message, 500);
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${e.code}</Code><Message>${xml(e.message)}</Message><Resource>${xml(req.path)}</Resource></Error>`;
      return { status: e.status, headers: { 'content-type': 'application/xml' }, body: req.method === 'HEAD' ? '' : body };
    }
  }

  /**
   * By the operation S3's model names (found by request validation, local/validate/). One it names that is not
   * served here is NotImplemented (501); a request that names none, MethodNotAllowed (405), as S3 answers
   * (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
   */
  private route(req: AwsRequest): AwsResponse {
    const [, bucket = '', ...rest] = req.path.split('/');
    let key: string;
    try {
      key = decodeURIComponent(rest.join('/'));
    } catch {
      throw new AwsError('InvalidURI', "Couldn't parse the specified URI.", 400);
    }
    const ok = (body = '', headers: Record<string, string> = {}): AwsResponse => ({
      status: 200,
      headers: { 'content-type': 'application/xml', ...headers },
      body,
    });
    switch (req.operation) {
      case 'ListBuckets': {
        const buckets = readdirSync(this.root)
          .filter((b) => BUCKET_NAME.test(b) && statSync(join(this.root, b)).isDirectory())
          .map((b) => `<Bucket><Name>${xml(b)}</Name><CreationDate>${new Date(statSync(join(this.root, b)).birthtimeMs).toISOString()}</CreationDate></Bucket>`)
          .join('');
        return ok(
          `<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult><Owner><ID>local</ID></Owner><Buckets>${buckets}</Buckets></ListAllMyBucketsResult>`,
        );
      }
      case 'CreateBucket':
        this.createBucket(bucket);
        return ok('', { location: `/${bucket}` });
      case 'HeadBucket':
        this.bucket(bucket);
        return ok();
      case 'DeleteBucket': {
        const dir = this.bucket(bucket);
        if (readdirSync(dir).length) throw new AwsError('BucketNotEmpty', 'The bucket you tried to delete is not empty', 409);
        rmSync(dir, { recursive: true });
        fsyncDir(this.root);
        return { status: 204, body: '' };
      }
      case 'ListObjectsV2':
        return ok(this.listObjectsV2(bucket, req.query));
      case 'PutObject': {
        const meta = this.putObject(bucket, key, payload(req), req.headers['content-type']);
        return ok('', { etag: meta.etag });
      }
      case 'GetObject':
      case 'HeadObject': {
        const { body, meta } = this.getObject(bucket, key);
        const headers: Record<string, string> = {
          'content-type': meta.contentType,
          etag: meta.etag,
          'last-modified': new Date(meta.lastModified).toUTCString(),
          'accept-ranges': 'bytes',
        };
        const range = byteRange(req.headers.range, meta.size);
        if (!range) return { status: 200, headers: { ...headers, 'content-length': String(meta.size) }, body: req.method === 'HEAD' ? '' : body };
        const [first, last] = range;
        const part = { ...headers, 'content-length': String(last - first + 1), 'content-range': `bytes ${first}-${last}/${meta.size}` };
        return { status: 206, headers: part, body: req.method === 'HEAD' ? '' : body.subarray(first, last + 1) };
      }
      case 'CreateMultipartUpload': {
        this.bucket(bucket);
        checkKey(key);
        const uploadId = this.multipart.create(bucket, key, req.headers['content-type']);
        return ok(
          `<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult><Bucket>${xml(bucket)}</Bucket><Key>${xml(key)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`,
        );
      }
      case 'UploadPart':
        return ok('', { etag: this.multipart.uploadPart(bucket, key, req.query.get('uploadId') ?? '', req.query.get('partNumber'), payload(req)) });
      case 'CompleteMultipartUpload': {
        const uploadId = req.query.get('uploadId') ?? '';
        const object = this.multipart.complete(bucket, key, uploadId, req.body);
        const meta = this.putObject(bucket, key, object.body, object.contentType, object.etag);
        this.multipart.discard(uploadId);
        return ok(
          `<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult><Location>/${xml(bucket)}/${xml(key)}</Location><Bucket>${xml(bucket)}</Bucket><Key>${xml(key)}</Key><ETag>${xml(meta.etag)}</ETag></CompleteMultipartUploadResult>`,
        );
      }
      case 'AbortMultipartUpload':
        this.multipart.abort(bucket, key, req.query.get('uploadId') ?? '');
        return { status: 204, body: '' };
      case 'DeleteObject': {
        this.bucket(bucket);
        const file = this.file(bucket, key);
        rmSync(file, { force: true });
        rmSync(`${file}.meta`, { force: true });
        fsyncDir(join(this.root, bucket));
        return { status: 204, body: '' };
      }
      case undefined:
        throw new AwsError('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405);
      default:
        throw new AwsError(
          'NotImplemented',
          `opsflow's local S3 does not implement ${req.operation}: it serves ${[...S3_SERVED].join(', ')} (path-style).`,
          501,
        );
    }
  }

  /**
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html: at most 1,000 entries a page; with a
   * delimiter, the keys that hold it after the prefix roll up into one CommonPrefixes entry each, which counts as
   * one of the page's entries; with `encoding-type=url`, names come URL-encoded (the AWS CLI asks for that).
   */
  private listObjectsV2(bucket: string, query: URLSearchParams): string {
    const prefix = query.get('prefix') ?? '';
    const delimiter = query.get('delimiter') ?? '';
    const startAfter = query.get('start-after') ?? '';
    const token = query.get('continuation-token');
    // Validation has refused a max-keys that is not an integer; a negative one is S3's InvalidArgument too.
    const maxKeys = Number(query.get('max-keys') ?? 1000);
    if (maxKeys < 0) throw new AwsError('InvalidArgument', 'Argument maxKeys must be an integer between 0 and 2147483647');
    const max = Math.min(maxKeys, 1000);
    // A start-after that is itself a rolled-up prefix (a NextMarker of `boo/`) starts after all of it.
    const rolledUp =
      delimiter && startAfter.startsWith(prefix) && startAfter.indexOf(delimiter, prefix.length) === startAfter.length - delimiter.length
        ? startAfter
        : undefined;
    // Names only: the metadata is read for the page's objects alone.
    const entries: Array<{ name: string; object: boolean }> = [];
    for (const key of this.keys(bucket, prefix)) {
      if (utf8Order(key, startAfter) <= 0 || (rolledUp && key.startsWith(rolledUp))) continue;
      const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
      if (cut < 0) entries.push({ name: key, object: true });
      else if (entries.at(-1)?.name !== key.slice(0, cut + delimiter.length)) entries.push({ name: key.slice(0, cut + delimiter.length), object: false });
    }
    const after = token ? Buffer.from(token, 'base64url').toString('utf8') : undefined;
    const remaining = after === undefined ? entries : entries.filter((e) => utf8Order(e.name, after) > 0);
    const shown = remaining.slice(0, max);
    // max-keys=0 asks for nothing, and gets an answer that is not truncated.
    const truncated = max > 0 && remaining.length > shown.length;
    // URL-encoded as S3 answers it (recorded against S3: https://github.com/brekkylab/backlot/issues/178): a space
    // is `+`, a `+` is `%2B`, slashes stay; the AWS CLI decodes it with unquote_plus.
    const name = query.get('encoding-type') === 'url' ? (text: string) => xml(encodeURIComponent(text).replace(/%20/g, '+').replace(/%2F/g, '/')) : xml;
    const body = shown
      .map(({ name: n, object }) => {
        if (!object) return `<CommonPrefixes><Prefix>${name(n)}</Prefix></CommonPrefixes>`;
        const meta = this.meta(bucket, n);
        return `<Contents><Key>${name(n)}</Key><LastModified>${new Date(meta.lastModified).toISOString()}</LastModified><ETag>${xml(meta.etag)}</ETag><Size>${meta.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
      })
      .join('');
    const optional = [
      delimiter && `<Delimiter>${name(delimiter)}</Delimiter>`,
      query.get('encoding-type') === 'url' && '<EncodingType>url</EncodingType>',
      startAfter && `<StartAfter>${name(startAfter)}</StartAfter>`,
      token && `<ContinuationToken>${xml(token)}</ContinuationToken>`,
      truncated && shown.length && `<NextContinuationToken>${Buffer.from(shown.at(-1)!.name).toString('base64url')}</NextContinuationToken>`,
    ]
      .filter(Boolean)
      .join('');
    return `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Name>${xml(bucket)}</Name><Prefix>${name(prefix)}</Prefix><KeyCount>${shown.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${body}${optional}</ListBucketResult>`;
  }
}

/**
 * The single byte range of a `Range: bytes=first-last` (or `first-`, or `-suffix`) header, clamped to the object;
 * undefined when there is none or it is not a byte range S3 reads (the whole object is then sent). One that starts
 * past the end is 416 InvalidRange. https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax
 */
function byteRange(header: string | undefined, size: number): [number, number] | undefined {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  // A suffix of an empty object is the whole (empty) object (RFC 9110 §14.1.1: a non-zero suffix is satisfiable).
  if (!m || (m[1] === '' && m[2] === '') || (size === 0 && m[1] === '' && Number(m[2]) > 0)) return undefined;
  const [first, last] = m[1] === '' ? [Math.max(0, size - Number(m[2])), size - 1] : [Number(m[1]), m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)];
  if (m[1] !== '' && m[2] !== '' && Number(m[2]) < first) return undefined;
  if (first >= size || (m[1] === '' && Number(m[2]) === 0)) throw new AwsError('InvalidRange', 'The requested range is not satisfiable', 416);
  return [first, last];
}

/**
 * The bytes of a PutObject or UploadPart. The SDK v3 streams a body of unknown content as `aws-chunked`
 * (`<hex size>[;chunk-signature=…]\r\n<data>\r\n` … `0\r\n<trailers>\r\n`), its length in
 * `x-amz-decoded-content-length` (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html).
 */
function payload(req: AwsRequest): Buffer {
  if (!/(^|,)\s*aws-chunked\s*(,|$)/i.test(req.headers['content-encoding'] ?? '')) return req.body;
  const chunks: Buffer[] = [];
  const body = req.body;
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    const size = eol < 0 ? NaN : parseInt(body.subarray(at, eol).toString('latin1').split(';')[0], 16);
    if (!Number.isInteger(size) || size < 0 || eol + 2 + size > body.length)
      throw new AwsError('IncompleteBody', 'The request body is not valid aws-chunked encoding.', 400);
    if (size === 0) break;
    chunks.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  const data = Buffer.concat(chunks);
  const declared = req.headers['x-amz-decoded-content-length'];
  if (declared !== undefined && Number(declared) !== data.length) {
    throw new AwsError(
      'IncompleteBody',
      `You did not provide the number of bytes specified by the x-amz-decoded-content-length header (${declared}; ${data.length} sent).`,
      400,
    );
  }
  return data;
}

/**
 * S3 keys are at most 1,024 bytes (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html); the local
 * S3 names each object's file after its key (base64url, plus a suffix while it is written), and file names stop at
 * 255 bytes: its own cap is 175 bytes.
 */
function checkKey(key: string): void {
  const bytes = Buffer.byteLength(key);
  if (bytes > 1024) throw new AwsError('KeyTooLongError', 'Your key is too long', 400);
  if (bytes > MAX_LOCAL_KEY_BYTES)
    throw new AwsError('KeyTooLongError', `Your key is too long for the local S3: ${bytes} bytes, at most ${MAX_LOCAL_KEY_BYTES} (S3 takes 1,024)`, 400);
}

/**
 * The in-process S3 an execution's Distributed Map uses, authorized with the state machine's role as S3 would
 * authorize its requests: s3:GetObject on `arn:aws:s3:::bucket/key` to read an item source, s3:ListBucket on the
 * bucket to list a prefix, s3:PutObject on each result object
 * (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html). `authorize` answers the
 * denial message, or undefined when allowed.
 */
export function authorizedS3<T extends InProcessS3>(s3: T, authorize: (action: string, resource: string) => string | undefined): T {
  const check = (action: string, resource: string) => {
    const denied = authorize(action, resource);
    if (denied) throw s3AccessDenied(denied);
  };
  const wrapped: InProcessS3 = {
    getObject: (bucket, key) => (check('s3:GetObject', `arn:aws:s3:::${bucket}/${key}`), s3.getObject(bucket, key)),
    putObject: (bucket, key, body, contentType) => (check('s3:PutObject', `arn:aws:s3:::${bucket}/${key}`), s3.putObject(bucket, key, body, contentType)),
    listObjects: (bucket, prefix) => (check('s3:ListBucket', `arn:aws:s3:::${bucket}`), s3.listObjects(bucket, prefix)),
  };
  return wrapped as T;
}

/** What Distributed Map uses of S3 (local/engine/distributed.ts `S3Access`). */
interface InProcessS3 {
  getObject(bucket: string, key: string): unknown;
  putObject(bucket: string, key: string, body: Buffer, contentType?: string): unknown;
  listObjects(bucket: string, prefix?: string): unknown;
}

// The project's one escaper (escape-html); its `&#39;` is valid XML, and the SDKs decode it.
const xml = escapeHtml;
