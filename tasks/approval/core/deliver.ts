/**
 * The calls on an approval's task token. "Deliver decision" is shared by decide (right after the deciding
 * vote), the worker (a retried delivery of a decided request) and the sweep (anything still undelivered).
 * It is idempotent: the decision is recorded first, delivery only flips `delivered` and drops `pending`,
 * so whoever retries sends the same thing. Heartbeats are shared by the worker and the sweep.
 */
import { SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { ErrorNames } from '../../shared/errors';
import { errorName, type Log } from '../../shared/logger';
import { taskGone, type TaskGone } from './aws-errors';
import type { ApprovalStore } from './store';
import type { ApprovalRecord, Decision } from './types';

export interface DeliverDeps {
  sfn: SFNClient;
  store: ApprovalStore;
  log: Log;
}

/** `retry`: Step Functions did not take it (throttled, unavailable); the record stays pending for the sweep. */
export type DeliveryOutcome = 'delivered' | TaskGone | 'retry';

/** The activity task's output on approval: what the rest of the workflow sees. */
export function approvalOutput(decision: Decision): string {
  return JSON.stringify({
    decision: 'approved',
    approver: decision.approver,
    approvers: decision.approvers,
    comment: decision.comment,
    decidedAt: decision.decidedAt,
  });
}

/** The SendTaskFailure cause on rejection. */
export function rejectionCause(decision: Decision): string {
  return JSON.stringify({ approver: decision.approver, comment: decision.comment, decidedAt: decision.decidedAt });
}

export async function deliverDecision(deps: DeliverDeps, record: ApprovalRecord): Promise<{ outcome: DeliveryOutcome; record: ApprovalRecord }> {
  const decision = record.decision;
  if (!decision) throw new Error(`approval ${record.id} has no decision to deliver`);

  let outcome: DeliveryOutcome;
  try {
    if (decision.decision === 'approved') {
      await deps.sfn.send(new SendTaskSuccessCommand({ taskToken: record.token, output: approvalOutput(decision) }));
    } else {
      await deps.sfn.send(new SendTaskFailureCommand({ taskToken: record.token, error: ErrorNames.ApprovalRejected, cause: rejectionCause(decision) }));
    }
    outcome = 'delivered';
  } catch (error) {
    const gone = taskGone(error);
    if (!gone) {
      deps.log.warn('decision not delivered, the sweep will retry', { requestId: record.id, error: errorName(error) });
      return { outcome: 'retry', record };
    }
    outcome = gone;
  }

  deps.log.info('decision delivery settled', { requestId: record.id, decision: decision.decision, outcome });
  const sentToken = record.token;
  const stored = await deps.store.update(record.id, (current) => {
    // A retried activity task replaced the token meanwhile: its worker delivers to the new task.
    if (current.token !== sentToken) return undefined;
    current.delivered = true;
    delete current.pending;
    if (outcome === 'TaskTimedOut') current.status = 'expired';
    return current;
  });
  return { outcome, record: stored };
}

/**
 * Tells Step Functions the task is still being worked on. 'gone' when the task is over (the execution
 * moved on): the record leaves the sweep's list. 'failed' (throttled, unavailable) is only logged: the
 * next sweep beats again, well within the heartbeat timeout.
 */
export async function heartbeat(deps: DeliverDeps, record: ApprovalRecord): Promise<'ok' | 'gone' | 'failed'> {
  try {
    await deps.sfn.send(new SendTaskHeartbeatCommand({ taskToken: record.token }));
    return 'ok';
  } catch (error) {
    const gone = taskGone(error);
    deps.log.warn('heartbeat failed', { requestId: record.id, error: errorName(error) });
    if (!gone) return 'failed';
    await deps.store.update(record.id, (current) => {
      if (current.token !== record.token || current.decision) return undefined;
      // Off the sweep's list. Not marked expired: a stopped execution's dead token answers TaskTimedOut too; the
      // page asks Step Functions why the request closed (decide.ts), and the deadline speaks for itself.
      delete current.pending;
      return current;
    });
    return 'gone';
  }
}
