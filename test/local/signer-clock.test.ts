/**
 * The runtime's front door for a query-protocol service that is not SNS or RDS, and for a caller on the virtual clock
 * (a local Lambda): a bad signature is refused in the service's XML, and the answer's Date is on the clock the request
 * was signed by, so the SDK's clock-skew correction keeps it there.
 */
import type { Server } from 'node:http';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceHandler } from '../../local/kernel';
import { createServer, listen } from '../../local/server';

const XMLNS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';
const KEY = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'secret' };
/** The virtual clock: a year and a half behind the real one, 200 times as fast. */
const SCALE = 200;
let virtualNow = Date.UTC(2025, 5, 4, 17, 30);

const autoscaling: ServiceHandler = {
  services: ['autoscaling'],
  handle: async () => ({
    status: 200,
    headers: { 'content-type': 'text/xml' },
    body: `<DescribeAutoScalingGroupsResponse xmlns="${XMLNS}"><DescribeAutoScalingGroupsResult><AutoScalingGroups/></DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeAutoScalingGroupsResponse>`,
  }),
};

let server: Server;
let endpoint: string;
const made: AutoScalingClient[] = [];
const client = (config: { secretAccessKey?: string; systemClockOffset?: number } = {}) => {
  const c = new AutoScalingClient({
    endpoint,
    region: 'us-east-1',
    credentials: { ...KEY, secretAccessKey: config.secretAccessKey ?? KEY.secretAccessKey },
    systemClockOffset: config.systemClockOffset,
    maxAttempts: 1,
  });
  made.push(c);
  return c;
};

beforeAll(async () => {
  let port = 0;
  server = createServer([autoscaling], async () => ({ status: 404, body: '' }), {
    allowedHosts: () => [`127.0.0.1:${port}`],
    credentials: (id) => (id === KEY.accessKeyId ? KEY : undefined),
    clocks: () => [
      { now: Date.now(), scale: 1 },
      { now: virtualNow, scale: SCALE },
    ],
  });
  port = await listen(server, 0);
  endpoint = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  for (const c of made) c.destroy();
  await new Promise((done) => server.close(done));
});

describe('signed requests to a query-protocol service at the runtime front door', () => {
  it("refuses a wrong secret in Auto Scaling's XML, which its SDK client reads as SignatureDoesNotMatch", async () => {
    // Act
    const error = await client({ secretAccessKey: 'wrong' })
      .send(new DescribeAutoScalingGroupsCommand({}))
      .catch((e: Error & { $metadata?: { httpStatusCode?: number } }) => e);

    // Assess
    expect(error).toMatchObject({ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
  });

  it('answers a caller on the virtual clock in virtual time, so its later calls stay signed on that clock', async () => {
    // Arrange: a client whose clock is the virtual one, as a local Lambda's is.
    const lambda = client({ systemClockOffset: virtualNow - Date.now() });
    await lambda.send(new DescribeAutoScalingGroupsCommand({}));

    // Act: an hour of virtual time passes (a Wait state, verification), within the virtual clock's window.
    virtualNow += 60 * 60_000;
    lambda.config.systemClockOffset += 60 * 60_000;
    const later = await lambda.send(new DescribeAutoScalingGroupsCommand({})).catch((e: Error) => e);

    // Assess
    expect(later).not.toBeInstanceOf(Error);
  });
});
