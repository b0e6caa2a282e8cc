/**
 * TagPolicy, before an approval is asked: who started this execution (CloudTrail's StartExecution record), so the
 * Approval workflow neither asks nor accepts that person (core/requester.ts).
 * Event `{ executionArn, startTime, requesterEmails, lookup }` → the next `lookup` state; `done` with `requestedBy`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { lambdaHandler } from '../shared/handler';
import { cloudtrail } from './clients';
import { Pacer } from './core/creator';
import { findRequester, type RequesterInput, type RequesterLookup } from './core/requester';

// One pacer per execution environment: successive invocations keep CloudTrail's pace between them.
const deps = { cloudtrail: cloudtrail(), sleep: (ms: number) => sleep(ms).then(() => undefined), pacer: new Pacer() };

export const handler = lambdaHandler(async (event: RequesterInput): Promise<RequesterLookup> => findRequester(event, { ...deps, now: () => new Date() }));
