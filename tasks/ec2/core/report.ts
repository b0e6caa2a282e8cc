/**
 * Builds the run's report from the table: one entry per instance `{instanceId, name, from, to, outcome,
 * reason}`, counts, and the SNS message. The execution output keeps at most MAX_OUTPUT_ENTRIES entries
 * (failures first) so it stays far below Step Functions' 256 KiB whatever the fleet size; the SNS text is
 * cut at the same bound of the message size.
 */
import type { Ec2Store } from './store';
import type { Ec2Request, Outcome, Plan, ReportEntry, StoredBatch } from './types';

export const MAX_OUTPUT_ENTRIES = 500;
const MAX_MESSAGE_CHARS = 200_000;
const ORDER: Outcome[] = ['failed', 'moved', 'dry-run', 'skipped'];

export interface ReportInput {
  runId: string;
  request: Ec2Request;
  plan: Pick<Plan, 'holiday' | 'targets' | 'settled'>;
}

export interface Report {
  action: Ec2Request['action'];
  schedule: string | null;
  dryRun: boolean;
  requestedBy: string | null;
  holiday: string | null;
  counts: Record<'total' | 'moved' | 'skipped' | 'failed' | 'dryRun', number>;
  instances: ReportEntry[];
  /** Entries left out of `instances` (the SNS message has them, up to its size limit). */
  omitted: number;
  summary: string;
}

export function entriesOf(batch: StoredBatch): ReportEntry[] {
  return batch.entries.map((e) => {
    const final = e.status === 'moved' || e.status === 'skipped' || e.status === 'failed' || e.status === 'dry-run';
    return {
      instanceId: e.instanceId,
      name: e.name,
      from: e.from,
      to: e.to ?? e.from,
      outcome: final ? (e.status as Outcome) : 'failed',
      reason: final ? e.reason ?? '' : `not verified (left ${e.status})`,
    };
  });
}

export function buildReport(input: ReportInput, entries: ReportEntry[]): { report: Report; message: { subject: string; text: string } } {
  const { request, plan } = input;
  const sorted = [...entries].sort((a, b) => ORDER.indexOf(a.outcome) - ORDER.indexOf(b.outcome) || a.name.localeCompare(b.name) || a.instanceId.localeCompare(b.instanceId));
  const count = (o: Outcome) => sorted.filter((e) => e.outcome === o).length;
  const counts = { total: sorted.length, moved: count('moved'), skipped: count('skipped'), failed: count('failed'), dryRun: count('dry-run') };
  const what = request.schedule ? `schedule ${request.schedule}` : `${request.instanceIds?.length ?? 0} instance(s)`;
  const summary = plan.holiday
    ? `${request.action} ${what}: skipped, ${plan.holiday} is a skip date of the schedule`
    : `${request.action} ${what}${request.dryRun ? ' (dry run)' : ''}: ${counts.moved} moved, ${counts.skipped} skipped, ${counts.failed} failed` +
      (counts.dryRun ? `, ${counts.dryRun} would ${request.action}` : '');
  const report: Report = {
    action: request.action,
    schedule: request.schedule,
    dryRun: request.dryRun,
    requestedBy: request.requestedBy,
    holiday: plan.holiday,
    counts,
    instances: sorted.slice(0, MAX_OUTPUT_ENTRIES),
    omitted: Math.max(0, sorted.length - MAX_OUTPUT_ENTRIES),
    summary,
  };
  return { report, message: { subject: subject(`opsflow: ${summary}`), text: messageText(input, report, sorted) } };
}

export async function report(input: ReportInput, store: Ec2Store): Promise<ReturnType<typeof buildReport>> {
  const run = await store.loadRun(input.runId);
  return buildReport(input, [...run.entries, ...run.batches.flatMap(entriesOf)]);
}

function messageText(input: ReportInput, report: Report, entries: ReportEntry[]): string {
  const lines = [
    `opsflow Ec2Schedule${report.dryRun ? ' DRY RUN (nothing was changed)' : ''}`,
    report.summary,
    `Requested by: ${report.requestedBy ?? 'not given'}`,
    `Execution: ${input.runId}`,
  ];
  for (const outcome of ORDER) {
    const group = entries.filter((e) => e.outcome === outcome);
    if (group.length === 0) continue;
    lines.push('', `${outcome.toUpperCase()} (${group.length})`);
    for (const e of group) lines.push(`  ${e.instanceId} ${e.name || '-'}: ${e.from} -> ${e.to}${e.reason ? ` (${e.reason})` : ''}`);
  }
  let text = lines.join('\n');
  if (text.length > MAX_MESSAGE_CHARS) text = `${text.slice(0, MAX_MESSAGE_CHARS)}\n... cut at ${MAX_MESSAGE_CHARS} characters; the execution output has counts and failures first.`;
  return text;
}

/** SNS subjects: ASCII, no line breaks, at most 100 characters. */
function subject(s: string): string {
  const ascii = s.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length > 100 ? `${ascii.slice(0, 97)}...` : ascii;
}
