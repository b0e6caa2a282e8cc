/**
 * Starts the embedded runtime in-process on a free port with its own state directory, over the cdk.out that
 * `npm test` synthesizes first (OPSFLOW_CDK_OUT overrides it), and hands out real SDK clients pointed at it.
 */
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutboxEntry } from '../../local/kernel';
import { Runtime, type RuntimeOptions } from '../../local/runtime';

/** The runtime's default credentials (OPSFLOW_CREDENTIALS unset): the endpoint verifies every signature with them. */
export const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface Harness {
  rt: Runtime;
  endpoint: string;
  sfn: SFNClient;
  ec2: EC2Client;
  stateDir: string;
  /** ARN of a deployed state machine by name or workflow (`Approval` finds `Opsflow-Approval`). */
  arnOf(name: string): string;
  /** Starts an execution and returns its ARN. */
  start(stateMachine: string, input: unknown): Promise<string>;
  /** Resolves when the execution has ended; polls DescribeExecution like a client would. */
  finished(executionArn: string, timeoutMs?: number): Promise<DescribeExecutionCommandOutput>;
  outbox(): Promise<OutboxEntry[]>;
  /** Polls `probe` until it returns a value other than undefined; fails naming `what` after `timeoutMs`. */
  until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs?: number): Promise<T>;
  /** A filter that passes only outbox entries sent after this call: a test reads the mail its own runs sent. */
  unseenMail(): Promise<(e: OutboxEntry) => boolean>;
  /** The state name of each instance, by id (DescribeInstances). */
  instanceStates(ids: readonly string[]): Promise<Record<string, string>>;
  /** Waits until `count` outbox entries satisfy `filter`. */
  mail(filter: (e: OutboxEntry) => boolean, count?: number, timeoutMs?: number): Promise<OutboxEntry[]>;
  stop(): Promise<void>;
}

/** A runtime over `options.cdkOut` (default OPSFLOW_CDK_OUT or cdk.out) on a free port. */
/** Polls `probe` every 50 ms until it returns a value other than undefined; fails naming `what` after `timeoutMs`. */
export async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startRuntime(options: Omit<RuntimeOptions, 'port'> = {}): Promise<Harness> {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'opsflow-e2e-'));
  // Every rule of AWS's is on. SES's sandbox and sending rate are account settings: a new account is in the sandbox at
  // 1 email/s (the runtime's defaults, test/e2e/approval-ses.test.ts); these tests model an account out of the sandbox,
  // whose rate is set per account (14/s here). Its verified identity is the app's (config local.sesIdentities).
  const rules = { sesPerSecond: 14, sesSandbox: false, ...options.rules };
  // The harness's credentials, whatever OPSFLOW_CREDENTIALS says in the developer's shell.
  const rt = await Runtime.start({
    credentials: [credentials],
    ...options,
    cdkOut: options.cdkOut ?? process.env.OPSFLOW_CDK_OUT ?? 'cdk.out',
    port: 0,
    rules,
    stateDir,
  });
  const client = { endpoint: rt.endpoint, region: 'us-east-1', credentials };
  const sfn = new SFNClient(client);
  const ec2 = new EC2Client(client);
  const outbox = async () => (await (await fetch(`${rt.endpoint}/_opsflow/outbox`)).json()) as OutboxEntry[];
  const harness: Harness = {
    rt,
    endpoint: rt.endpoint,
    sfn,
    ec2,
    stateDir,
    arnOf(name) {
      const sm = rt.deployed.stateMachines.find((s) => s.name === name) ?? rt.deployed.stateMachines.find((s) => s.name.endsWith(`-${name}`));
      if (!sm) throw new Error(`no state machine ${name}; deployed: ${rt.deployed.stateMachines.map((s) => s.name).join(', ')}`);
      return sm.arn;
    },
    async start(stateMachine, input) {
      const out = await sfn.send(new StartExecutionCommand({ stateMachineArn: harness.arnOf(stateMachine), input: JSON.stringify(input) }));
      return out.executionArn!;
    },
    finished(executionArn, timeoutMs = 30_000) {
      return poll(`execution ${executionArn} to end`, timeoutMs, async () => {
        const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
        return d.status === 'RUNNING' ? undefined : d;
      });
    },
    until(what, probe, timeoutMs = 30_000) {
      return poll(what, timeoutMs, probe);
    },
    outbox,
    async unseenMail() {
      const seen = new Set((await outbox()).map((e) => e.id));
      return (e) => !seen.has(e.id);
    },
    async instanceStates(ids) {
      const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [...ids] }));
      return Object.fromEntries(out.Reservations!.flatMap((r) => r.Instances!).map((i) => [i.InstanceId!, i.State!.Name!]));
    },
    mail(filter, count = 1, timeoutMs = 15_000) {
      return poll(`${count} matching outbox entries`, timeoutMs, async () => {
        const hits = (await outbox()).filter(filter);
        return hits.length >= count ? hits : undefined;
      });
    },
    async stop() {
      sfn.destroy();
      ec2.destroy();
      await rt.stop();
      // A state directory the harness made is its own to remove; one the test gave is the test's.
      if (!options.stateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Every event of an execution's history, following nextToken. */
export async function fullHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

export interface RawSigning {
  method: string;
  /** Path and query, percent-encoded as they go on the wire. */
  path: string;
  /** SigV4 signing service (`states`, `ec2`, `s3`, ...). */
  service: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** @default the harness's credentials */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** @default now */
  date?: Date;
  /** @default 'us-east-1' */
  region?: string;
}

/**
 * The headers of a request signed as an AWS SDK signs it (the SDK's own signer), for tests that craft requests
 * the SDK clients would not send. S3 requests carry x-amz-content-sha256 (the body's hash unless `headers` says
 * otherwise), as the S3 clients send it.
 */
export async function signedHeaders(endpoint: string, req: RawSigning): Promise<Record<string, string>> {
  const url = new URL(endpoint);
  const [path, search = ''] = req.path.split('?');
  const query: Record<string, string | string[]> = {};
  for (const part of search.split('&').filter(Boolean)) {
    const [k, v = ''] = part.split('=').map(decodeURIComponent);
    query[k] = query[k] === undefined ? v : [...[query[k]].flat(), v];
  }
  const signer = new SignatureV4({
    service: req.service,
    region: req.region ?? 'us-east-1',
    credentials: req.credentials ?? credentials,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: req.service !== 's3',
    applyChecksum: req.service === 's3',
  });
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path,
      query,
      headers: { host: url.host, ...req.headers },
      body: req.body,
    } as HttpRequest,
    { signingDate: req.date ?? new Date() },
  );
  return signed.headers as Record<string, string>;
}
