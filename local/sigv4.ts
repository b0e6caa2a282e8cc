/**
 * AWS Signature Version 4: reads its parts from the `Authorization` header or from the `X-Amz-*` query
 * parameters of a presigned URL (`parseSigV4`), and recomputes the signature a request must carry
 * (`expectedSignature`, `verifyChunks`) so local/auth.ts can refuse what does not verify, as AWS does.
 *
 * Format: https://docs.aws.amazon.com/IAM/latest/UserGuide/aws-signing-authentication-methods.html
 *   Authorization: AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request,
 *                  SignedHeaders=host;x-amz-date, Signature=<64 hex>
 *   presigned:     ?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...&X-Amz-Date=...&X-Amz-SignedHeaders=...&X-Amz-Signature=...
 */
import { Hash } from '@smithy/core/serde';
import { ALGORITHM_IDENTIFIER, getCanonicalHeaders, SignatureV4, UNSIGNED_PAYLOAD } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AwsError } from './kernel';

export interface SigV4 {
  /** `AWS4-HMAC-SHA256` (the only algorithm accepted here; SigV4a has no region in its scope). */
  readonly algorithm: string;
  readonly accessKeyId: string;
  /** Credential-scope date, `YYYYMMDD`. */
  readonly date: string;
  readonly region: string;
  /** Signing service name (`states`, `ec2`, `dynamodb`, `ses`, `sns`, `events`, `cloudtrail`, ...). */
  readonly service: string;
  /** Lower-case header names, in the order signed. */
  readonly signedHeaders: string[];
  /** Hex signature, as sent. */
  readonly signature: string;
  /** Where the signature came from. */
  readonly location: 'header' | 'query';
  /** `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`) from the header or the query, when present. */
  readonly requestDate?: string;
  /** `X-Amz-Security-Token` (temporary credentials), when present. */
  readonly securityToken?: string;
  /** Presigned URLs only: `X-Amz-Expires`, seconds. */
  readonly expiresSeconds?: number;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

/**
 * AWS's answer to a malformed signature: `IncompleteSignature`, HTTP 400, "The request signature does not
 * conform to AWS standards." (https://docs.aws.amazon.com/cloudsearch/latest/developerguide/CommonErrors.html)
 */
export class IncompleteSignatureError extends AwsError {
  constructor(detail: string) {
    super('IncompleteSignature', `The request signature does not conform to AWS standards. ${detail}`, 400);
  }
}

/** Header names are matched case-insensitively; Node already lower-cases them, other callers may not. */
function header(headers: Record<string, string | undefined>, name: string): string | undefined {
  if (headers[name] !== undefined) return headers[name];
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** `<key>/<yyyymmdd>/<region>/<service>/aws4_request` → its parts, or an IncompleteSignature error. */
function parseCredential(credential: string | undefined, where: string) {
  if (!credential) throw new IncompleteSignatureError(`${where} requires a 'Credential' parameter.`);
  const parts = credential.split('/');
  const [accessKeyId, date, region, service, terminator] = parts;
  if (parts.length !== 5 || !accessKeyId || !/^\d{8}$/.test(date) || !region || !service || terminator !== 'aws4_request') {
    throw new IncompleteSignatureError(
      `Credential should be scoped to a valid region, service and date: '<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request', got '${credential}'.`,
    );
  }
  return { accessKeyId, date, region, service };
}

function parseSignedHeaders(value: string | undefined, where: string): string[] {
  if (!value) throw new IncompleteSignatureError(`${where} requires a 'SignedHeaders' parameter.`);
  return value
    .split(';')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
}

function parseSignature(value: string | undefined, where: string): string {
  if (!value) throw new IncompleteSignatureError(`${where} requires a 'Signature' parameter.`);
  return value;
}

/**
 * The request's SigV4 signature, `undefined` when the request carries none (neither an `Authorization`
 * header nor `X-Amz-Signature`/`X-Amz-Credential` in the query). Throws `IncompleteSignatureError` when a
 * signature is present but lacks a part or has a malformed credential scope.
 */
export function parseSigV4(request: { headers: Record<string, string | undefined>; query?: URLSearchParams | string }): SigV4 | undefined {
  const auth = header(request.headers, 'authorization');
  const query = typeof request.query === 'string' ? new URLSearchParams(request.query) : (request.query ?? new URLSearchParams());
  const requestDate = header(request.headers, 'x-amz-date') ?? query.get('X-Amz-Date') ?? undefined;
  const securityToken = header(request.headers, 'x-amz-security-token') ?? query.get('X-Amz-Security-Token') ?? undefined;

  if (auth !== undefined && auth.trim() !== '') {
    const where = 'Authorization header';
    const space = auth.trim().indexOf(' ');
    const algorithm = space < 0 ? auth.trim() : auth.trim().slice(0, space);
    // Other schemes (`Bearer`, `Basic`) are not AWS signatures: such a request is unsigned as far as AWS goes.
    if (!algorithm.startsWith('AWS4-')) return undefined;
    if (algorithm !== ALGORITHM) throw new IncompleteSignatureError(`Unsupported ${where} algorithm '${algorithm}': only ${ALGORITHM} is accepted.`);
    // "There is no comma between the algorithm and Credential, but the other elements must be separated by commas."
    const fields = new Map<string, string>();
    for (const part of (space < 0 ? '' : auth.trim().slice(space + 1)).split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    return {
      algorithm,
      ...parseCredential(fields.get('Credential'), where),
      signedHeaders: parseSignedHeaders(fields.get('SignedHeaders'), where),
      signature: parseSignature(fields.get('Signature'), where),
      location: 'header',
      requestDate,
      securityToken,
    };
  }

  if (query.has('X-Amz-Signature') || query.has('X-Amz-Credential') || query.has('X-Amz-Algorithm')) {
    const where = 'Presigned URL';
    const algorithm = query.get('X-Amz-Algorithm') ?? '';
    if (algorithm !== ALGORITHM) throw new IncompleteSignatureError(`${where} requires 'X-Amz-Algorithm=${ALGORITHM}', got '${algorithm}'.`);
    const expires = query.get('X-Amz-Expires');
    return {
      algorithm,
      ...parseCredential(query.get('X-Amz-Credential') ?? undefined, where),
      signedHeaders: parseSignedHeaders(query.get('X-Amz-SignedHeaders') ?? undefined, where),
      signature: parseSignature(query.get('X-Amz-Signature') ?? undefined, where),
      location: 'query',
      requestDate,
      securityToken,
      expiresSeconds: expires === null ? undefined : Number(expires),
    };
  }
  return undefined;
}

// ---- verification --------------------------------------------------------------------------------------------
// The signing math is the AWS SDK's own (@smithy/signature-v4: canonical query, header canonicalization, the
// double URI-encoding of paths for every service but S3, key derivation, HMAC chain); what is local is reading
// the request as it arrived on the wire. https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html

const SHA256 = Hash.bind(null, 'sha256');
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** A request as it arrived: the target exactly as sent (percent-encoded path and query), headers, body. */
export interface ReceivedRequest {
  method: string;
  target: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface Computed {
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
}

/** `YYYYMMDDTHHMMSSZ` → Date, undefined when malformed. */
export function parseAmzDate(value: string | undefined): Date | undefined {
  const m = value ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value) : null;
  if (!m) return undefined;
  const date = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A percent-decoded query component; `+` stays a plus (SigV4 encodes a space as %20, never as `+`). */
function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The query of a request target as name → value(s), decoded once, in the order sent. */
function queryOf(target: string): Record<string, string | string[]> {
  const at = target.indexOf('?');
  const query: Record<string, string | string[]> = Object.create(null);
  if (at < 0) return query;
  for (const part of target
    .slice(at + 1)
    .split('#')[0]
    .split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodeComponent(eq < 0 ? part : part.slice(0, eq));
    const value = decodeComponent(eq < 0 ? '' : part.slice(eq + 1));
    const prior = query[name];
    query[name] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value];
  }
  return query;
}

/** The path of a request target as sent (origin form, or absolute form without scheme and authority). */
function pathOf(target: string): string {
  const path = target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').split(/[?#]/)[0];
  return path.startsWith('/') ? path : `/${path}`;
}

/** The SDK's signer with its canonical request and string to sign in reach (protected members). */
class Verifier extends SignatureV4 {
  constructor(
    private readonly sig: SigV4,
    secretAccessKey: string,
    sessionToken?: string,
  ) {
    super({
      service: sig.service,
      region: sig.region,
      credentials: { accessKeyId: sig.accessKeyId, secretAccessKey, sessionToken },
      sha256: SHA256,
      // "Each path segment must be URI-encoded twice ... except for Amazon S3, which only gets URI-encoded once."
      uriEscapePath: sig.service !== 's3',
      applyChecksum: false,
    });
  }

  async compute(req: ReceivedRequest, payloadHash: string): Promise<Computed> {
    const signed = new Set(this.sig.signedHeaders);
    const headers: Record<string, string> = {};
    for (const name of signed) if (req.headers[name] !== undefined) headers[name] = req.headers[name];
    const request = { method: req.method, path: pathOf(req.target), query: queryOf(req.target), headers } as unknown as HttpRequest;
    const canonicalRequest = this.createCanonicalRequest(request, getCanonicalHeaders(request, undefined, signed), payloadHash);
    const longDate = this.sig.requestDate!;
    const scope = `${this.sig.date}/${this.sig.region}/${this.sig.service}/aws4_request`;
    const stringToSign = await this.createStringToSign(longDate, scope, canonicalRequest, ALGORITHM_IDENTIFIER);
    return { canonicalRequest, stringToSign, signature: await this.signLine(stringToSign) };
  }

  /** HMAC-SHA256 of a string to sign with the signing key of the request's scope. */
  signLine(stringToSign: string): Promise<string> {
    return this.sign(stringToSign, { signingDate: parseAmzDate(this.sig.requestDate)!, signingRegion: this.sig.region, signingService: this.sig.service });
  }
}

/** The signature the request must carry, for this secret; `payloadHash` as the service reads it (local/auth.ts). */
export function expectedSignature(req: ReceivedRequest, sig: SigV4, secretAccessKey: string, payloadHash: string): Promise<Computed> {
  return new Verifier(sig, secretAccessKey).compute(req, payloadHash);
}

/** Constant-time comparison of two signatures (no early exit that would tell how much of a guess was right). */
export function sameSignature(expected: string, provided: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(provided);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Why an aws-chunked body does not verify: framing S3 cannot read, or a chunk or trailer signature that is wrong. */
export type ChunkFailure = 'framing' | 'signature';

/**
 * Checks every chunk signature of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` body, each chained to the one
 * before it from the seed (the request's own signature), and the trailer's. String to sign of a chunk:
 * `AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<previous signature>\n<hash("")>\n<hash(chunk data)>`
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html); of the trailer:
 * `AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<final chunk's signature>\n<hash(trailing headers)>`, the headers
 * as `name:value\n` lines (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html).
 */
export async function verifyChunks(body: Buffer, sig: SigV4, secretAccessKey: string, trailer: boolean): Promise<ChunkFailure | undefined> {
  const signer = new Verifier(sig, secretAccessKey);
  const head = `${sig.requestDate}\n${sig.date}/${sig.region}/${sig.service}/aws4_request`;
  let previous = sig.signature;
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) return 'framing';
    const [sizeText, ...extensions] = body.subarray(at, eol).toString('latin1').split(';');
    const size = /^[0-9a-fA-F]+$/.test(sizeText) ? parseInt(sizeText, 16) : NaN;
    if (!Number.isInteger(size) || eol + 2 + size > body.length) return 'framing';
    const provided = extensions.find((e) => e.startsWith('chunk-signature='))?.slice('chunk-signature='.length) ?? '';
    const data = body.subarray(eol + 2, eol + 2 + size);
    const expected = await signer.signLine(`AWS4-HMAC-SHA256-PAYLOAD\n${head}\n${previous}\n${EMPTY_SHA256}\n${sha256Hex(data)}`);
    if (!sameSignature(expected, provided)) return 'signature';
    previous = expected;
    at = eol + 2 + size;
    if (size === 0) break;
    if (body.subarray(at, at + 2).toString('latin1') !== '\r\n') return 'framing';
    at += 2;
  }
  if (!trailer) return undefined;
  // After the final chunk: `name:value\r\n` lines, `x-amz-trailer-signature:<sig>\r\n`, then an empty line.
  const lines = body.subarray(at).toString('latin1').split('\r\n');
  const trailers = lines
    .filter((l) => l !== '' && !/^x-amz-trailer-signature:/i.test(l))
    .map((l) => `${l.slice(0, l.indexOf(':')).trim().toLowerCase()}:${l.slice(l.indexOf(':') + 1).trim()}\n`);
  const provided =
    lines
      .find((l) => /^x-amz-trailer-signature:/i.test(l))
      ?.slice('x-amz-trailer-signature:'.length)
      .trim() ?? '';
  const expected = await signer.signLine(`AWS4-HMAC-SHA256-TRAILER\n${head}\n${previous}\n${sha256Hex(trailers.join(''))}`);
  return sameSignature(expected, provided) ? undefined : 'signature';
}

export { UNSIGNED_PAYLOAD };
