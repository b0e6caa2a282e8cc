/**
 * The local network model (local/network/): a function's outbound calls leave through the runtime, which decides
 * from the deployed VPC whether they can leave and from which address, and answers them with the internet's
 * stand-in for the host. The Egress fixture app (test/fixtures/egress) runs one handler in several placements; a
 * tiny InternetHost here stands in for `hooks.example.test`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETWORK_CALLS_PATH, type OutboundCall } from '../../local/network/egress';
import type { OutboundRequest } from '../../local/network/internet';
import { CHANGING_AWS_ADDRESS } from '../../local/network/model';
import { synthEgress } from '../fixtures/egress/app';
import { startRuntime, type Harness } from './harness';

const HOST = 'hooks.example.test';

let dir: string;
let h: Harness;
const received: OutboundRequest[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsflow-egress-'));
  synthEgress(join(dir, 'cdk.out'));
  // Waits run at 1000 times real speed: a 5-second function timeout takes 5 ms.
  h = await startRuntime({ cdkOut: join(dir, 'cdk.out'), stateDir: join(dir, 'state'), timeScale: 1000 });
  h.rt.internet.add({
    serves: (host) => host === HOST,
    handle: async (request) => {
      received.push(request);
      return { status: 201, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from: request.from.sourceIp }) };
    },
  });
});
afterAll(async () => {
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const fn = (part: string) => h.rt.deployed.functions.find((f) => f.includes(part))!;
const calls = async () => ((await (await fetch(`${h.endpoint}${NETWORK_CALLS_PATH}`)).json()) as { calls: OutboundCall[] }).calls;

describe('outbound calls of a function outside a VPC', () => {
  it('reach the host from a changing AWS address, with fetch and with node:https, and are recorded without query values', async () => {
    const before = received.length;
    const viaFetch = await h.rt.lambdas.invoke(fn('Outside'), { url: `https://${HOST}/hook?token=s3cret&x=1`, body: { n: 1 } });
    const viaHttps = await h.rt.lambdas.invoke(fn('Outside'), { url: `https://${HOST}/hook`, body: { n: 2 }, client: 'https' });
    const answer = { status: 201, body: JSON.stringify({ from: CHANGING_AWS_ADDRESS }) };
    expect([viaFetch, viaHttps]).toEqual([answer, answer]);
    const got = received.slice(before);
    expect(got.map((r) => [r.method, r.url.href, r.headers['content-type'], JSON.parse(r.body.toString())])).toEqual([
      ['POST', `https://${HOST}/hook?token=s3cret&x=1`, 'application/json', { n: 1 }],
      ['POST', `https://${HOST}/hook`, 'application/json', { n: 2 }],
    ]);
    // The runtime's own headers stay behind.
    for (const r of got) expect(Object.keys(r.headers).filter((k) => k.startsWith('x-opsflow'))).toEqual([]);
    const recorded = (await calls()).filter((c) => c.functionName === fn('Outside') && c.status === 201);
    expect(recorded.map((c) => [c.method, c.url, c.sourceIp])).toEqual([
      ['POST', `https://${HOST}/hook?token=…&x=…`, CHANGING_AWS_ADDRESS],
      ['POST', `https://${HOST}/hook`, CHANGING_AWS_ADDRESS],
    ]);
  });

  it('to a host nobody serves fail as the DNS lookup fails: ENOTFOUND', async () => {
    const url = 'https://nowhere.example.test/hook';
    expect(await h.rt.lambdas.invoke(fn('Outside'), { url })).toEqual({ error: 'fetch failed', code: 'ENOTFOUND' });
    expect(await h.rt.lambdas.invoke(fn('Outside'), { url, client: 'https' })).toEqual({
      error: 'getaddrinfo ENOTFOUND nowhere.example.test',
      code: 'ENOTFOUND',
    });
    expect((await calls()).filter((c) => c.url === url).map((c) => c.status)).toEqual(['ENOTFOUND', 'ENOTFOUND']);
  });
});

describe('a function in a private subnet with no route out', () => {
  it('gets no answer from the internet: it times out on the virtual clock', async () => {
    const before = received.length;
    await expect(h.rt.lambdas.invoke(fn('Isolated'), { url: `https://${HOST}/hook`, client: 'https' })).rejects.toMatchObject({
      errorType: 'Sandbox.Timedout',
      errorMessage: expect.stringMatching(/Task timed out after 5\.00 seconds$/),
    });
    expect(received.length).toBe(before);
    const [call] = (await calls()).filter((c) => c.functionName === fn('Isolated'));
    expect(call).toMatchObject({ status: 'timed out', reason: expect.stringMatching(/^no route to the internet from subnet-[0-9a-f]{17} \(route table rtb-/) });
    expect(call.sourceIp).toBeUndefined();
  });

  it("gets no answer from AWS's public endpoints either, without a VPC endpoint", async () => {
    await expect(h.rt.lambdas.invoke(fn('Isolated'), { aws: true })).rejects.toMatchObject({ errorType: 'Sandbox.Timedout' });
    expect((await calls()).filter((c) => c.functionName === fn('Isolated')).at(-1)).toMatchObject({
      url: 'https://dynamodb.us-east-1.amazonaws.com/ (DynamoDB_20120810.ListTables)',
      status: 'timed out',
      reason: expect.stringContaining("no route to dynamodb's public endpoint (the VPC has no endpoint for it)"),
    });
    // The same call from outside a VPC is answered.
    expect(await h.rt.lambdas.invoke(fn('Outside'), { aws: true })).toEqual({ tables: [] });
  });
});
