/**
 * The benchmark's API client, on a thread of its own as a real client is a process of its own: the runtime's
 * executions-per-second figure is then the runtime's, not shared with the AWS SDK client's own CPU cost.
 * Messages in: `{ count, inFlight }` starts `count` executions through the SDK, `inFlight` at a time, each
 * awaiting `{ done: arn }` (the runtime's completion signal) before the next; `{ finished: true }` goes back
 * at the end. Each started ARN is posted as `{ started: arn }`.
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { Agent } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

export interface ClientData {
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  stateMachineArn: string;
  /** Answer at once with the start (the API ceiling figure, against a server that does nothing) */
  noWait?: boolean;
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { endpoint, credentials, stateMachineArn, noWait } = workerData as ClientData;
// Idle sockets are dropped after 1 s, well before the server's 5 s keep-alive ends: a socket left idle by a
// phase with fewer calls in flight is never reused just as the server closes it ("socket hang up").
const httpAgent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 1000 });
const sfn = new SFNClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1, requestHandler: { httpAgent } });
const waiting = new Map<string, () => void>();
let n = 0;

parentPort!.on('message', (m: { done?: string; count?: number; inFlight?: number }) => {
  if (m.done) {
    waiting.get(m.done)?.();
    waiting.delete(m.done);
    return;
  }
  const count = m.count!;
  let next = 0;
  const lane = async () => {
    while (next++ < count) {
      const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify({ n: n++ }) }));
      if (noWait) continue;
      await new Promise<void>((resolve) => {
        waiting.set(executionArn!, resolve);
        parentPort!.postMessage({ started: executionArn });
      });
    }
  };
  void Promise.all(Array.from({ length: m.inFlight! }, lane)).then(() => parentPort!.postMessage({ finished: true }));
});
