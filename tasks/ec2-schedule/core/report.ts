/**
 * Builds the run's report from the table: one entry per instance `{instanceId, name, from, to, outcome,
 * reason}` (with `account`/`region` when the run acts in an organisation's targets, written `<account>/<region>` before
 * each line), counts, the targets the plan could not reach with their reasons, and the SNS message. It runs however the run went: when planning or a wave failed (the
 * state machine caught it into `failure`), every instance the run did not finish is reported failed with why.
 * The full report goes back into the table (`report#<run>`), in pages cut by their size as DynamoDB counts it
 * (tasks/shared/item-size.ts), each well under the 400 KB item limit whatever the reasons; the state, the execution
 * output and the SNS message carry only counts, the summary and the first MAX_OUTPUT_ENTRIES entries (failures
 * first), so they stay a few KB whatever the fleet size. Step Functions caps a state payload at 256 KiB
 * (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
 */
import { boundText, pagesByBytes } from '../../shared/item-size';
import { boundReason } from '../../shared/reasons';
import { mapLimit } from '../../shared/limit';
import type { Notice, Piece } from '../../shared/chat-notice';
import { notifyChat, type ChatDelivery, type ChatNotifier } from '../../shared/chat-notify';
import type { Log } from '../../shared/logger';
import { LIST_ITEM_BYTES, STORE_CONCURRENCY, type Ec2Store } from './store';
import type { BatchEntry, Ec2Request, Outcome, Plan, ReportEntry, StoredBatch, UnreachableTarget, Where } from './types';

export const MAX_OUTPUT_ENTRIES = 50;
const MAX_MESSAGE_CHARS = 16_000;
/** The caught error's cause is quoted in reasons and the summary up to this many bytes. */
const FAILURE_CAUSE_BYTES = 300;
const ORDER: Outcome[] = ['failed', 'moved', 'dry-run', 'skipped'];

/** An error the state machine caught (Step Functions' `{Error, Cause}`). */
export interface CaughtError {
  Error?: string;
  Cause?: string;
}

/** The Report task's input: the execution state. */
export interface ReportInput {
  runId: string;
  request: Ec2Request;
  /** Absent when planning failed. */
  plan?: Pick<Plan, 'holiday' | 'targets' | 'settled' | 'unreachable'>;
  /** What ended the run early: planning or a wave failed. */
  failure?: CaughtError;
}

export interface Report {
  action: Ec2Request['action'];
  schedule: string | null;
  dryRun: boolean;
  requestedBy: string | null;
  holiday: string | null;
  /** `unreachable`: targets (account × region) the plan could not list; present when there were any. */
  counts: Record<'total' | 'moved' | 'skipped' | 'failed' | 'dryRun', number> & { unreachable?: number };
  instances: ReportEntry[];
  /** The first MAX_OUTPUT_ENTRIES unreachable targets with their reasons (config `targets`); all are in the run table. */
  unreachable?: UnreachableTarget[];
  /** Entries left out of `instances`; the full report has them. */
  omitted: number;
  summary: string;
  /** What ended the run early (planning or a wave failed), when something did. */
  failure?: string;
  /** Where the full report is: the run table's items `{pk, sk: page#<n>}`, each `{entries: [...]}`. */
  fullReport: { pk: string; pages: number };
}

/** `Error: cause` of a caught error, the cause cut short. */
export function describeFailure(f: CaughtError): string {
  const cause = (f.Cause ?? '').trim();
  return boundText(cause ? `${f.Error ?? 'Error'}: ${cause}` : (f.Error ?? 'Error'), FAILURE_CAUSE_BYTES);
}

/** The report lines of a batch; an instance the run did not finish says what it was left at, and why. */
export function entriesOf(batch: StoredBatch, failure?: string): ReportEntry[] {
  const verb = batch.action === 'start' ? 'started' : 'stopped';
  // With targets, a wave that failed ends only its own lane (workflows/ec2-schedule/construct.ts `LaneFailed`).
  const why = failure
    ? `the run ended early (${failure})`
    : batch.account
      ? `the waves in ${batch.account}/${batch.region} failed (the execution's history says why)`
      : 'the run ended before it was finished';
  const unfinished: Record<string, (e: BatchEntry) => string> = {
    planned: () => `not ${verb}: ${why}`,
    acted: () => `${batch.action} sent, but not verified: ${why}`,
    capacity: (e) => `not ${verb}: waiting for capacity (${e.reason ?? ''}) when ${why}`,
  };
  return batch.entries.map((e) => {
    const final = e.status === 'moved' || e.status === 'skipped' || e.status === 'failed' || e.status === 'dry-run';
    const reason = final ? (e.reason ?? '') : unfinished[e.status](e);
    return {
      ...(batch.account && { account: batch.account, region: batch.region }),
      kind: batch.kind,
      instanceId: e.instanceId,
      name: e.name,
      from: e.from,
      to: e.to ?? e.from,
      outcome: final ? (e.status as Outcome) : 'failed',
      // What the plan noted (a seven-day restart, hibernation not configured, the sizes restored) goes with any outcome.
      reason: boundReason([e.note, reason].filter(Boolean).join('; ')),
    };
  });
}

/** `<account>/<region> ` before a line of a resource in a target (config `targets`), nothing for the hub's own. */
export const wherePrefix = (w: Where) => (w.account ? `${w.account}/${w.region} ` : '');

export function buildReport(
  input: ReportInput,
  entries: ReportEntry[],
  unreachable: UnreachableTarget[] = [],
): { report: Report; message: { subject: string; text: string }; pages: ReportEntry[][] } {
  const { request } = input;
  const plan = input.plan ?? { holiday: null };
  const failure = input.failure && describeFailure(input.failure);
  const sorted = [...entries].sort(
    (a, b) => ORDER.indexOf(a.outcome) - ORDER.indexOf(b.outcome) || a.name.localeCompare(b.name) || a.instanceId.localeCompare(b.instanceId),
  );
  const count = (o: Outcome) => sorted.filter((e) => e.outcome === o).length;
  const counts: Report['counts'] = {
    total: sorted.length,
    moved: count('moved'),
    skipped: count('skipped'),
    failed: count('failed'),
    dryRun: count('dry-run'),
    ...(unreachable.length > 0 && { unreachable: unreachable.length }),
  };
  const what = request.schedule
    ? `schedule ${request.schedule}`
    : request.resources
      ? `${request.resources.length} resource(s)`
      : `${request.instanceIds?.length ?? 0} instance(s)`;
  const summary = plan.holiday
    ? `${request.action} ${what}: skipped, ${plan.holiday} is a skip date of the schedule`
    : `${request.action} ${what}${request.dryRun ? ' (dry run)' : ''}: ${counts.moved} moved, ${counts.skipped} skipped, ${counts.failed} failed` +
      (counts.dryRun ? `, ${counts.dryRun} would ${request.action}` : '') +
      (unreachable.length ? `; ${unreachable.length} target(s) unreachable` : '') +
      (failure ? `; ${input.plan ? 'the run ended early' : 'planning failed'}: ${failure}` : '');
  const pages = pagesByBytes(sorted, LIST_ITEM_BYTES);
  const report: Report = {
    action: request.action,
    schedule: request.schedule,
    dryRun: request.dryRun,
    requestedBy: request.requestedBy,
    holiday: plan.holiday,
    counts,
    instances: sorted.slice(0, MAX_OUTPUT_ENTRIES),
    ...(unreachable.length > 0 && { unreachable: unreachable.slice(0, MAX_OUTPUT_ENTRIES) }),
    omitted: Math.max(0, sorted.length - MAX_OUTPUT_ENTRIES),
    summary,
    ...(failure && { failure }),
    fullReport: { pk: reportKey(input.runId), pages: pages.length },
  };
  return { report, message: { subject: subject(`opsflow: ${summary}`), text: messageText(input, report) }, pages };
}

export const reportKey = (runId: string) => `report#${runId}`;

/** The chat channel that also gets every report (config `ec2Schedule.reportChat`), and the execution's console page. */
export type ReportChat = ChatNotifier & { executionUrl: (runId: string) => string; log: Log };

/**
 * Stores the full report and returns it with the SNS message, which the state machine publishes next; with a chat
 * channel configured, the report is posted there first. A chat that cannot be reached (or answers too slowly:
 * tasks/shared/chat-notify.ts bounds the wait) costs only its own message: `chat` says why, and the SNS message is
 * still published.
 */
export async function report(
  input: ReportInput,
  store: Ec2Store,
  chat?: ReportChat,
): Promise<{ report: Report; message: { subject: string; text: string }; chat?: ChatDelivery[] }> {
  const run = await store.loadRun(input.runId);
  const failure = input.failure && describeFailure(input.failure);
  const { report, message, pages } = buildReport(input, [...run.entries, ...run.batches.flatMap((b) => entriesOf(b, failure))], run.unreachable);
  await mapLimit(pages, STORE_CONCURRENCY, (page, n) => store.putReportPage(report.fullReport.pk, n, page));
  if (!chat) return { report, message };
  const notice = reportNotice(report, chat.executionUrl(input.runId));
  return { report, message, chat: await notifyChat(notice, chat, chat.log, { runId: input.runId }) };
}

/** Instances a chat message lists (failures first, as the report sorts them). */
const MAX_CHAT_LINES = 3;

/**
 * The report as a chat message (tasks/shared/chat-notice.ts): what ran and the counts, what ended the run early, and
 * the first instances (failures first). Schedule names, instance names, reasons and who asked are anyone's text
 * (tags, an execution input, a chat user name): they are shown literally.
 */
export function reportNotice(report: Report, link: string): Notice {
  const c = report.counts;
  const verb = report.action;
  const facts: Notice['facts'] = [
    report.schedule ? { label: 'Schedule', value: [{ literal: report.schedule }] } : { label: 'Instances', value: [`${c.total} named`] },
    { label: 'Moved', value: [`${c.moved} of ${c.total}`] },
    { label: 'Failed', value: [`${c.failed}`] },
    { label: 'Skipped', value: [`${c.skipped}`] },
  ];
  if (c.unreachable) facts.push({ label: 'Unreachable targets', value: [`${c.unreachable}`] });
  if (c.dryRun) facts.push({ label: `Would ${verb}`, value: [`${c.dryRun}`] });
  if (report.requestedBy) facts.push({ label: 'Requested by', value: [{ literal: report.requestedBy }] });
  const lines: Piece[][] = [];
  if (report.failure) lines.push(['Ended early: ', { literal: report.failure }]);
  for (const t of (report.unreachable ?? []).slice(0, MAX_CHAT_LINES)) lines.push(['Unreachable: ', { literal: t.reason }]);
  for (const e of report.instances.slice(0, MAX_CHAT_LINES)) {
    lines.push([
      ...(e.account ? [wherePrefix(e)] : []),
      ...(e.kind === 'ec2' ? [] : [`${e.kind} `]),
      { literal: e.instanceId },
      ...(e.name ? [' ', { literal: e.name }] : []),
      ` ${e.outcome}: ${e.from} → ${e.to}`,
      ...(e.reason ? [' ', { literal: e.reason }] : []),
    ]);
  }
  const left = c.total - Math.min(report.instances.length, MAX_CHAT_LINES);
  const title = report.holiday
    ? `Ec2Schedule ${verb}: skipped, ${report.holiday} is a skip date`
    : `Ec2Schedule ${verb}${report.dryRun ? ' (dry run)' : ''}: ${c.moved} moved, ${c.failed} failed`;
  return {
    tone: c.failed > 0 || c.unreachable || report.failure ? 'failure' : report.dryRun || report.holiday ? 'info' : 'success',
    title,
    facts,
    lines,
    ...(left > 0 && { more: `and ${left} more instances: open the execution` }),
    link: { url: link, label: 'Open the execution' },
  };
}

/** The summary and the entries of the output (failures first); the rest is in the table. */
function messageText(input: ReportInput, report: Report): string {
  const lines = [
    `opsflow Ec2Schedule${report.dryRun ? ' DRY RUN (nothing was changed)' : ''}`,
    report.summary,
    `Requested by: ${report.requestedBy ?? 'not given'}`,
    `Execution: ${input.runId}`,
  ];
  const counts: Record<Outcome, number> = {
    failed: report.counts.failed,
    moved: report.counts.moved,
    'dry-run': report.counts.dryRun,
    skipped: report.counts.skipped,
  };
  if (report.unreachable) {
    // A target the hub could not list: none of its resources were looked at, so they are in no line below.
    lines.push('', `UNREACHABLE TARGETS (${report.counts.unreachable})`);
    for (const t of report.unreachable) lines.push(`  ${t.reason}`); // the reason starts with <account>/<region> (targetReason)
    if (report.unreachable.length < (report.counts.unreachable ?? 0))
      lines.push(`  ... and ${(report.counts.unreachable ?? 0) - report.unreachable.length} more (the run table's unreachable# items)`);
  }
  for (const outcome of ORDER) {
    const group = report.instances.filter((e) => e.outcome === outcome);
    if (counts[outcome] === 0) continue;
    lines.push('', `${outcome.toUpperCase()} (${counts[outcome]})`);
    for (const e of group)
      lines.push(
        `  ${wherePrefix(e)}${e.kind === 'ec2' ? '' : `${e.kind} `}${e.instanceId} ${e.name || '-'}: ${e.from} -> ${e.to}${e.reason ? ` (${e.reason})` : ''}`,
      );
    if (group.length < counts[outcome]) lines.push(`  ... and ${counts[outcome] - group.length} more`);
  }
  if (report.omitted > 0) {
    lines.push(
      '',
      `The full report (${report.counts.total} instances) is in the Ec2Schedule table under pk "${report.fullReport.pk}", ${report.fullReport.pages} item(s).`,
    );
  }
  let text = lines.join('\n');
  // Reasons are bounded, but a message must never approach SNS's 256 KB.
  if (text.length > MAX_MESSAGE_CHARS)
    text = `${text.slice(0, MAX_MESSAGE_CHARS)}\n... cut at ${MAX_MESSAGE_CHARS} characters; the full report is in the table.`;
  return text;
}

/** SNS subjects: ASCII, no line breaks, fewer than 100 characters (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html). */
function subject(s: string): string {
  const ascii = s.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length > 99 ? `${ascii.slice(0, 96)}...` : ascii;
}
