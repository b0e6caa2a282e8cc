/**
 * A client that sends its headers and then trickles its body (or stops sending it) does not hold a request open:
 * like slow headers (Node's headersTimeout), the body must arrive within its time, or the request is answered
 * 408 RequestTimeoutException (S3: 400 RequestTimeout, S3's own) and the connection closed, the service never
 * called. The endpoint's server with a short body time stands in for the runtime's (65 s, local/server.ts).
 */
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsRequest, AwsResponse, ServiceHandler } from '../../local/kernel';
import { BODY_TIMEOUT_MS, createServer, listen } from '../../local/server';

const handled: AwsRequest[] = [];
const service = (name: string): ServiceHandler => ({
  services: [name],
  handle: async (req): Promise<AwsResponse> => (handled.push(req), { status: 200, body: '{}' }),
});
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer([service('states'), service('s3')], async () => ({ status: 404, body: '' }), undefined, { bodyTimeoutMs: 500 });
  port = await listen(server, 0);
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
const auth = (service: string) =>
  `AWS4-HMAC-SHA256 Credential=test/${amzDate.slice(0, 8)}/us-east-1/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`;

/**
 * Sends `head`, then one byte of the body every `everyMs` (never all of it); resolves with what the server
 * answered and whether it closed the connection, or rejects after `giveUpMs`.
 */
function trickle(head: string, everyMs: number, giveUpMs = 10_000): Promise<{ answer: string; closed: boolean; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let answer = '';
    const drip = setInterval(() => socket.writable && socket.write('x'), everyMs);
    const giveUp = setTimeout(() => {
      clearInterval(drip);
      socket.destroy();
      reject(new Error(`no answer within ${giveUpMs} ms: the server is still waiting for the body`));
    }, giveUpMs);
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(drip);
      clearTimeout(giveUp);
      resolve({ answer, closed: true, ms: Date.now() - started });
    });
  });
}

describe('a slow request body', () => {
  it('is timed out like slow headers: a trickle of one byte every 100 ms gets 408 RequestTimeoutException and a closed connection', async () => {
    const head = `POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AWSStepFunctions.StartExecution\r\nX-Amz-Date: ${amzDate}\r\nAuthorization: ${auth('states')}\r\nContent-Length: 100000\r\n\r\n{`;

    const { answer, closed } = await trickle(head, 100);

    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      __type: 'RequestTimeoutException',
      message: expect.stringMatching(/^The request body did not arrive within 0\.5 seconds of its headers/),
    });
    expect(closed).toBe(true);
    expect(handled).toEqual([]);
  });

  it('is answered as S3 answers it when it is an S3 request: 400 RequestTimeout', async () => {
    const head = `PUT /bucket/key HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Amz-Date: ${amzDate}\r\nX-Amz-Content-Sha256: UNSIGNED-PAYLOAD\r\nAuthorization: ${auth('s3')}\r\nContent-Length: 5000\r\n\r\n`;

    const { answer } = await trickle(head, 60_000);

    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toContain(
      '<Error><Code>RequestTimeout</Code><Message>Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.</Message></Error>',
    );
    expect(handled).toEqual([]);
  });

  it('gets, by default, as long as slow headers get', () => {
    const defaults = createServer([], async () => ({ status: 404, body: '' }));
    expect(BODY_TIMEOUT_MS).toBe(defaults.headersTimeout);
  });
});
