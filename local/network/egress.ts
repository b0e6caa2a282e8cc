/**
 * The way out of the runtime's functions. Every call a function makes reaches the runtime (lambda-worker.ts): calls
 * to its AWS endpoint as they are, every other call at EGRESS_PATH with the URL it asked for. Here the network
 * model (model.ts) decides whether the call can leave the function's network and from which address, and the
 * internet's stand-in for the host (internet.ts) answers it. A call with no way out gets no answer, as a
 * connection attempt from a subnet with no route gets none on AWS: it waits until the function times out (or until
 * the client's own connect timeout, which fetch has). Every call to the internet is recorded, for the console, the
 * CLI (`opsflow network`) and tests (GET NETWORK_CALLS_PATH).
 */
import { AwsError, CALL_HEADER, REGION, type AwsRequest, type AwsResponse, type Clock, type ServiceHandler } from '../kernel';
import type { Internet, OutboundRequest } from './internet';
import type { Destination, NetworkModel } from './model';

/** Where a function's calls to other hosts arrive, and the headers that carry them (shared with lambda-worker.ts). */
export interface EgressWire {
  path: string;
  /** The URL the function asked for. */
  urlHeader: string;
  /** On the runtime's answer: the call failed as a lookup (`ENOTFOUND`) or a connection (`UND_ERR_CONNECT_TIMEOUT`) fails. */
  errorHeader: string;
  /** The client's own connect timeout, in ms, when it has one (fetch). */
  connectTimeoutHeader: string;
  /** undici's: "connectTimeout ... Default: 10e3 milliseconds" (https://undici.nodejs.org/#/docs/api/Client.md). */
  fetchConnectTimeoutMs: number;
}

export const EGRESS_WIRE: EgressWire = {
  path: '/_opsflow/egress',
  urlHeader: 'x-opsflow-egress-url',
  errorHeader: 'x-opsflow-egress-error',
  connectTimeoutHeader: 'x-opsflow-egress-connect-timeout',
  fetchConnectTimeoutMs: 10_000,
};

/** The recorded outbound calls, newest last. */
export const NETWORK_CALLS_PATH = '/_opsflow/network/calls';

/** One outbound call as the runtime recorded it. */
export interface OutboundCall {
  /** Virtual time, ISO 8601. */
  at: string;
  functionName: string;
  method: string;
  /** Query values are left out: they may carry secrets (tokens, signatures). */
  url: string;
  /** The public address it left from: an Elastic IP, or "a changing AWS address"; none when it did not leave. */
  sourceIp?: string;
  /** The NAT gateway or endpoint it went through. */
  via?: string;
  /** The HTTP status, or why there was none: `ENOTFOUND`, `timed out`. */
  status: number | string;
  /** Why a call that did not leave could not. */
  reason?: string;
}

/** Who made a call (CALL_HEADER), as the Lambda runner knows it. */
export interface CallCaller {
  functionName: string;
  sandbox: string;
  /** Virtual epoch ms at which the invocation in flight times out. */
  deadline?: number;
}

export interface EgressOptions {
  clock: Clock;
  internet: Internet;
  /** The deployed app's network; undefined until it is deployed. */
  network: () => NetworkModel | undefined;
  caller: (call: string) => CallCaller | undefined;
}

/** How many calls the record keeps. */
const KEPT = 1000;

/**
 * Signing names whose VPC endpoint service has another name
 * (https://docs.aws.amazon.com/vpc/latest/privatelink/aws-services-privatelink-support.html: SES is `email`).
 */
const ENDPOINT_SERVICE: Record<string, string> = { ses: 'email' };

export class Egress {
  private readonly calls: OutboundCall[] = [];

  constructor(private readonly options: EgressOptions) {}

  /** The recorded calls, oldest first. */
  list(): OutboundCall[] {
    return [...this.calls];
  }

  /** A function's call to a host that is not the runtime's AWS endpoint. */
  async handle(req: AwsRequest): Promise<AwsResponse> {
    const caller = this.callerOf(req);
    if (!caller) return plainError(403, `${EGRESS_WIRE.path} takes the calls of the runtime's functions only`);
    let url: URL;
    try {
      url = new URL(req.headers[EGRESS_WIRE.urlHeader] ?? '');
    } catch {
      return plainError(400, `${EGRESS_WIRE.urlHeader} must be an absolute URL`);
    }
    const record = (call: Omit<OutboundCall, 'at' | 'functionName' | 'method' | 'url'>) =>
      this.record({ functionName: caller.functionName, method: req.method, url: recordedUrl(url), ...call });
    const host = this.options.internet.find(url.hostname);
    // Names resolve from a private subnet too (the VPC's DNS resolver answers), so an unknown host fails as a lookup
    // wherever the function runs: https://docs.aws.amazon.com/vpc/latest/userguide/AmazonDNS-concepts.html
    if (!host) {
      record({ status: 'ENOTFOUND' });
      return { status: 502, headers: { [EGRESS_WIRE.errorHeader]: 'ENOTFOUND' }, body: '' };
    }
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const reach = this.reach(caller, { internet: { port } });
    if (!reach.ok) {
      record({ status: 'timed out', reason: reach.reason });
      const connectTimeout = Number(req.headers[EGRESS_WIRE.connectTimeoutHeader]);
      await this.noAnswer(req, caller, connectTimeout > 0 ? connectTimeout : undefined);
      return { status: 504, headers: { [EGRESS_WIRE.errorHeader]: 'UND_ERR_CONNECT_TIMEOUT' }, body: '' };
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (k !== CALL_HEADER && k !== 'host' && !k.startsWith('x-opsflow-egress-')) headers[k.toLowerCase()] = v;
    headers.host = url.host;
    const request: OutboundRequest = {
      method: req.method,
      url,
      headers,
      body: req.body,
      from: { functionName: caller.functionName, sourceIp: reach.sourceIp },
    };
    try {
      const response = await host.handle(request);
      record({ sourceIp: reach.sourceIp, via: reach.via, status: response.status });
      return { status: response.status, headers: response.headers, body: response.body };
    } catch (err) {
      // A stand-in that fails is a server error of that host, not of the runtime.
      record({ sourceIp: reach.sourceIp, via: reach.via, status: 502, reason: (err as Error).message });
      return { status: 502, headers: { 'content-type': 'text/plain' }, body: 'Bad Gateway' };
    }
  }

  /**
   * The runtime's AWS services, behind the network: a call of a function in a VPC that gives it no way to the
   * service's endpoint gets no answer.
   */
  wrap(handler: ServiceHandler): ServiceHandler {
    return {
      services: handler.services,
      handle: async (req) => {
        const caller = this.callerOf(req);
        if (!caller || !this.options.network()?.placement(caller.functionName)) return handler.handle(req);
        const service = ENDPOINT_SERVICE[req.service] ?? req.service;
        const reach = this.reach(caller, { aws: { service } });
        if (reach.ok) return handler.handle(req);
        this.record({
          functionName: caller.functionName,
          method: req.method,
          url: `https://${service}.${REGION}.amazonaws.com${req.path}${req.target ? ` (${req.target})` : ''}`,
          status: 'timed out',
          reason: reach.reason,
        });
        await this.noAnswer(req, caller);
        throw new AwsError('RequestTimeout', `no route from ${caller.functionName} to ${service}`, 504);
      },
    };
  }

  private callerOf(req: AwsRequest): CallCaller | undefined {
    const call = req.headers[CALL_HEADER];
    return call ? this.options.caller(call) : undefined;
  }

  private reach(caller: CallCaller, destination: Destination) {
    const network = this.options.network();
    return network ? network.reach(caller.functionName, caller.sandbox, destination) : ({ ok: true, sourceIp: '', via: '' } as const);
  }

  /**
   * Waits, holding no clock, as a connection attempt that gets no answer does: until the client gives up
   * (`connectTimeoutMs`) or the invocation times out (its environment is then recycled, and nobody reads the answer).
   */
  private async noAnswer(req: AwsRequest, caller: CallCaller, connectTimeoutMs?: number): Promise<void> {
    const { clock } = this.options;
    const limits = [
      connectTimeoutMs === undefined ? undefined : clock.nowMs() + connectTimeoutMs,
      caller.deadline === undefined ? undefined : caller.deadline + 1,
    ];
    const until = Math.min(...limits.filter((l): l is number => l !== undefined));
    await clock.waitFor(req, new Promise<void>((done) => (Number.isFinite(until) ? clock.at(until, done) : undefined)));
  }

  private record(call: Omit<OutboundCall, 'at'>): void {
    this.calls.push({ at: new Date(this.options.clock.nowMs()).toISOString(), ...call });
    if (this.calls.length > KEPT) this.calls.splice(0, this.calls.length - KEPT);
  }
}

/** The URL with its query values left out (`?token=…`): they may be secrets. */
function recordedUrl(url: URL): string {
  const names = [...new Set(url.searchParams.keys())];
  return `${url.origin}${url.pathname}${names.length ? `?${names.map((n) => `${encodeURIComponent(n)}=…`).join('&')}` : ''}`;
}

function plainError(status: number, message: string): AwsResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message }) };
}
