/**
 * TagPolicy, last state: builds the report from the run's findings, publishes it to the report topic, and
 * returns it as the execution output. Event: the whole execution state `{ run, scan, plan?, step?, approval? }`.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { requireString, type Env } from '../shared/env';
import { runStore } from './core/clients';
import type { ApplyState } from './core/apply';
import type { RunPlan } from './core/plan';
import { approvalOutcome, buildReport, renderText, type Report } from './core/report';
import type { ScanState } from './core/scan';
import type { StoredFinding } from './core/store';
import type { Run } from './core/types';

export function loadEnv(env: Env = process.env) {
  return { tableName: requireString(env, 'TABLE_NAME'), topicArn: requireString(env, 'TOPIC_ARN') };
}

const env = loadEnv();
const store = runStore(env.tableName);
const sns = new SNSClient({});

interface State {
  run: Run;
  scan: ScanState;
  plan?: RunPlan;
  step?: ApplyState;
  approval?: unknown;
}

export async function handler(state: State): Promise<Report> {
  const findings: StoredFinding[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.findings(state.run.id, cursor, 500);
    findings.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  const report = buildReport({
    run: state.run,
    counts: state.scan.counts,
    tally: state.step?.tally,
    blastRadius: state.plan?.blastRadius,
    approvedPhase: state.plan?.approvedPhase,
    approval: approvalOutcome(state.approval),
    findings,
  });
  const { subject, message } = renderText(report);
  await sns.send(new PublishCommand({ TopicArn: env.topicArn, Subject: subject, Message: message }));
  return report;
}
