/**
 * State survives a restart: executions, history and the outbox are read back from the state directory, and an
 * execution that was running when the runtime stopped is marked failed with a cause saying so, never lost.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeExecutionCommand, GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { startRuntime } from './harness';

describe('restart', () => {
  it('keeps history and outbox, and fails what was running with a cause', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'opsflow-restart-'));
    const first = await startRuntime({ stateDir });
    const failed = await first.start('Approval', { title: 'bad', approvers: ['x'] });
    await first.finished(failed);
    const pending = await first.start('Approval', { title: 'Left pending', approvers: ['lead@example.com'] });
    await first.mail((e) => e.subject.includes('Left pending'));
    await first.stop();

    const second = await startRuntime({ stateDir });
    try {
      const history = await second.sfn.send(new GetExecutionHistoryCommand({ executionArn: failed }));
      expect(history.events?.map((e) => e.type)).toContain('ExecutionFailed');
      expect((await second.outbox()).map((e) => e.subject)).toContain('Approval needed: Left pending');

      const lost = await second.sfn.send(new DescribeExecutionCommand({ executionArn: pending }));
      expect(lost).toMatchObject({ status: 'FAILED', error: 'Local.RuntimeRestarted' });
      expect(lost.cause).toContain('stopped while this execution was running');
    } finally {
      await second.stop();
    }
  });
});
