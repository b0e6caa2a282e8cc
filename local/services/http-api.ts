/**
 * API Gateway HTTP APIs (v2) with Lambda proxy integrations, payload format 2.0: routes with path
 * parameters, the event API Gateway builds, the response mapping rules, the errors it answers with and
 * stage throttling. Every API of the app is served from the one local port, so their routes are merged
 * and two APIs claiming the same route is an error.
 */
import { randomBytes } from 'node:crypto';
import { ACCOUNT, type AwsRequest, type AwsResponse, type Clock } from '../kernel';

export interface HttpRoute {
  apiId: string;
  /** `METHOD /path` with `{name}` and a final greedy `{name+}`, `ANY /path`, or `$default`. */
  routeKey: string;
  /** The Lambda function ARN, or the API Gateway invocation URI that wraps it. */
  integrationArn: string;
  payloadFormatVersion: '2.0';
}

export interface HttpStage {
  apiId: string;
  /** `$default` serves at the root; any other stage under `/<name>`. */
  name: string;
  /** The stage's default route throttling (each route has its own bucket), in requests per (virtual) second. */
  throttle?: { burstLimit: number; rateLimit: number };
}

export interface HttpApiRouterOptions {
  invoke: (functionArn: string, event: object) => Promise<unknown>;
  clock: Clock;
}

type Segment = { kind: 'literal'; value: string } | { kind: 'param'; name: string } | { kind: 'greedy'; name: string };

interface CompiledRoute {
  route: HttpRoute;
  functionArn: string;
  /** Upper-case method, or ANY. */
  method: string;
  /** Undefined for `$default`. */
  segments?: Segment[];
  /** The route with parameter names erased: two routes with the same shape serve the same requests. */
  shape: string;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

interface Match {
  compiled: CompiledRoute;
  stage: HttpStage;
  pathParameters: Record<string, string>;
  /** Higher is more specific, compared element by element. */
  rank: number[];
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/** Bodies HTTP APIs pass as text; everything else (form posts included) arrives base64-encoded. */
const TEXT_TYPES = /^(text\/.*|application\/json|application\/xml|application\/javascript)$/;

export class HttpApiRouter {
  private readonly routes: CompiledRoute[] = [];
  private readonly stages: HttpStage[] = [];
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly options: HttpApiRouterOptions) {}

  addRoute(route: HttpRoute): void {
    if (route.payloadFormatVersion !== '2.0') {
      throw new Error(
        `Route '${route.routeKey}' of API ${route.apiId}: payload format ${String(route.payloadFormatVersion)} is not supported by the local runtime (use 2.0)`,
      );
    }
    const compiled = compileRoute(route);
    const clash = this.routes.find((r) => r.shape === compiled.shape);
    if (clash) {
      throw new Error(
        `Route '${route.routeKey}' of API ${route.apiId} conflicts with route '${clash.route.routeKey}' of API ${clash.route.apiId}: both would serve the same requests on the shared local port`,
      );
    }
    this.routes.push(compiled);
  }

  addStage(stage: HttpStage): void {
    if (this.stages.some((s) => s.apiId === stage.apiId && s.name === stage.name)) throw new Error(`API ${stage.apiId} already has a stage '${stage.name}'`);
    this.stages.push(stage);
  }

  /** The API Gateway response, or undefined when no route of a deployed stage matches. */
  async handle(req: AwsRequest): Promise<AwsResponse | undefined> {
    const match = this.match(req);
    if (!match) return undefined;
    const requestId = randomBytes(10).toString('base64');
    const headers = { ...JSON_HEADERS, 'apigw-requestid': requestId };
    if (!this.admit(match.stage, match.compiled.route.routeKey)) return { status: 429, headers, body: JSON.stringify({ message: 'Too Many Requests' }) };
    let result: unknown;
    try {
      result = await this.options.invoke(match.compiled.functionArn, this.event(req, match, requestId));
    } catch (err) {
      // An event over Lambda's 6 MB synchronous payload quota never reaches the function (a body of about 4.5 MB
      // does it once base64-encoded): 413. AWS's own API Gateway emulator answers an HTTP API (v2) so
      // (aws/aws-lambda-dotnet, Tools/LambdaTestTool-v2, LargePayloadTests: 413 "Request Entity Too Large");
      // https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html ("Invocation payload ... 6 MB").
      if ((err as { code?: string }).code === 'RequestTooLargeException') {
        return { status: 413, headers, body: JSON.stringify({ message: 'Request Entity Too Large' }) };
      }
      // API Gateway hides the function's error (and stack) from the client.
      return internalError(requestId);
    }
    return toResponse(result, requestId);
  }

  private match(req: AwsRequest): Match | undefined {
    let best: Match | undefined;
    for (const stage of this.stages) {
      const path = stagePath(stage, req.path);
      if (path === undefined) continue;
      const parts = pathParts(path);
      for (const compiled of this.routes) {
        if (compiled.route.apiId !== stage.apiId) continue;
        if (compiled.method !== 'ANY' && compiled.method !== req.method.toUpperCase()) continue;
        const pathParameters = compiled.segments ? matchSegments(compiled.segments, parts) : {};
        if (!pathParameters) continue;
        const rank = compiled.segments
          ? [1, ...compiled.segments.map((s) => (s.kind === 'literal' ? 3 : s.kind === 'param' ? 2 : 1)), compiled.method === 'ANY' ? 0 : 1]
          : [0];
        if (!best || compareRanks(rank, best.rank) > 0) best = { compiled, stage, pathParameters, rank };
      }
    }
    return best;
  }

  /**
   * Token bucket per route of a stage (the stage's default route throttling applies to each route on its own):
   * `burstLimit` tokens, refilled at `rateLimit` per second. "You can set route-level throttling to override the
   * account-level request throttling limits for a specific stage or for individual routes in your API."
   * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html
   */
  private admit(stage: HttpStage, routeKey: string): boolean {
    if (!stage.throttle) return true;
    const { burstLimit, rateLimit } = stage.throttle;
    const key = `${stage.apiId}/${stage.name}/${routeKey}`;
    const now = this.options.clock.nowMs();
    const bucket = this.buckets.get(key) ?? { tokens: burstLimit, updatedAt: now };
    bucket.tokens = Math.min(burstLimit, bucket.tokens + ((now - bucket.updatedAt) / 1000) * rateLimit);
    bucket.updatedAt = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private event(req: AwsRequest, match: Match, requestId: string): object {
    const now = this.options.clock.nowMs();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) headers[name.toLowerCase()] = value;
    const cookies = headers.cookie
      ?.split(';')
      .map((c) => c.trim())
      .filter(Boolean);
    delete headers.cookie; // format 2.0 moves cookies to their own field
    const host = headers.host ?? '127.0.0.1';
    headers['x-forwarded-for'] = '127.0.0.1';
    headers['x-forwarded-proto'] = 'http';
    headers['x-forwarded-port'] = /:(\d+)$/.exec(host)?.[1] ?? '80';
    headers['x-amzn-trace-id'] = `Root=1-${Math.floor(now / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;

    const query: Record<string, string> = {};
    for (const key of new Set(req.query.keys())) query[key] = req.query.getAll(key).join(',');
    const contentType = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const isText = TEXT_TYPES.test(contentType);
    const hasBody = req.body.length > 0;
    const routeKey = match.compiled.route.routeKey;

    return {
      version: '2.0',
      routeKey,
      rawPath: req.path,
      rawQueryString: req.query.toString(),
      ...(cookies?.length ? { cookies } : {}),
      headers,
      ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
      requestContext: {
        accountId: ACCOUNT,
        apiId: match.stage.apiId,
        domainName: host,
        domainPrefix: host.split('.')[0],
        http: { method: req.method.toUpperCase(), path: req.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
        requestId,
        routeKey,
        stage: match.stage.name,
        time: accessLogTime(new Date(now)),
        timeEpoch: now,
      },
      ...(Object.keys(match.pathParameters).length ? { pathParameters: match.pathParameters } : {}),
      ...(hasBody ? { body: isText ? req.body.toString('utf8') : req.body.toString('base64') } : {}),
      isBase64Encoded: hasBody && !isText,
    };
  }
}

function compileRoute(route: HttpRoute): CompiledRoute {
  const functionArn = /functions\/(arn:[^/]+)\/invocations$/.exec(route.integrationArn)?.[1] ?? route.integrationArn;
  if (route.routeKey === '$default') return { route, functionArn, method: 'ANY', shape: '$default' };
  const match = /^([A-Z]+) (\/\S*)$/.exec(route.routeKey);
  if (!match) throw new Error(`Route key '${route.routeKey}' of API ${route.apiId} is not 'METHOD /path' or '$default'`);
  const [, method, path] = match;
  const segments = pathParts(path);
  const compiled = segments.map((part, i): Segment => {
    const param = /^\{([^{}+]+)(\+?)\}$/.exec(part);
    if (!param) return { kind: 'literal', value: part };
    if (param[2] && i !== segments.length - 1)
      throw new Error(`Route key '${route.routeKey}' of API ${route.apiId}: a greedy {${param[1]}+} must be the last segment`);
    return param[2] ? { kind: 'greedy', name: param[1] } : { kind: 'param', name: param[1] };
  });
  const shape = `${method} /${compiled.map((s) => (s.kind === 'literal' ? s.value : s.kind === 'param' ? '{}' : '{+}')).join('/')}`;
  return { route, functionArn, method, segments: compiled, shape };
}

/** The path parameters when the request path fits the route, else undefined. */
function matchSegments(segments: Segment[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment.kind === 'greedy') {
      // A greedy variable needs at least one segment: `/{proxy+}` does not match `/`.
      const rest = parts.slice(i);
      if (rest.length === 0 || rest.join('') === '') return undefined;
      params[segment.name] = decode(rest.join('/'));
      return params;
    }
    const part = parts[i];
    if (segment.kind === 'literal' && part !== segment.value) return undefined;
    if (segment.kind === 'param') {
      if (!part) return undefined;
      params[segment.name] = decode(part);
    }
  }
  return parts.length === segments.length ? params : undefined;
}

function pathParts(path: string): string[] {
  return path === '/' ? [] : path.split('/').slice(1);
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function compareRanks(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The request path inside the stage, or undefined when the request is not for this stage. */
function stagePath(stage: HttpStage, path: string): string | undefined {
  if (stage.name === '$default') return path;
  const prefix = `/${stage.name}`;
  if (path === prefix) return '/';
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : undefined;
}

/** Format 2.0 response rules: a `statusCode` means a structured response, anything else is a 200 JSON body. */
function toResponse(result: unknown, requestId: string): AwsResponse {
  if (!result || typeof result !== 'object' || !('statusCode' in result)) {
    return { status: 200, headers: { ...JSON_HEADERS, 'apigw-requestid': requestId }, body: typeof result === 'string' ? result : JSON.stringify(result) };
  }
  const { statusCode, headers = {}, body, isBase64Encoded, cookies } = result as Record<string, unknown>;
  const status = Number(statusCode);
  const validBody = body === undefined || body === null || typeof body === 'string';
  if (!Number.isInteger(status) || status < 100 || status > 599 || !validBody || typeof headers !== 'object' || headers === null) {
    // A malformed function response is an integration failure to API Gateway.
    return internalError(requestId);
  }
  const out: Record<string, string> = { 'apigw-requestid': requestId };
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = String(value);
  if (Array.isArray(cookies) && cookies.length > 0) {
    // Several Set-Cookie headers cannot be one comma-joined string; node:http writes an array as repeated headers.
    out['set-cookie'] = (cookies.length === 1 ? String(cookies[0]) : cookies.map(String)) as string;
  }
  const text = typeof body === 'string' ? body : '';
  return { status, headers: out, body: isBase64Encoded === true ? Buffer.from(text, 'base64') : text };
}

function internalError(requestId: string): AwsResponse {
  return { status: 500, headers: { ...JSON_HEADERS, 'apigw-requestid': requestId }, body: JSON.stringify({ message: 'Internal Server Error' }) };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000`, as requestContext.time spells it. */
function accessLogTime(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}
