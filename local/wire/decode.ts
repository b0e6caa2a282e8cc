/**
 * Reads a signed AWS API request into its action and parameters, whatever its protocol, so the rules (IAM,
 * quotas, rates) can look at it before the service handles it. Its errors, in the same protocols: ./errors.ts.
 */
import { AwsError, type AwsRequest, type Partition } from '../kernel';

export type Protocol = 'json' | 'ec2' | 'query' | 'rest-json' | 'rest-xml' | 'sqs-json' | 'sqs-query';

export interface DecodedRequest {
  /** IAM service prefix: `ec2`, `states`, `dynamodb`, `ses`, `sns`, `events`, `cloudtrail`, `rds`, ... */
  service: string;
  /** Operation name as in the API reference, e.g. `StopInstances`. */
  operation: string;
  protocol: Protocol;
  /** JSON body for JSON protocols; `Record<string,string>` of form fields for query protocols. */
  params: Record<string, any>;
  /** Form fields in order, for list parameters (`InstanceId.1`, ...). */
  form?: URLSearchParams;
  /** The account and region the call acts in (local/org/partitions.ts); undefined: the hub. */
  partition?: Partition;
}

/** Signing service → IAM prefix and protocol. */
const SERVICES: Record<string, { prefix: string; protocol: Protocol }> = {
  ec2: { prefix: 'ec2', protocol: 'ec2' },
  sns: { prefix: 'sns', protocol: 'query' },
  ses: { prefix: 'ses', protocol: 'rest-json' },
  states: { prefix: 'states', protocol: 'json' },
  dynamodb: { prefix: 'dynamodb', protocol: 'json' },
  events: { prefix: 'events', protocol: 'json' },
  cloudtrail: { prefix: 'cloudtrail', protocol: 'json' },
  s3: { prefix: 's3', protocol: 'rest-xml' },
  // SQS speaks AWS JSON 1.0 (X-Amz-Target) and the query protocol (form), told apart per request (decodeSqs).
  sqs: { prefix: 'sqs', protocol: 'sqs-json' },
  lambda: { prefix: 'lambda', protocol: 'rest-json' },
  secretsmanager: { prefix: 'secretsmanager', protocol: 'json' },
  rds: { prefix: 'rds', protocol: 'query' },
  autoscaling: { prefix: 'autoscaling', protocol: 'query' },
  ecs: { prefix: 'ecs', protocol: 'json' },
  sts: { prefix: 'sts', protocol: 'query' },
  organizations: { prefix: 'organizations', protocol: 'json' },
};

/**
 * Lambda REST routes the runtime serves → operation; the path label is `FunctionName`. Invoke's body is the
 * function's payload, not parameters (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html).
 */
const LAMBDA_ROUTES: Array<[string, RegExp, string]> = [
  ['POST', /^\/2015-03-31\/functions\/?$/, 'CreateFunction'],
  ['GET', /^\/2015-03-31\/functions\/?$/, 'ListFunctions'],
  ['GET', /^\/2015-03-31\/functions\/([^/]+)\/?$/, 'GetFunction'],
  ['DELETE', /^\/2015-03-31\/functions\/([^/]+)\/?$/, 'DeleteFunction'],
  ['POST', /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/, 'Invoke'],
];

/** SES v2 REST routes the runtime emulates → operation; a path label is the `EmailIdentity` parameter. */
const SES_ROUTES: Array<[string, RegExp, string]> = [
  ['POST', /^\/v2\/email\/outbound-emails$/, 'SendEmail'],
  ['POST', /^\/v2\/email\/identities$/, 'CreateEmailIdentity'],
  ['GET', /^\/v2\/email\/identities$/, 'ListEmailIdentities'],
  ['POST', /^\/v2\/email\/list-identities$/, 'ListEmailIdentities'],
  ['GET', /^\/v2\/email\/identities\/([^/]+)$/, 'GetEmailIdentity'],
  ['DELETE', /^\/v2\/email\/identities\/([^/]+)$/, 'DeleteEmailIdentity'],
  ['GET', /^\/v2\/email\/account$/, 'GetAccount'],
];

/** The decoded request, or undefined when it is not one the rules can read (the service then answers it). */
export function decode(req: AwsRequest): DecodedRequest | undefined {
  const svc = SERVICES[req.service];
  if (!svc) return undefined;
  if (req.service === 'sqs') return decodeSqs(req);
  const base = { service: svc.prefix, protocol: svc.protocol, ...(req.partition && { partition: req.partition }) };
  if (svc.protocol === 'ec2' || svc.protocol === 'query') {
    const form = new URLSearchParams(req.body.length ? req.body.toString('utf8') : req.query.toString());
    const operation = form.get('Action');
    return operation ? { ...base, operation, params: Object.fromEntries(form), form } : undefined;
  }
  if (svc.protocol === 'rest-xml') return decodeS3(req);
  if (svc.protocol === 'rest-json') {
    const lambda = req.service === 'lambda';
    const route = (lambda ? LAMBDA_ROUTES : SES_ROUTES).find(([method, path]) => method === req.method && path.test(req.path));
    if (!route) return undefined;
    const label = route[1].exec(req.path)?.[1];
    let params = route[2] === 'Invoke' ? {} : (parseJson(req.body) ?? {});
    if (label !== undefined) {
      try {
        params = { ...params, [lambda ? 'FunctionName' : 'EmailIdentity']: decodeURIComponent(label) };
      } catch {
        return undefined;
      }
    }
    return { ...base, operation: route[2], params };
  }
  const operation = req.target?.split('.').pop();
  if (!operation) return undefined;
  const params = parseJson(req.body);
  return params === undefined ? undefined : { ...base, operation, params };
}

/**
 * S3 path-style REST (`/<bucket>/<key>`): the operation is the one request validation found in S3's model
 * (`req.operation`, local/validate/); params carry Bucket, Key and the listing's prefix.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
 */
function decodeS3(req: AwsRequest): DecodedRequest | undefined {
  if (!req.operation) return undefined;
  const [, bucket = '', ...rest] = req.path.split('/');
  let key: string;
  try {
    key = decodeURIComponent(rest.join('/'));
  } catch {
    return undefined;
  }
  return { service: 's3', protocol: 'rest-xml', operation: req.operation, params: { Bucket: bucket, Key: key, Prefix: req.query.get('prefix') ?? undefined } };
}

/**
 * SQS in either protocol: JSON with `X-Amz-Target: AmazonSQS.<Op>`, or a form with `Action`, whose queue may be
 * the request's path instead of a `QueueUrl` field (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-making-api-requests-json.html).
 */
function decodeSqs(req: AwsRequest): DecodedRequest | undefined {
  if (req.target) {
    const params = parseJson(req.body);
    const operation = req.target.startsWith('AmazonSQS.') ? req.target.slice('AmazonSQS.'.length) : undefined;
    return params && operation ? { service: 'sqs', protocol: 'sqs-json', operation, params } : undefined;
  }
  const form = new URLSearchParams(req.body.length ? req.body.toString('utf8') : req.query.toString());
  const operation = form.get('Action');
  if (!operation) return undefined;
  const params: Record<string, any> = Object.fromEntries(form);
  if (params.QueueUrl === undefined && /^\/\d{12}\/[^/]+\/?$/.test(req.path)) params.QueueUrl = `http://local${req.path}`;
  return { service: 'sqs', protocol: 'sqs-query', operation, params, form };
}

function parseJson(body: Buffer): Record<string, any> | undefined {
  try {
    const value = JSON.parse(body.length ? body.toString('utf8') : '{}');
    return value && typeof value === 'object' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** `Name.1`, `Name.2`, ... of a query-protocol request. */
export function formList(form: URLSearchParams | undefined, name: string): string[] {
  if (!form) return [];
  const out: Array<[number, string]> = [];
  for (const [k, v] of form) {
    const m = new RegExp(`^${name.replace(/\./g, '\\.')}\\.(\\d+)$`).exec(k);
    if (m) out.push([Number(m[1]), v]);
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/**
 * An AWS JSON protocol request as its service reads it: the operation named by `X-Amz-Target` after the service's
 * prefix ('' for another prefix or none) and the body's object; a body that is not JSON is the protocol's
 * SerializationException.
 */
export function jsonRequest(req: AwsRequest, targetPrefix: string): { op: string; input: Record<string, unknown> } {
  const op = req.target?.startsWith(targetPrefix) ? req.target.slice(targetPrefix.length) : '';
  try {
    return { op, input: JSON.parse(req.body.toString('utf8') || '{}') ?? {} };
  } catch {
    throw new AwsError('SerializationException', 'Request body is not valid JSON');
  }
}
