/**
 * The run report: the execution output and the SNS message. Per instance `{instanceId, violations, actions}`
 * with each action's outcome and reason, plus counts. A dry run says so in the first line and in `dryRun`,
 * and its actions read "would". Actions waiting for an approval that was refused or never came end
 * `rejected`; nothing destructive ran.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { ApplyState, ApplyTally } from './apply';
import type { BlastRadius, Phase, RunPlan } from './plan';
import { requestedByOf, type Requester, type RequesterLookup } from './requester';
import type { ScanState, Unreachable } from './scan';
import type { RunStore, StoredFinding } from './store';
import type { ActionResult, Counts, Finding, Run } from './types';
import type { Log } from '../../shared/logger';
import { boundText } from '../../shared/item-size';
import type { Notice, Piece } from '../../shared/chat-notice';
import { notifyChat, type ChatDelivery, type ChatNotifier } from '../../shared/chat-notify';

/**
 * The execution output lists at most REPORT_INSTANCES instances and REPORT_INSTANCE_BYTES of them, so it stays far
 * below Step Functions' 256 KiB state (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html)
 * whatever their reasons say; the table keeps the full list for 30 days.
 */
export const REPORT_INSTANCES = 100;
export const REPORT_INSTANCE_BYTES = 64 * 1024;
/** SNS takes at most 262,144 bytes a message (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html). */
const MAX_MESSAGE_BYTES = 200 * 1024;

export interface ApprovalOutcome {
  decision: 'approved' | 'rejected' | 'timed-out' | 'failed';
  approver?: string;
  comment?: string;
  /** For `failed`: the error of the approval execution. */
  error?: string;
}

export interface Report {
  runId: string;
  mode: Run['mode'];
  dryRun: boolean;
  summary: string;
  counts: Counts & ApplyTally;
  blastRadius?: BlastRadius;
  approval?: ApprovalOutcome;
  /** Who started the run, when an approval was asked (core/requester.ts): that person was not asked. */
  requester?: Requester;
  instances: Finding[];
  /** Instances with findings left out of `instances` (they are in the findings table). */
  omitted: number;
  /**
   * With config `targets`: the targets (`<account>/<region>`) whose instances could not be read, each with its reason;
   * the run then ends failed (TagPolicy.ReadFailed) after this report, as a failed read fails it without targets.
   */
  unreachable?: Unreachable[];
  /** Why nothing was evaluated: the run named an account and region outside the policy's targets. */
  ignored?: string;
}

/**
 * Reads the approval task's result: the child's output when approved, or the error Step Functions caught —
 * `States.TaskFailed` whose Cause is the child's DescribeExecution JSON (Error `Approval.Rejected`, ...).
 */
export function approvalOutcome(raw: unknown): ApprovalOutcome | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  if (r.decision === 'approved') return { decision: 'approved', approver: str(r.approver), comment: str(r.comment) };
  if (typeof r.Error !== 'string') return undefined;
  let childError = r.Error;
  let childCause: unknown;
  try {
    const child = JSON.parse(String(r.Cause ?? '')) as Record<string, unknown>;
    if (typeof child.Error === 'string') childError = child.Error;
    childCause = child.Cause;
  } catch {
    // the Cause was not the child's description: keep the parent's error
  }
  if (childError === 'Approval.Rejected') {
    let who: Record<string, unknown> = {};
    try {
      who = JSON.parse(String(childCause ?? '{}')) as Record<string, unknown>;
    } catch {
      // a plain-text cause names nobody
    }
    return { decision: 'rejected', approver: str(who.approver), comment: str(who.comment) };
  }
  if (childError === 'Approval.TimedOut' || childError === 'States.Timeout') return { decision: 'timed-out' };
  return { decision: 'failed', error: childError };
}

export interface ReportInput {
  run: Run;
  counts: Counts;
  tally?: ApplyTally;
  blastRadius?: BlastRadius;
  /** The phase an approval would have unlocked, when one was asked for. */
  approvedPhase?: Phase;
  approval?: ApprovalOutcome;
  requester?: Requester;
  findings: StoredFinding[];
  unreachable?: Unreachable[];
  ignored?: string;
}

export function buildReport(input: ReportInput): Report {
  const { run, approval } = input;
  const refused = approval !== undefined && approval.decision !== 'approved';
  const instances: Finding[] = input.findings.map((f) => ({
    instanceId: f.instanceId,
    ...(f.account && { account: f.account, region: f.region }),
    violations: f.violations,
    actions: f.actions.map((a) => finalAction(a, run.dryRun, refused ? input.approvedPhase : undefined, approval)),
    ...(f.exemptUntil && { exemptUntil: f.exemptUntil }),
    ...(f.managedBy && { managedBy: f.managedBy }),
  }));
  const shown: Finding[] = [];
  let bytes = 0;
  for (const i of instances.slice(0, REPORT_INSTANCES)) {
    bytes += Buffer.byteLength(JSON.stringify(i));
    if (bytes > REPORT_INSTANCE_BYTES) break;
    shown.push(i);
  }
  const tally = input.tally ?? { applied: 0, skipped: 0, failed: 0 };
  const c = input.counts;
  const head = run.dryRun ? 'DRY RUN (nothing changed)' : 'APPLIED';
  const verdict = refused ? `; approval ${approval!.decision}, nothing destructive was done` : '';
  const summary =
    `${head}: ${c.scanned} instances checked, ${c.violating} violating, ${c.exempt} exempt; ` +
    (run.dryRun
      ? `would tag ${c.toTag}, stop ${c.toStop}, terminate ${c.toTerminate}; ${c.deferred} in grace period`
      : `${tally.applied} actions applied, ${tally.skipped} skipped, ${tally.failed} failed; ${c.deferred} in grace period`) +
    verdict +
    (input.unreachable?.length
      ? `; ${input.unreachable.length} target${input.unreachable.length === 1 ? '' : 's'} could not be read: ${input.unreachable.map((u) => u.target).join(', ')}`
      : '') +
    (input.ignored ? `; not evaluated: ${input.ignored}` : '');
  return {
    runId: run.id,
    mode: run.mode,
    dryRun: run.dryRun,
    summary,
    counts: { ...c, ...tally },
    ...(input.blastRadius && { blastRadius: input.blastRadius }),
    ...(approval && { approval }),
    ...(input.requester && { requester: input.requester }),
    instances: shown,
    omitted: instances.length - shown.length,
    ...(input.unreachable?.length && { unreachable: input.unreachable }),
    ...(input.ignored && { ignored: input.ignored }),
  };
}

/** How a report names an instance: `<account>/<region> <id>` in a target, else its id. */
export const instanceName = (i: Finding) => (i.account ? `${i.account}/${i.region} ${i.instanceId}` : i.instanceId);

function finalAction(a: ActionResult, dryRun: boolean, refusedPhase: Phase | undefined, approval: ApprovalOutcome | undefined): ActionResult {
  if (a.outcome !== 'planned') return a;
  const destructive = a.action === 'stop' || a.action === 'terminate';
  const waited = refusedPhase !== undefined && (destructive || (refusedPhase === 'all' && a.action !== 'notify'));
  if (!dryRun && waited) {
    const by = approval?.approver ? ` by ${approval.approver}` : '';
    return { ...a, outcome: 'rejected', reason: `${a.reason}; approval ${approval!.decision}${by}, not applied` };
  }
  if (!dryRun && a.action === 'notify') return { ...a, outcome: 'applied', reason: `${a.reason}; reported` };
  return a;
}

/** The SNS email: the summary, then one block per instance. */
export function renderText(report: Report): { subject: string; message: string } {
  const would = report.dryRun ? 'would ' : '';
  const lines = [
    report.summary,
    `Run ${report.runId} (${report.mode})${report.dryRun ? ' — dry run: this report says what WOULD happen; start with "dryRun": false to apply.' : ''}`,
  ];
  if (report.blastRadius?.over) lines.push(`Blast radius: ${report.blastRadius.changes} changes over the cap of ${report.blastRadius.limit}.`);
  if (report.approval)
    lines.push(
      `Approval: ${report.approval.decision}${report.approval.approver ? ` by ${report.approval.approver}` : ''}${report.approval.comment ? ` ("${report.approval.comment}")` : ''}`,
    );
  if (report.requester) lines.push(`Requested by: ${requestedByOf(report.requester)}${report.requester.email ? ' (not asked to approve)' : ''}`);
  if (report.unreachable)
    lines.push(
      '',
      'Targets that could not be read (their instances, or the rest of them, were not checked):',
      ...report.unreachable.map((u) => `  - ${u.reason}`),
    );
  for (const i of report.instances) {
    lines.push('', `${instanceName(i)}${i.managedBy ? ` (managed by ${i.managedBy})` : ''}${i.exemptUntil ? ` (exempt until ${i.exemptUntil})` : ''}`);
    for (const v of i.violations) lines.push(`  - ${v.message}`);
    for (const a of i.actions)
      lines.push(`  * ${a.outcome === 'planned' ? would : ''}${a.action}${a.tag ? ` ${a.tag}=${a.value ?? ''}` : ''}: ${a.outcome} — ${a.reason}`);
  }
  if (report.omitted > 0) lines.push('', `${report.omitted} more instances are in the findings table under run ${report.runId}.`);
  const subject = `opsflow tag policy${report.dryRun ? ' [DRY RUN]' : ''}: ${report.counts.violating} violating of ${report.counts.scanned}`;
  const message = lines.join('\n');
  return { subject, message: Buffer.byteLength(message) > MAX_MESSAGE_BYTES ? boundText(message, MAX_MESSAGE_BYTES) : message };
}

/** Instances whose actions failed come first in the chat message, then refused ones, then the rest. */
const URGENCY: Record<string, number> = { failed: 0, rejected: 1 };
const urgency = (f: Finding) => Math.min(2, ...f.actions.map((a) => URGENCY[a.outcome] ?? 2));

/**
 * The report as a chat message (tasks/shared/chat-notice.ts): violating of checked, the counts, then the few
 * instances that matter most (failed actions first), each with its first violation; the rest is behind the link.
 * Violation messages quote tag values, anyone's text: they are shown literally, as are approvers and comments.
 */
export function reportNotice(report: Report, link: string): Notice {
  const c = report.counts;
  const facts: Notice['facts'] = [
    { label: 'Violating', value: [`${c.violating} of ${c.scanned} checked`] },
    { label: 'Exempt', value: [`${c.exempt}`] },
    report.dryRun
      ? { label: 'Would', value: [`tag ${c.toTag}, stop ${c.toStop}, terminate ${c.toTerminate}`] }
      : { label: 'Actions', value: [`${c.applied} applied, ${c.skipped} skipped, ${c.failed} failed`] },
    { label: 'In grace period', value: [`${c.deferred}`] },
  ];
  if (report.unreachable) facts.push({ label: 'Not read', value: [report.unreachable.map((u) => u.target).join(', ')] });
  if (report.approval) {
    const a = report.approval;
    facts.push({ label: 'Approval', value: [a.decision, ...(a.approver ? [' by ', { literal: a.approver }] : [])] });
  }
  const instances = [...report.instances].sort((x, y) => urgency(x) - urgency(y));
  const lines = instances.map((i): Piece[] => {
    const failed = i.actions.find((a) => a.outcome === 'failed');
    const [first, ...others] = i.violations;
    return [
      { literal: instanceName(i) },
      ...(first ? [': ', { literal: first.message }] : []),
      ...(others.length ? [` (+${others.length} more)`] : []),
      ...(failed ? [`; ${failed.action} failed: `, { literal: failed.reason }] : []),
    ];
  });
  const left = instances.length + report.omitted - Math.min(instances.length, MAX_CHAT_LINES);
  return {
    tone: c.failed > 0 || report.unreachable ? 'failure' : c.violating > 0 ? 'warning' : 'success',
    title: `Tag policy${report.dryRun ? ' (dry run)' : ''}: ${c.violating} violating of ${c.scanned}`,
    facts,
    lines: lines.slice(0, MAX_CHAT_LINES),
    ...(left > 0 && { more: `and ${left} more instances: open the execution` }),
    link: { url: link, label: 'Open the execution' },
  };
}

/** Instances a chat message lists. */
const MAX_CHAT_LINES = 3;

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** The Report task's input: the whole execution state. */
export interface RunState {
  run: Run;
  scan: ScanState;
  plan?: RunPlan;
  step?: ApplyState;
  approval?: unknown;
  requester?: RequesterLookup;
}

export interface ReportDeps {
  store: RunStore;
  sns: SNSClient;
  topicArn: string;
  /** The chat channel that also gets the report (config `tagPolicy.reportChat`), and the execution's console page. */
  chat?: ChatNotifier & { executionUrl: (runId: string) => string; log: Log };
}

/**
 * The Report task: builds the report from every stored finding, publishes it, posts it to chat when configured (a chat
 * that cannot be reached costs only its message: logged, and said in `chat`), and returns it as the output.
 */
export async function reportStep(state: RunState, deps: ReportDeps): Promise<Report & { chat?: ChatDelivery[] }> {
  const findings: StoredFinding[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.store.findings(state.run.id, cursor, 500);
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
    requester: state.requester?.done ? state.requester.requester : undefined,
    findings,
    unreachable: state.scan.unreachable,
    ignored: state.scan.ignored,
  });
  const { subject, message } = renderText(report);
  await deps.sns.send(new PublishCommand({ TopicArn: deps.topicArn, Subject: subject, Message: message }));
  if (!deps.chat) return report;
  const notice = reportNotice(report, deps.chat.executionUrl(report.runId));
  return { ...report, chat: await notifyChat(notice, deps.chat, deps.chat.log, { runId: report.runId }) };
}
