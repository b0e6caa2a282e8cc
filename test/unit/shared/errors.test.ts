import { describe, expect, it } from 'vitest';
import { ApprovalNoTaskError, ErrorNames, InputInvalidError } from '../../../tasks/shared/errors';

describe('named errors', () => {
  it('keeps the approval error names the state machines catch', () => {
    expect(ErrorNames).toMatchObject({
      InputInvalid: 'Input.Invalid',
      ApprovalRejected: 'Approval.Rejected',
      ApprovalTimedOut: 'Approval.TimedOut',
      ApprovalNoTask: 'Approval.NoTask',
      ApprovalWorkerLost: 'Approval.WorkerLost',
    });
  });

  it('reports Input.Invalid as error.name with every problem in the message', () => {
    // Act
    const error = new InputInvalidError(['title: is required', 'quorum: must be at least 1, got 0']);
    // Assess
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('Input.Invalid');
    expect(error.problems).toHaveLength(2);
    expect(error.message).toBe('title: is required; quorum: must be at least 1, got 0');
  });

  it('reports Approval.NoTask as error.name', () => {
    expect(new ApprovalNoTaskError('arn:aws:states:us-east-1:1:activity:a').name).toBe('Approval.NoTask');
  });
});
