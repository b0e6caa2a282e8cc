/**
 * Authenticates a signed request as AWS does before any service sees it: the credential scope names this
 * endpoint's region and a date that is X-Amz-Date's, the access key is one the runtime knows (with its session
 * token, for temporary credentials), the request is within its time window, and its SigV4 signature verifies
 * with that key's secret, in the header or in a presigned query string. A refusal is the service's own error,
 * in its protocol. How a signature is computed: local/sigv4.ts; whose keys: local/credentials.ts.
 *
 * Why it matters locally: the runtime listens on the developer's machine while they browse, and a web page can
 * make the browser send any GET, or a form POST, to 127.0.0.1. Without verification, a presigned-looking query
 * string (a credential and any signature) would stop instances, send email or subscribe addresses. And since the
 * default credentials (`test`/`test`) are public, a page could also sign a request that verifies: so an AWS API
 * request a browser sent for another page (its Origin, or Sec-Fetch-Site same-site/cross-site) is refused too,
 * which AWS does not do (AWS answers browsers through CORS); SDKs and the AWS CLI send neither header.
 */
import escapeHtml from 'escape-html';
import { randomUUID } from 'node:crypto';
import type { Credentials } from './credentials';
import { AwsError, REGION, type AwsRequest, type AwsResponse } from './kernel';
import {
  EMPTY_SHA256,
  expectedSignature,
  parseAmzDate,
  sameSignature,
  sha256Hex,
  UNSIGNED_PAYLOAD,
  verifyChunks,
  type Computed,
  type ReceivedRequest,
  type SigV4,
} from './sigv4';

export interface AuthContext {
  /** `host:port` values of the runtime's own address (lower case), empty until it listens: the Host header must be one, and its own pages' origins are `http://` those. */
  allowedHosts(): string[];
  /** The credentials of an access key id; undefined: unknown to the runtime. */
  credentials(accessKeyId: string): Credentials | undefined;
  /**
   * The clocks a signature date may come from: the real one (SDKs, the AWS CLI) and the runtime's virtual one,
   * which local Lambdas sign with. `scale` is how many of its milliseconds pass per real one.
   */
  clocks(): Array<{ now: number; scale: number }>;
  /** The regions a credential scope may name: the hub's, and a simulated organization's (local/org/). @default [REGION] */
  regions?(): readonly string[];
}

/** "The request must reach AWS within five minutes of the time stamp" (15 minutes for most services, which is what they answer). https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html */
export const SIGNATURE_WINDOW_MS = 15 * 60_000;

/** "The maximum expiration time for presigned url is one week from the time of creation" (604,800 s). https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html */
export const MAX_EXPIRES_SECONDS = 604_800;

/** The x-amz-content-sha256 values S3 accepts besides a hex SHA-256 (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html). */
const S3_PAYLOAD_MARKERS = new Set([
  UNSIGNED_PAYLOAD,
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
]);

/** Why a request is refused, before it is put in the service's words (`refusal`). */
type Reason =
  | { kind: 'incomplete'; detail: string }
  | { kind: 'signature'; computed: Computed; provided: string }
  | { kind: 'unknown-key' }
  | { kind: 'token' }
  | { kind: 'region'; region: string }
  | { kind: 'scope-date'; scopeDate: string; amzDate: string }
  | { kind: 'expires-too-long'; expires: string }
  | { kind: 'expired'; amzDate: string; expires: number; now: number }
  | { kind: 'skewed'; amzDate: string; now: number; future: boolean }
  | { kind: 'content-sha256'; declared: string; computed?: string }
  | { kind: 'chunks' }
  | { kind: 'browser'; from: string };

const amz = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

/** The request, checked; a refusal in the service's format, or undefined when it authenticates. */
export async function authenticate(req: AwsRequest, target: string, sig: SigV4, ctx: AuthContext): Promise<AwsResponse | undefined> {
  const reason = (await check({ method: req.method, target, headers: req.headers, body: req.body }, sig, ctx)) ?? browser(req.headers, ctx);
  return reason && refusal(sig, req.path, reason);
}

/**
 * A request a browser sent on behalf of another page: a foreign Origin (sent with every cross-origin POST and
 * CORS request), or Fetch Metadata's Sec-Fetch-Site `same-site`/`cross-site` (sent with every request to
 * 127.0.0.1 by current browsers, https://www.w3.org/TR/fetch-metadata/). A URL typed or pasted into the address
 * bar (`none`) and the runtime's own pages (`same-origin`) pass.
 */
function browser(headers: Record<string, string>, ctx: AuthContext): Reason | undefined {
  const own = ctx.allowedHosts().map((h) => `http://${h}`);
  const origin = headers.origin;
  if (origin !== undefined && !own.includes(origin.toLowerCase())) return { kind: 'browser', from: `a page of ${origin}` };
  const site = headers['sec-fetch-site'];
  if (site === 'same-site' || site === 'cross-site') return { kind: 'browser', from: `a ${site} page` };
  return undefined;
}

async function check(req: ReceivedRequest, sig: SigV4, ctx: AuthContext): Promise<Reason | undefined> {
  const s3 = sig.service === 's3';
  // "The host header must be included as a signed header" (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)
  if (!sig.signedHeaders.includes('host')) return { kind: 'incomplete', detail: `'Host' must be a 'SignedHeader' in the AWS Authorization.` };
  const signedAt = parseAmzDate(sig.requestDate);
  if (!signedAt) {
    return {
      kind: 'incomplete',
      detail:
        sig.location === 'header'
          ? "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
          : "Query-string authentication requires the 'X-Amz-Date' parameter.",
    };
  }
  const expiresText = sig.location === 'query' ? new URLSearchParams(req.target.split('?')[1] ?? '').get('X-Amz-Expires') : null;
  if (sig.location === 'query' && s3 && expiresText === null) {
    return {
      kind: 'incomplete',
      detail:
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    };
  }
  if (expiresText !== null && !(/^\d{1,10}$/.test(expiresText) && Number(expiresText) <= MAX_EXPIRES_SECONDS))
    return { kind: 'expires-too-long', expires: expiresText };
  if (!(ctx.regions?.() ?? [REGION]).includes(sig.region)) return { kind: 'region', region: sig.region };
  if (sig.date !== sig.requestDate!.slice(0, 8)) return { kind: 'scope-date', scopeDate: sig.date, amzDate: sig.requestDate! };

  const key = ctx.credentials(sig.accessKeyId);
  if (!key) return { kind: 'unknown-key' };
  // Temporary credentials are valid only with their session token; long-term keys take none.
  if ((sig.securityToken ?? '') !== (key.sessionToken ?? '')) return { kind: 'token' };

  const time = signedAt.getTime();
  const now = Date.now();
  if (expiresText !== null) {
    // A presigned URL is good from its date until date + X-Amz-Expires.
    const expires = Number(expiresText) * 1000;
    const fresh = ctx.clocks().some((c) => time - SIGNATURE_WINDOW_MS * Math.max(1, c.scale) <= c.now && c.now <= time + expires * Math.max(1, c.scale));
    if (!fresh) return { kind: 'expired', amzDate: sig.requestDate!, expires: Number(expiresText), now };
  } else {
    // The window is 15 real minutes: on a clock running N times faster, 15 × N of its minutes.
    const fresh = ctx.clocks().some((c) => Math.abs(c.now - time) <= SIGNATURE_WINDOW_MS * Math.max(1, c.scale));
    if (!fresh) return { kind: 'skewed', amzDate: sig.requestDate!, now, future: time > now };
  }

  const payload = payloadHash(req, sig);
  if (typeof payload !== 'string') return payload;
  const computed = await expectedSignature(req, sig, key.secretAccessKey, payload);
  if (!sameSignature(computed.signature, sig.signature)) return { kind: 'signature', computed, provided: sig.signature };
  // S3 checks the body against the hash that was signed, once it has read it.
  if (s3 && /^[0-9a-f]{64}$/.test(payload)) {
    const actual = sha256Hex(req.body);
    if (actual !== payload) return { kind: 'content-sha256', declared: payload, computed: actual };
  }
  if (s3 && payload.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')) {
    if (await verifyChunks(req.body, sig, key.secretAccessKey, payload.endsWith('-TRAILER'))) return { kind: 'chunks' };
  }
  return undefined;
}

/**
 * The payload hash of the canonical request. Every service but S3 hashes the body. S3 takes what
 * x-amz-content-sha256 declares ("required for all AWS Signature Version 4 requests"): a hex SHA-256 (checked
 * against the body), UNSIGNED-PAYLOAD, or a STREAMING-* marker for aws-chunked bodies; a presigned URL signs
 * UNSIGNED-PAYLOAD unless it says otherwise (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
 */
function payloadHash(req: ReceivedRequest, sig: SigV4): string | Reason {
  if (sig.service !== 's3') return req.body.length ? sha256Hex(req.body) : EMPTY_SHA256;
  const query = new URLSearchParams(req.target.split('?')[1] ?? '');
  const declared =
    sig.location === 'query'
      ? (query.get('X-Amz-Content-Sha256') ?? req.headers['x-amz-content-sha256'] ?? UNSIGNED_PAYLOAD)
      : req.headers['x-amz-content-sha256'];
  if (declared === undefined) return { kind: 'content-sha256', declared: '' };
  if (!/^[0-9a-f]{64}$/.test(declared) && !S3_PAYLOAD_MARKERS.has(declared)) return { kind: 'content-sha256', declared };
  return declared;
}

// ---- refusals, in each service's words ---------------------------------------------------------------------

type Protocol = 'json' | 'rest-json' | 'query' | 'ec2' | 's3';

/** How the service of this signing name answers errors: its AWS protocol. */
function protocolOf(service: string, path: string): Protocol {
  switch (service) {
    case 'ec2':
      return 'ec2';
    case 'sns':
    case 'rds':
    // Auto Scaling speaks the query protocol too (InvalidClientTokenId, 403, among its common errors:
    // https://docs.aws.amazon.com/autoscaling/ec2/APIReference/CommonErrors.html): a JSON error is "unexpected content" to its XML parser.
    case 'autoscaling':
    // STS: the query protocol (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html lists InvalidClientTokenId, 403).
    case 'sts':
      return 'query';
    case 'ses':
      // SES v2 is REST-JSON under /v2/; SES v1 is the Query protocol.
      return path.startsWith('/v2/') ? 'rest-json' : 'query';
    case 's3':
      return 's3';
    case 'scheduler':
      return 'rest-json';
    default:
      // Step Functions, DynamoDB, EventBridge, CloudTrail (and services the runtime does not emulate) speak JSON 1.0/1.1.
      return 'json';
  }
}

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
const INVALID_TOKEN = 'The security token included in the request is invalid.';

/**
 * The message AWS's front door gives each reason (Step Functions, DynamoDB, SNS, SES and the other services
 * behind it; S3 and EC2 answer in their own words, below). Wording from AWS-recorded responses, e.g. DynamoDB
 * `InvalidSignatureException: Credential should be scoped to a valid region, not 'eu-east-2'.`, and the
 * troubleshooting page https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html.
 */
function frontDoorMessage(reason: Reason): string {
  switch (reason.kind) {
    case 'incomplete':
      return `The request signature does not conform to AWS standards. ${reason.detail}`;
    case 'signature':
    case 'chunks':
    case 'content-sha256':
      return SIGNATURE_MISMATCH;
    case 'unknown-key':
    case 'token':
      return INVALID_TOKEN;
    case 'region':
      return `Credential should be scoped to a valid region, not '${reason.region}'. `;
    case 'scope-date':
      return `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${reason.scopeDate}' != '${reason.amzDate.slice(0, 8)}', from '${reason.amzDate}'.`;
    case 'expires-too-long':
      return `X-Amz-Expires must be less than a week (in seconds) that is ${MAX_EXPIRES_SECONDS}, got '${reason.expires}'.`;
    case 'expired':
      return `Signature expired: ${reason.amzDate} is now earlier than ${amz(reason.now - reason.expires * 1000)} (${amz(reason.now)} - ${reason.expires} sec.)`;
    case 'browser':
      return `opsflow refuses AWS API requests a web browser sends for ${reason.from}: the runtime's default credentials are public, so any page could sign one. SDKs and the AWS CLI are not browsers and are not refused.`;
    case 'skewed':
      return reason.future
        ? `Signature not yet current: ${reason.amzDate} is still later than ${amz(reason.now + SIGNATURE_WINDOW_MS)} (${amz(reason.now)} + 15 min.)`
        : `Signature expired: ${reason.amzDate} is now earlier than ${amz(reason.now - SIGNATURE_WINDOW_MS)} (${amz(reason.now)} - 15 min.)`;
  }
}

function refusal(sig: SigV4, path: string, reason: Reason): AwsResponse {
  const protocol = protocolOf(sig.service, path);
  if (protocol === 's3') return s3Refusal(sig, reason);
  const message = frontDoorMessage(reason);
  const requestId = randomUUID();
  const esc = escapeHtml;
  switch (protocol) {
    case 'ec2': {
      // EC2 answers every credential problem with AuthFailure (401) and a stale request with RequestExpired
      // (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html; AWS-recorded:
      // `<Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message>`).
      const [code, status, text] =
        reason.kind === 'incomplete'
          ? ['IncompleteSignature', 400, message]
          : reason.kind === 'browser'
            ? ['ForeignOrigin', 403, message]
            : reason.kind === 'expired' || reason.kind === 'skewed'
              ? ['RequestExpired', 400, 'Request has expired.']
              : ['AuthFailure', 401, 'AWS was not able to validate the provided access credentials'];
      return {
        status,
        headers: { 'content-type': 'text/xml;charset=UTF-8' },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${esc(text)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
      };
    }
    case 'query': {
      // SNS, RDS, Auto Scaling and SES v1: SignatureDoesNotMatch and InvalidClientTokenId, 403, in the Query protocol's ErrorResponse
      // (https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html, https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html;
      // AWS-recorded SES responses carry
      // `InvalidClientTokenId` / "The security token included in the request is invalid.", 403, Type Sender).
      const code =
        reason.kind === 'incomplete'
          ? 'IncompleteSignature'
          : reason.kind === 'browser'
            ? 'ForeignOrigin'
            : reason.kind === 'unknown-key' || reason.kind === 'token'
              ? 'InvalidClientTokenId'
              : 'SignatureDoesNotMatch';
      const xmlns =
        {
          ses: 'http://ses.amazonaws.com/doc/2010-12-01/',
          rds: 'http://rds.amazonaws.com/doc/2014-10-31/',
          autoscaling: 'http://autoscaling.amazonaws.com/doc/2011-01-01/',
          sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
        }[sig.service] ?? 'http://sns.amazonaws.com/doc/2010-03-31/';
      return {
        status: reason.kind === 'incomplete' ? 400 : 403,
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
        body: `<ErrorResponse xmlns="${xmlns}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${esc(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      };
    }
    default: {
      // JSON services: InvalidSignatureException and UnrecognizedClientException, 400 (AWS-recorded DynamoDB and
      // Cognito responses); REST-JSON services the same names with 403, the status Smithy's aws.auth#sigv4 trait
      // gives InvalidSignatureException.
      const code =
        reason.kind === 'incomplete'
          ? 'IncompleteSignature'
          : reason.kind === 'browser'
            ? 'ForeignOrigin'
            : reason.kind === 'unknown-key' || reason.kind === 'token'
              ? 'UnrecognizedClientException'
              : 'InvalidSignatureException';
      const status = reason.kind === 'incomplete' ? 400 : reason.kind === 'browser' || protocol === 'rest-json' ? 403 : 400;
      const body = protocol === 'rest-json' ? { message } : { __type: code, message };
      return {
        status,
        headers: {
          'content-type': protocol === 'rest-json' ? 'application/json' : 'application/x-amz-json-1.0',
          'x-amzn-errortype': code,
          'x-amzn-requestid': requestId,
        },
        body: JSON.stringify(body),
      };
    }
  }
}

/**
 * S3's own errors and wording (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html), with the
 * fields it adds (AWS-recorded in LocalStack's S3 snapshot tests): SignatureDoesNotMatch 403 with the canonical
 * request and string to sign it computed, InvalidAccessKeyId 403, AuthorizationHeaderMalformed /
 * AuthorizationQueryParametersError 400 for a scope naming another region or date, AccessDenied 403 "Request
 * has expired" for a presigned URL past X-Amz-Expires, RequestTimeTooSkewed 403 for a stale header signature.
 */
function s3Refusal(sig: SigV4, reason: Reason): AwsResponse {
  const header = sig.location === 'header';
  const malformed = header ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError';
  const prefix = header ? 'The authorization header is malformed; ' : 'Error parsing the X-Amz-Credential parameter; ';
  const bytes = (text: string) =>
    Buffer.from(text)
      .toString('hex')
      .replace(/(..)(?!$)/g, '$1 ');
  let error: AwsError;
  let fields: Record<string, string | number> = {};
  switch (reason.kind) {
    case 'incomplete':
      error = new AwsError(
        header ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError',
        header ? `The authorization header is malformed; ${reason.detail}` : reason.detail,
        400,
      );
      break;
    case 'signature':
      error = new AwsError(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        403,
      );
      fields = {
        AWSAccessKeyId: sig.accessKeyId,
        StringToSign: reason.computed.stringToSign,
        SignatureProvided: reason.provided,
        StringToSignBytes: bytes(reason.computed.stringToSign),
        CanonicalRequest: reason.computed.canonicalRequest,
        CanonicalRequestBytes: bytes(reason.computed.canonicalRequest),
      };
      break;
    case 'chunks':
      error = new AwsError(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        403,
      );
      fields = { AWSAccessKeyId: sig.accessKeyId };
      break;
    case 'unknown-key':
      error = new AwsError('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 403);
      fields = { AWSAccessKeyId: sig.accessKeyId };
      break;
    case 'token':
      error = new AwsError('InvalidToken', 'The provided token is malformed or otherwise invalid.', 400);
      break;
    case 'region':
      error = new AwsError(malformed, `${prefix}the region '${reason.region}' is wrong; expecting '${REGION}'`, 400);
      fields = { Region: REGION };
      break;
    case 'scope-date':
      error = new AwsError(malformed, `${header ? prefix : ''}Invalid credential date. Date is not the same as X-Amz-Date.`, 400);
      break;
    case 'expires-too-long':
      error = new AwsError(
        'AuthorizationQueryParametersError',
        'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds',
        400,
      );
      break;
    case 'expired':
      error = new AwsError('AccessDenied', 'Request has expired', 403);
      fields = {
        'X-Amz-Expires': reason.expires,
        Expires: new Date(parseAmzDate(reason.amzDate)!.getTime() + reason.expires * 1000).toISOString().replace(/\.\d{3}/, ''),
        ServerTime: new Date(reason.now).toISOString().replace(/\.\d{3}/, ''),
      };
      break;
    case 'browser':
      error = new AwsError('ForeignOrigin', frontDoorMessage(reason), 403);
      break;
    case 'skewed':
      error = new AwsError('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', 403);
      fields = {
        RequestTime: reason.amzDate,
        ServerTime: new Date(reason.now).toISOString().replace(/\.\d{3}/, ''),
        MaxAllowedSkewMilliseconds: SIGNATURE_WINDOW_MS,
      };
      break;
    case 'content-sha256':
      if (reason.declared === '') error = new AwsError('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256', 400);
      else if (reason.computed === undefined) {
        error = new AwsError(
          'InvalidArgument',
          'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
          400,
        );
        fields = { ArgumentName: 'x-amz-content-sha256', ArgumentValue: reason.declared };
      } else {
        error = new AwsError('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", 400);
        fields = { ClientComputedContentSHA256: reason.declared, S3ComputedContentSHA256: reason.computed };
      }
      break;
  }
  const requestId = randomUUID();
  const extra = Object.entries(fields)
    .map(([k, v]) => `<${k}>${escapeHtml(String(v))}</${k}>`)
    .join('');
  return {
    status: error.status,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${escapeHtml(error.message)}</Message>${extra}<RequestId>${requestId}</RequestId></Error>`,
  };
}
