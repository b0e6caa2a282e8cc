/**
 * Ec2Schedule at fleet scale: the history of every execution stays bounded (Step Functions fails an execution
 * at 25,000 history events: https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html), however
 * slowly instances stop. A batch's Act and verify polls live in its own child execution; the parent records a
 * fixed number of events per batch. Measured here on 3 batches of slow stops, extrapolated to 10,000 instances.
 */
import { ListExecutionsCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../tasks/ec2/core/report';
import { fullHistory, startRuntime, type Harness } from './harness';

const HISTORY_QUOTA = 25_000;
const BATCH_SIZE = 50; // opsflow.config.json ec2Schedule.batchSize
const VERIFY_POLLS = 900 / 15; // verifyTimeout / VERIFY_INTERVAL

const polls = (events: HistoryEvent[]) => events.filter((e) => e.type === 'TaskStateEntered' && e.stateEnteredEventDetails?.name === 'Verify').length;

describe('Ec2Schedule history at scale', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startRuntime({ seedFleet: false, timeScale: 200 });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('keeps every execution far below 25,000 events when 150 instances take 5 minutes each to stop', async () => {
    h.rt.ec2.fleet.addInstances(3 * BATCH_SIZE, { tags: [{ Key: 'Schedule', Value: 'batch-window' }], sim: { stopMs: 5 * 60_000 } });

    const arn = await h.start('Ec2Schedule', { action: 'stop', schedule: 'batch-window', requestedBy: 'scale test' });
    const done = await h.finished(arn, 120_000);

    expect(done.status, `${done.error}: ${done.cause}`).toBe('SUCCEEDED');
    const report = JSON.parse(done.output!) as Report;
    expect(report.counts).toEqual({ total: 150, moved: 150, skipped: 0, failed: 0, dryRun: 0 });

    const parent = await fullHistory(h.sfn, arn);
    const { executions = [] } = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arnOf('Ec2ScheduleBatch') }));
    expect(executions).toHaveLength(3);
    const children = await Promise.all(executions.map((e) => fullHistory(h.sfn, e.executionArn!)));

    // A child: Act, then one Wait + Verify + Choice (9 events) per poll, at most until verifyTimeout.
    for (const c of children) {
      expect(polls(c)).toBeGreaterThanOrEqual(1);
      expect(c.length).toBeLessThanOrEqual(11 + 9 * (VERIFY_POLLS + 1) + 10);
    }
    // The polls are all in the children; the parent has a fixed part plus at most 10 events per batch.
    expect(polls(parent)).toBe(0);
    const fixed = 60;
    expect(parent.length).toBeLessThanOrEqual(fixed + 10 * 3);
    const at10k = fixed + 10 * (10_000 / BATCH_SIZE);
    expect(at10k).toBeLessThan(HISTORY_QUOTA / 10);
  });
});
