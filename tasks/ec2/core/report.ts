/**
 * Builds the run's report from the table: one entry per instance `{instanceId, name, from, to, outcome,
 * reason}`, counts, and the SNS message. The full report goes back into the table (`report#<run>`, pages of
 * REPORT_PAGE entries, each far below DynamoDB's 400 KB item limit); the state, the execution output and the SNS
 * message carry only counts, the summary and the first MAX_OUTPUT_ENTRIES entries (failures first), so they
 * stay a few KB whatever the fleet size. Step Functions caps a state payload at 256 KiB
 * (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html); at 5,000 instances the old report
 * with 500 entries and the 200,000-character text was 265,474 bytes.
 */
import type { Ec2Store } from './store';
import type { Ec2Request, Outcome, Plan, ReportEntry, StoredBatch } from './types';

export const MAX_OUTPUT_ENTRIES = 50;
/** Report entries per table item: ~200 bytes each, so a page stays near 100 KB (DynamoDB allows 400 KB per item). */
export const REPORT_PAGE = 500;
const MAX_MESSAGE_CHARS = 16_000;
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
  /** Entries left out of `instances`; the full report has them. */
  omitted: number;
  summary: string;
  /** Where the full report is: the run table's items `{pk, sk: page#<n>}`, each `{entries: [...]}`. */
  fullReport: { pk: string; pages: number };
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

export function buildReport(input: ReportInput, entries: ReportEntry[]): { report: Report; message: { subject: string; text: string }; entries: ReportEntry[] } {
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
    fullReport: { pk: reportKey(input.runId), pages: Math.ceil(sorted.length / REPORT_PAGE) },
  };
  return { report, message: { subject: subject(`opsflow: ${summary}`), text: messageText(input, report) }, entries: sorted };
}

export const reportKey = (runId: string) => `report#${runId}`;

export async function report(input: ReportInput, store: Ec2Store): Promise<{ report: Report; message: { subject: string; text: string } }> {
  const run = await store.loadRun(input.runId);
  const { report, message, entries } = buildReport(input, [...run.entries, ...run.batches.flatMap(entriesOf)]);
  for (let page = 0; page * REPORT_PAGE < entries.length; page++) {
    await store.putReportPage(report.fullReport.pk, page, entries.slice(page * REPORT_PAGE, (page + 1) * REPORT_PAGE));
  }
  return { report, message };
}

/** The summary and the entries of the output (failures first); the rest is in the table. */
function messageText(input: ReportInput, report: Report): string {
  const lines = [
    `opsflow Ec2Schedule${report.dryRun ? ' DRY RUN (nothing was changed)' : ''}`,
    report.summary,
    `Requested by: ${report.requestedBy ?? 'not given'}`,
    `Execution: ${input.runId}`,
  ];
  const counts: Record<Outcome, number> = { failed: report.counts.failed, moved: report.counts.moved, 'dry-run': report.counts.dryRun, skipped: report.counts.skipped };
  for (const outcome of ORDER) {
    const group = report.instances.filter((e) => e.outcome === outcome);
    if (counts[outcome] === 0) continue;
    lines.push('', `${outcome.toUpperCase()} (${counts[outcome]})`);
    for (const e of group) lines.push(`  ${e.instanceId} ${e.name || '-'}: ${e.from} -> ${e.to}${e.reason ? ` (${e.reason})` : ''}`);
    if (group.length < counts[outcome]) lines.push(`  ... and ${counts[outcome] - group.length} more`);
  }
  if (report.omitted > 0) {
    lines.push('', `The full report (${report.counts.total} instances) is in the Ec2Schedule table under pk "${report.fullReport.pk}", ${report.fullReport.pages} item(s).`);
  }
  let text = lines.join('\n');
  // Reasons are bounded, but a message must never approach SNS's 256 KB.
  if (text.length > MAX_MESSAGE_CHARS) text = `${text.slice(0, MAX_MESSAGE_CHARS)}\n... cut at ${MAX_MESSAGE_CHARS} characters; the full report is in the table.`;
  return text;
}

/** SNS subjects: ASCII, no line breaks, fewer than 100 characters (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html). */
function subject(s: string): string {
  const ascii = s.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length > 99 ? `${ascii.slice(0, 96)}...` : ascii;
}
