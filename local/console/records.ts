/**
 * Record panels: an app declares, in its template, what the records of one of its tables mean to a person
 * (resource metadata `OpsflowLocal.records` on an `AWS::DynamoDB::Table`, README "Record panels"; opsflow's
 * Approval construct writes one with workflows/shared/record-panel.ts). The console shows the record of an
 * execution next to it and lists the open ones in "Waiting". The runtime knows no record shape of its own.
 *
 * Values are JSONata expressions (https://docs.jsonata.org/) over the record as JSON. A panel is checked when the
 * template is deployed: a malformed one fails `opsflow up` naming the table and the field.
 *
 * What the record says is not always the truth: a request whose execution was stopped, failed or timed out still
 * says `pending` until someone looks. So a record is open only while its status is one of `openStatuses` AND its
 * execution runs; otherwise the console shows it closed, and why (from the execution).
 */
import jsonata from 'jsonata';
import type { FieldType, RecordView, WaitingItem } from './api';

type Expression = ReturnType<typeof jsonata>;

interface Field {
  label: string;
  value: Expression;
  type: FieldType;
  whileOpen: boolean;
}

export interface RecordPanel {
  /** The table the panel was declared on. */
  table: string;
  name: string;
  waitingTitle: string;
  executionAttribute: string;
  statusAttribute: string;
  openStatuses: string[];
  title?: Expression;
  deadline?: Expression;
  closedReason?: Expression;
  facts: Field[];
  list?: { label: string; rows: Expression; columns: Field[] };
  waitingOn?: Expression;
}

/** What the console needs to know about the execution a record belongs to. */
export interface ExecutionFacts {
  status: string;
  error?: string;
  cause?: string;
}

const ATTRIBUTE = /^[A-Za-z_][A-Za-z0-9_.-]{0,254}$/;
const TYPES: readonly FieldType[] = ['text', 'time', 'status'];

/** Reads and compiles `raw` (the metadata's `records`); throws naming `where` and every bad field. */
export function parseRecordPanel(raw: unknown, table: string, where: string): RecordPanel {
  const problems: string[] = [];
  const obj = (raw ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${where}: OpsflowLocal.records must be an object`);
  const text = (key: string): string => {
    const v = obj[key];
    if (typeof v === 'string' && v.trim()) return v;
    problems.push(`${key}: must be a non-empty string`);
    return '';
  };
  const attribute = (key: string): string => {
    const v = text(key);
    if (v && !ATTRIBUTE.test(v)) problems.push(`${key}: must be an attribute name, got '${v.slice(0, 80)}'`);
    return v;
  };
  const expression = (path: string, v: unknown): Expression | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !v.trim()) {
      problems.push(`${path}: must be a JSONata expression (a string)`);
      return undefined;
    }
    try {
      return jsonata(v);
    } catch (err) {
      problems.push(`${path}: not valid JSONata (${(err as { message?: string }).message ?? String(err)})`);
      return undefined;
    }
  };
  const fields = (path: string, v: unknown): Field[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      problems.push(`${path}: must be a list of { label, value, type?, whileOpen? }`);
      return [];
    }
    return v.flatMap((f: Record<string, unknown>, i) => {
      const at = `${path}[${i}]`;
      if (typeof f?.label !== 'string' || !f.label) problems.push(`${at}.label: must be a non-empty string`);
      const type = (f?.type ?? 'text') as FieldType;
      if (!TYPES.includes(type)) problems.push(`${at}.type: must be one of ${TYPES.join(', ')}, got '${String(f?.type)}'`);
      const value = expression(`${at}.value`, f?.value ?? '');
      return value ? [{ label: String(f.label), value, type, whileOpen: f.whileOpen === true }] : [];
    });
  };

  const openStatuses = obj.openStatuses;
  if (!Array.isArray(openStatuses) || openStatuses.length === 0 || !openStatuses.every((s) => typeof s === 'string')) {
    problems.push('openStatuses: must be a non-empty list of strings');
  }
  const list = obj.list as Record<string, unknown> | undefined;
  if (list !== undefined && (typeof list !== 'object' || list === null || typeof list.label !== 'string'))
    problems.push('list: must be { label, rows, columns }');
  const panel: RecordPanel = {
    table,
    name: text('name'),
    waitingTitle: text('waitingTitle'),
    executionAttribute: attribute('executionAttribute'),
    statusAttribute: attribute('statusAttribute'),
    openStatuses: Array.isArray(openStatuses) ? openStatuses.map(String) : [],
    title: expression('title', obj.title),
    deadline: expression('deadline', obj.deadline),
    closedReason: expression('closedReason', obj.closedReason),
    facts: fields('facts', obj.facts),
    waitingOn: expression('waitingOn', obj.waitingOn),
  };
  if (list && typeof list === 'object') {
    const rows = expression('list.rows', list.rows ?? '');
    if (rows) panel.list = { label: String(list.label), rows, columns: fields('list.columns', list.columns) };
  }
  if (problems.length) throw new Error(`${where}: OpsflowLocal.records is not a valid record panel: ${problems.join('; ')}`);
  return panel;
}

/** Why a record that says it is open is not: its execution no longer runs. */
export function executionClosure(execution: ExecutionFacts | undefined): string | undefined {
  if (!execution) return 'its execution no longer exists';
  switch (execution.status) {
    case 'RUNNING':
      return undefined;
    case 'ABORTED':
      return `its execution was stopped (ABORTED)${execution.cause ? `: ${execution.cause}` : ''}`;
    case 'TIMED_OUT':
      return 'its execution timed out (TIMED_OUT)';
    case 'FAILED':
      return `its execution failed (${execution.error ?? 'no error name'})`;
    case 'SUCCEEDED':
      return 'its execution ended (SUCCEEDED)';
    default:
      return `its execution is ${execution.status}`;
  }
}

/** The record as the console shows it, next to the execution it belongs to. */
export async function recordView(panel: RecordPanel, record: Record<string, unknown>, execution: ExecutionFacts | undefined): Promise<RecordView> {
  const said = String(record[panel.statusAttribute] ?? '');
  const saysOpen = panel.openStatuses.includes(said);
  const closure = saysOpen ? executionClosure(execution) : undefined;
  const open = saysOpen && closure === undefined;
  const reason = closure ?? (saysOpen ? null : textOf(await evaluate(panel.closedReason, record)));
  const show = (f: Field) => !f.whileOpen || open;
  const facts = await Promise.all(
    panel.facts.filter(show).map(async (f) => ({ label: f.label, type: f.type, value: textOf(await evaluate(f.value, record)) })),
  );
  let list: RecordView['list'] = null;
  if (panel.list) {
    const rows = asList(await evaluate(panel.list.rows, record));
    const columns = panel.list.columns.filter(show);
    list = {
      label: panel.list.label,
      columns: columns.map((c) => ({ label: c.label, type: c.type })),
      rows: await Promise.all(rows.map((row) => Promise.all(columns.map(async (c) => textOf(await evaluate(c.value, row, { record })))))),
    };
  }
  return {
    panel: panel.name,
    title: textOf(await evaluate(panel.title, record)),
    status: closure ? 'closed' : said,
    open,
    reason: reason || null,
    deadline: textOf(await evaluate(panel.deadline, record)),
    facts,
    list,
    waitingOn: open ? await waitingOn(panel, record) : [],
  };
}

/** The waiting view's line for an open record. */
export async function waitingItem(
  panel: RecordPanel,
  record: Record<string, unknown>,
  nowMs: number,
): Promise<Omit<WaitingItem, 'executionArn' | 'execution' | 'workflow' | 'startDate'>> {
  const deadline = textOf(await evaluate(panel.deadline, record));
  return {
    title: textOf(await evaluate(panel.title, record)),
    deadline,
    overdue: deadline !== null && Date.parse(deadline) <= nowMs,
    waitingOn: await waitingOn(panel, record),
  };
}

async function waitingOn(panel: RecordPanel, record: Record<string, unknown>): Promise<RecordView['waitingOn']> {
  return asList(await evaluate(panel.waitingOn, record)).flatMap((w) => {
    const who = textOf((w as Record<string, unknown>)?.who);
    return who ? [{ who, since: textOf((w as Record<string, unknown>).since) }] : [];
  });
}

async function evaluate(expr: Expression | undefined, input: unknown, bindings?: Record<string, unknown>): Promise<unknown> {
  if (!expr) return undefined;
  try {
    return await expr.evaluate(input, bindings);
  } catch {
    return undefined; // a record the expression does not fit shows "—", it does not break the page
  }
}

/** JSONata gives a single value where a path matches once, and undefined where it matches nothing. */
function asList(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function textOf(v: unknown): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v))
    return (
      v
        .map((x) => textOf(x) ?? '')
        .filter(Boolean)
        .join(', ') || null
    );
  return JSON.stringify(v);
}
