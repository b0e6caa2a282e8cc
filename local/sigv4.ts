/**
 * Reads the AWS Signature Version 4 parts of a request: from the `Authorization` header, or from the
 * `X-Amz-*` query parameters of a presigned URL. It parses; it does not verify the signature (the local
 * runtime accepts any credentials). Callers use it to route by signing service, to identify the caller by
 * access key id, and to refuse requests that are unsigned or whose signature is incomplete.
 *
 * Format: https://docs.aws.amazon.com/IAM/latest/UserGuide/aws-signing-authentication-methods.html
 *   Authorization: AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request,
 *                  SignedHeaders=host;x-amz-date, Signature=<64 hex>
 *   presigned:     ?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...&X-Amz-Date=...&X-Amz-SignedHeaders=...&X-Amz-Signature=...
 */
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
  /** Hex signature (not verified). */
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
  return value.split(';').map((h) => h.trim().toLowerCase()).filter(Boolean);
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
  const query = typeof request.query === 'string' ? new URLSearchParams(request.query) : request.query ?? new URLSearchParams();
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
