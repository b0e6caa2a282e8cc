/// <reference lib="dom" />
/**
 * The opsflow local console: one page, hash-routed views over the `/_opsflow/` API (the same ApiClient
 * the CLI uses). Views that show changing things poll the API about once a second while they are open.
 */
import { ApiClient, ApiError, EXECUTION_STATUSES, paths, type ExecutionDetail, type ExecutionPage, type ExecutionStatus, type OutboxMessage, type Workflow } from '../api';
import { duration, formatTime, h, pretty, replace, type Child } from './dom';
import { layoutDefinition, type LaidOutGraph } from './graph';
import { renderGraph, type GraphView } from './render';
import { eventDetails, eventSummary, stateRuns, STATUS_ICON, STATUS_WORD, type StateRun, type StateStatus } from './status';
import './style.css';

const api = new ApiClient('');
const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const toast = document.getElementById('toast')!;

const SECTIONS: Array<[string, string]> = [
  ['workflows', 'State machines'],
  ['executions', 'Executions'],
  ['outbox', 'Outbox'],
  ['fleet', 'Fleet'],
  ['schedules', 'Schedules'],
  ['faults', 'Faults'],
];

/** Timers of the open view; a route change clears them. */
let timers: number[] = [];
let generation = 0;

function poll(fn: () => Promise<void>, everyMs: number): void {
  const mine = generation;
  let busy = false;
  const tick = async () => {
    if (busy || mine !== generation || document.hidden) return;
    busy = true;
    try {
      await fn();
    } catch (err) {
      showError(err);
    } finally {
      busy = false;
    }
  };
  timers.push(window.setInterval(tick, everyMs));
}

function say(message: string): void {
  toast.textContent = message;
  toast.classList.add('shown');
  window.setTimeout(() => toast.classList.remove('shown'), 4000);
}

function describeError(err: unknown): string {
  if (err instanceof ApiError) return `${err.error}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

function showError(err: unknown): void {
  say(describeError(err));
}

function statusBadge(status: string): HTMLElement {
  const key = status.toLowerCase().replace('_', '-');
  const icon: Record<string, string> = { running: '●', succeeded: '✓', failed: '✕', 'timed-out': '⌛', aborted: '■', pending: '●', approved: '✓', rejected: '✕', expired: '⌛', stopped: '■', stopping: '◐' };
  return h('span', { class: `badge badge-${key}` }, h('span', { 'aria-hidden': 'true' }, icon[key] ?? '•'), ` ${status}`);
}

function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'panel', 'aria-label': title }, h('h2', null, title), ...children);
}

function scrollTable(caption: string, head: string[], rows: Child[], extraClass = ''): HTMLElement {
  return h('div', { class: `table-wrap ${extraClass}` }, h('table', null, h('caption', { class: 'visually-hidden' }, caption), h('thead', null, h('tr', null, head.map((c) => h('th', { scope: 'col' }, c)))), h('tbody', null, rows)));
}

// ---------------------------------------------------------------------------------------------------------
// Routing

interface Route {
  view: string;
  id?: string;
  params: URLSearchParams;
}

function currentRoute(): Route {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = hash.split('?');
  // The AWS console's route to an execution (`#/v2/executions/details/<arn>`, what an alert links to), here.
  const aws = /^(?:v2\/)?executions\/details\/(.+)$/.exec(path);
  if (aws) return { view: 'execution', id: decodeURIComponent(aws[1]), params: new URLSearchParams(query) };
  const [view, ...rest] = path.split('/');
  return { view: view || 'workflows', id: rest.length ? decodeURIComponent(rest.join('/')) : undefined, params: new URLSearchParams(query) };
}

export function go(view: string, id?: string, params?: Record<string, string | undefined>): void {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) if (v) q.set(k, v);
  const qs = q.toString();
  location.hash = `#/${view}${id ? `/${encodeURIComponent(id)}` : ''}${qs ? `?${qs}` : ''}`;
}

async function render(): Promise<void> {
  for (const t of timers) window.clearInterval(t);
  timers = [];
  generation += 1;
  const route = currentRoute();
  const active = route.view === 'execution' ? 'executions' : route.view;
  replace(nav, h('ul', null, SECTIONS.map(([id, label]) => h('li', null, h('a', { href: `#/${id}`, 'aria-current': id === active ? 'page' : undefined }, label)))));
  const views: Record<string, (r: Route) => Promise<HTMLElement>> = {
    workflows: workflowsView,
    executions: executionsView,
    execution: executionView,
    outbox: outboxView,
    fleet: fleetView,
    schedules: schedulesView,
    faults: faultsView,
  };
  const view = views[route.view] ?? workflowsView;
  const mine = generation;
  try {
    const el = await view(route);
    if (mine !== generation) return;
    replace(main, el);
    // `npm run bench` reads this mark: navigation start to the view's content in the DOM.
    performance.mark(`opsflow:${route.view}-rendered`);
  } catch (err) {
    if (mine !== generation) return;
    replace(main, section('Something went wrong', h('p', { role: 'alert', class: 'error' }, describeError(err))));
  }
  const title = SECTIONS.find(([id]) => id === active)?.[1] ?? 'Console';
  document.title = `${route.view === 'execution' ? 'Execution' : title} · opsflow local console`;
}

window.addEventListener('hashchange', () => {
  void render().then(() => main.focus({ preventScroll: true }));
});
void render();

// ---------------------------------------------------------------------------------------------------------
// State machines

async function workflowsView(): Promise<HTMLElement> {
  const workflows = await api.workflows();
  return h('div', null, h('h1', null, 'State machines'), workflows.map(workflowCard));
}

function workflowCard(w: Workflow): HTMLElement {
  const id = `wf-${w.name}`;
  const initial = w.examples[0]?.input ?? '{}';
  const input = h('textarea', { id: `${id}-input`, name: 'input', rows: 10, spellcheck: 'false', 'aria-describedby': `${id}-input-status` }, initial);
  const inputStatus = h('p', { id: `${id}-input-status`, class: 'field-status', 'aria-live': 'polite' });
  const name = h('input', { id: `${id}-name`, name: 'name', type: 'text', autocomplete: 'off', placeholder: 'generated' });
  const result = h('div', { class: 'start-result', 'aria-live': 'assertive' });
  const check = (): boolean => {
    try {
      JSON.parse(input.value);
      input.removeAttribute('aria-invalid');
      inputStatus.textContent = 'Valid JSON.';
      inputStatus.className = 'field-status ok';
      return true;
    } catch (err) {
      input.setAttribute('aria-invalid', 'true');
      inputStatus.textContent = `Not valid JSON: ${(err as Error).message}`;
      inputStatus.className = 'field-status error';
      return false;
    }
  };
  input.addEventListener('input', check);
  const example = w.examples.length
    ? h('p', null,
        h('label', { for: `${id}-example` }, 'Example input '),
        h('select', { id: `${id}-example`, onchange: (e: Event) => {
          input.value = w.examples[Number((e.target as HTMLSelectElement).value)].input;
          check();
        } }, w.examples.map((ex, i) => h('option', { value: i }, ex.file.split('/').pop()))))
    : null;
  const form = h('form', { class: 'start-form', 'aria-label': `Start an execution of ${w.name}` },
    example,
    h('label', { for: input.id }, 'Input (JSON)'),
    input,
    inputStatus,
    h('p', null, h('label', { for: name.id }, 'Execution name (optional) '), name),
    h('button', { type: 'submit', class: 'primary' }, 'Start execution'),
    result,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    replace(result);
    if (!check()) {
      replace(result, h('p', { role: 'alert', class: 'error' }, 'The input is not valid JSON: fix it before starting.'));
      input.focus();
      return;
    }
    try {
      const started = await api.start({ workflow: w.name, input: input.value, name: name.value.trim() || undefined });
      go('execution', started.executionArn);
    } catch (err) {
      replace(result, h('p', { role: 'alert', class: 'error' }, h('strong', null, err instanceof ApiError ? err.error : 'Error'), ` ${err instanceof ApiError ? err.message : describeError(err)}`));
    }
  });
  check();
  return h('article', { class: 'panel workflow', id },
    h('h2', null, w.name),
    h('p', { class: 'muted' }, w.description ?? `${Object.keys(w.definition.States).length} states, starts at ${w.definition.StartAt}.`),
    h('p', null, h('a', { href: `#/executions?workflow=${encodeURIComponent(w.name)}` }, `Executions of ${w.name}`)),
    form,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Executions

const PAGE = 50;

async function executionsView(route: Route): Promise<HTMLElement> {
  const workflow = route.params.get('workflow') ?? '';
  const status = (route.params.get('status') ?? '') as ExecutionStatus | '';
  const offset = Math.max(0, Number(route.params.get('offset') ?? 0) || 0);
  const [page, { workflows }] = await Promise.all([api.executions({ workflow: workflow || undefined, status: status || undefined, offset, limit: PAGE }), api.health()]);
  const tbody = h('tbody');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const statusSelect = h('select', { id: 'filter-status', name: 'status' });
  const fill = (p: ExecutionPage) => {
    replace(tbody, p.items.length
      ? p.items.map((e) => h('tr', null,
          h('td', null, h('a', { href: `#/execution/${encodeURIComponent(e.executionArn)}` }, e.name)),
          h('td', null, e.workflow),
          h('td', null, statusBadge(e.status), e.error ? h('span', { class: 'muted' }, ` ${e.error}`) : null),
          h('td', null, h('time', { datetime: e.startDate }, formatTime(e.startDate))),
          h('td', null, duration(e.startDate, e.stopDate))))
      : h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No executions match.')));
    const last = Math.min(p.offset + p.items.length, p.total);
    summary.textContent = p.total ? `${p.offset + 1}–${last} of ${p.total.toLocaleString('en')} executions` : '0 executions';
    const link = (label: string, to: number, enabled: boolean) => enabled
      ? h('a', { href: `#/executions?${new URLSearchParams({ ...(workflow && { workflow }), ...(status && { status }), offset: String(to) })}` }, label)
      : h('span', { class: 'disabled', 'aria-disabled': 'true' }, label);
    replace(pager, link('← Newer', Math.max(0, p.offset - PAGE), p.offset > 0), link('Older →', p.offset + PAGE, last < p.total));
    const total = EXECUTION_STATUSES.reduce((n, s) => n + p.counts[s], 0);
    replace(statusSelect, h('option', { value: '', selected: !status }, `All statuses (${total})`), EXECUTION_STATUSES.map((s) => h('option', { value: s, selected: s === status }, `${s} (${p.counts[s]})`)));
  };
  fill(page);
  let last = JSON.stringify(page);
  poll(async () => {
    const next = await api.executions({ workflow: workflow || undefined, status: status || undefined, offset, limit: PAGE });
    const text = JSON.stringify(next);
    if (text !== last) {
      last = text;
      fill(next);
    }
  }, 1000);
  const workflowSelect = h('select', { id: 'filter-workflow', name: 'workflow' }, h('option', { value: '' }, 'All workflows'), workflows.map((n) => h('option', { value: n, selected: n === workflow }, n)));
  const onFilter = () => go('executions', undefined, { workflow: workflowSelect.value, status: statusSelect.value });
  workflowSelect.addEventListener('change', onFilter);
  statusSelect.addEventListener('change', onFilter);
  return h('div', null,
    h('h1', null, 'Executions'),
    h('form', { class: 'filters', 'aria-label': 'Filter executions', onsubmit: (e: Event) => e.preventDefault() },
      h('label', { for: 'filter-workflow' }, 'Workflow '), workflowSelect,
      h('label', { for: 'filter-status' }, 'Status '), statusSelect),
    summary,
    h('div', { class: 'table-wrap' }, h('table', { class: 'executions' },
      h('caption', { class: 'visually-hidden' }, 'Executions, newest first'),
      h('thead', null, h('tr', null, ['Name', 'Workflow', 'Status', 'Started', 'Duration'].map((c) => h('th', { scope: 'col' }, c)))),
      tbody)),
    pager,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Execution detail

const layouts = new Map<string, LaidOutGraph>();

async function executionView(route: Route): Promise<HTMLElement> {
  const arn = route.id!;
  let detail = await api.execution(arn);
  const header = h('div', { class: 'execution-header' });
  const banner = h('div');
  const approval = h('div');
  const stateDetails = h('section', { class: 'panel state-details', 'aria-label': 'Selected state', 'aria-live': 'polite' }, h('h2', null, 'State'), h('p', { class: 'muted' }, 'Select a state in the graph (click it, or Tab to it and press Enter).'));
  const io = h('div');
  const historyBox = h('div');
  let selected: string | undefined;
  let runs: Map<string, StateRun> = new Map();

  const key = detail.stateMachineArn;
  let layout = layouts.get(key);
  if (!layout) {
    layout = layoutDefinition(detail.definition);
    layouts.set(key, layout);
  }
  const graph: GraphView = renderGraph(layout, (name) => {
    selected = name;
    graph.select(name);
    showState();
  });

  const showState = () => {
    if (!selected) return;
    const run = runs.get(selected);
    const status: StateStatus = run?.status ?? 'not-reached';
    replace(stateDetails,
      h('h2', null, selected),
      h('p', null, h('span', { class: `badge state-${status}` }, `${STATUS_ICON[status]} ${STATUS_WORD[status]}`)),
      h('dl', { class: 'facts' },
        h('dt', null, 'Started'), h('dd', null, run?.startedAt ? formatTime(run.startedAt) : '—'),
        h('dt', null, 'Ended'), h('dd', null, run?.endedAt ? formatTime(run.endedAt) : '—'),
        h('dt', null, 'Retries'), h('dd', null, String(run?.retries ?? 0)),
        run && run.entered > 1 ? [h('dt', null, 'Runs'), h('dd', null, String(run.entered))] : null,
        h('dt', null, 'Error'), h('dd', null, run?.error ?? '—'),
        h('dt', null, 'Cause'), h('dd', null, run?.cause ? h('pre', null, pretty(run.cause)) : '—'),
      ),
      h('h3', null, 'Input'), h('pre', { class: 'json' }, run?.input ? pretty(run.input) : '—'),
      h('h3', null, 'Output'), h('pre', { class: 'json' }, run?.output ? pretty(run.output) : '—'),
    );
  };

  const stopButton = h('button', { type: 'button', class: 'danger' }, 'Stop execution');
  stopButton.addEventListener('click', async () => {
    stopButton.disabled = true;
    try {
      await api.stop(detail.executionArn, { cause: 'Stopped from the opsflow console' });
      say('Execution stopped.');
      await refresh();
    } catch (err) {
      showError(err);
      stopButton.disabled = false;
    }
  });

  const fill = (d: ExecutionDetail) => {
    runs = stateRuns(d.events, d.status);
    graph.update(runs);
    replace(header,
      h('h1', null, d.name),
      h('p', { class: 'execution-meta' },
        statusBadge(d.status), ' ',
        h('a', { href: `#/executions?workflow=${encodeURIComponent(d.workflow)}` }, d.workflow), ' · started ',
        h('time', { datetime: d.startDate }, formatTime(d.startDate)),
        d.stopDate ? [' · ended ', h('time', { datetime: d.stopDate }, formatTime(d.stopDate))] : null,
        ` · ${duration(d.startDate, d.stopDate)}`),
      h('p', { class: 'muted arn' }, d.executionArn),
      d.status === 'RUNNING' ? stopButton : null,
    );
    replace(banner, d.status !== 'RUNNING' && d.status !== 'SUCCEEDED'
      ? h('div', { class: 'banner error', role: 'alert' }, h('p', null, h('strong', { class: 'error-name' }, d.error ?? d.status)), d.cause ? h('pre', { class: 'cause' }, pretty(d.cause)) : null)
      : null);
    replace(approval, d.approval ? approvalPanel(d) : null, relatives(d));
    replace(io, h('details', { class: 'panel' }, h('summary', null, 'Execution input and output'), h('h3', null, 'Input'), h('pre', { class: 'json' }, pretty(d.input)), h('h3', null, 'Output'), h('pre', { class: 'json' }, d.output ? pretty(d.output) : '—')));
    replace(historyBox, historyTable(d));
    showState();
  };

  const refresh = async () => {
    detail = await api.execution(arn);
    fill(detail);
  };
  fill(detail);
  let last = detail.events.length + detail.status;
  poll(async () => {
    const next = await api.execution(arn);
    const stamp = next.events.length + next.status + JSON.stringify(next.approval);
    if (stamp !== last) {
      last = stamp;
      detail = next;
      fill(next);
    }
  }, 1000);

  return h('div', null,
    header,
    banner,
    approval,
    h('div', { class: 'graph-layout' },
      h('section', { class: 'panel graph-panel', 'aria-label': 'Graph' },
        h('h2', null, 'Graph'),
        legendList(),
        h('div', { class: 'graph-scroll' }, graph.svg)),
      stateDetails),
    io,
    historyBox,
  );
}

/** The execution that started this one, and those it started (states:startExecution), as links. */
function relatives(d: ExecutionDetail): HTMLElement | null {
  let parent: string | undefined;
  try {
    parent = (JSON.parse(d.input) as Record<string, unknown>).AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID as string | undefined;
  } catch {
    parent = undefined;
  }
  const children = new Set<string>();
  for (const e of d.events) {
    if (!/^Task(Submitted|Succeeded|Failed)$/.test(e.type)) continue;
    for (const m of JSON.stringify(e).matchAll(/arn:aws:states:[^:"\\]+:\d+:execution:[^"\\\s]+/g)) if (m[0] !== d.executionArn) children.add(m[0]);
  }
  if (!parent && children.size === 0) return null;
  const link = (arn: string) => h('a', { href: `#/execution/${encodeURIComponent(arn)}` }, arn.split(':').slice(-2).join(' / '));
  return h('section', { class: 'panel', 'aria-label': 'Related executions' },
    parent ? h('p', null, 'Started by ', link(parent)) : null,
    children.size ? [h('h2', null, `Started ${children.size} execution${children.size === 1 ? '' : 's'}`), h('ul', { class: 'links' }, [...children].slice(0, 200).map((c) => h('li', null, link(c))))] : null);
}

function legendList(): HTMLElement {
  const statuses: StateStatus[] = ['succeeded', 'running', 'caught', 'failed', 'aborted', 'not-reached'];
  return h('ul', { class: 'legend', 'aria-label': 'Legend' }, statuses.map((s) => h('li', { class: `state-${s}` }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), `${STATUS_ICON[s]} ${STATUS_WORD[s]}`)));
}

function approvalPanel(d: ExecutionDetail): HTMLElement {
  const a = d.approval!;
  const voted = new Map(a.votes.map((v) => [v.approver, v]));
  return section(`Approval: ${a.title}`,
    h('dl', { class: 'facts' },
      h('dt', null, 'Status'), h('dd', null, statusBadge(a.status)),
      h('dt', null, 'Quorum'), h('dd', null, `${a.votes.filter((v) => v.decision === 'approved').length} of ${a.quorum} approvals`),
      h('dt', null, 'Deadline'), h('dd', null, h('time', { datetime: a.deadline }, formatTime(a.deadline))),
      h('dt', null, 'Reminders sent'), h('dd', null, `${a.remindersSent}${a.nextReminderAt ? ` (next ${formatTime(a.nextReminderAt)})` : ''}`),
    ),
    scrollTable('Approvers', ['Approver', 'Role', 'Asked', 'Reminded', 'Vote'], a.approvers.map((p) => {
      const vote = voted.get(p.email);
      return h('tr', null,
        h('td', null, p.email),
        h('td', null, p.role),
        h('td', null, formatTime(p.notifiedAt) || 'not yet'),
        h('td', null, formatTime(p.remindedAt) || '—'),
        h('td', null, vote ? [statusBadge(vote.decision), vote.comment ? ` “${vote.comment}”` : '', ` ${formatTime(vote.at)}`] : 'not voted'));
    })),
  );
}

/** 12:48:58.123 in the browser's zone; the full date is in the title. */
function clock(iso: string): string {
  return new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, hour12: false }).format(new Date(iso));
}

function historyTable(d: ExecutionDetail): HTMLElement {
  const start = Date.parse(d.startDate);
  return h('section', { class: 'panel', 'aria-label': 'Event history' },
    h('h2', null, `Event history (${d.events.length})`),
    h('p', { class: 'muted' }, 'As GetExecutionHistory returns it.'),
    scrollTable('Event history', ['ID', 'Type', 'Step', 'Elapsed', 'Time', 'Details'], d.events.map((e) => {
      const details = eventDetails(e);
      return h('tr', { class: /Failed|TimedOut|Aborted/.test(e.type) ? 'row-failed' : undefined },
        h('td', null, String(e.id)),
        h('td', null, e.type),
        h('td', null, eventSummary(e)),
        h('td', null, `${Date.parse(e.timestamp) - start} ms`),
        h('td', null, h('time', { datetime: e.timestamp, title: formatTime(e.timestamp) }, clock(e.timestamp))),
        h('td', null, Object.keys(details).length ? h('details', null, h('summary', null, 'Show'), h('pre', { class: 'json' }, JSON.stringify(details, null, 2))) : ''));
    }), 'history'),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Outbox

async function outboxView(route: Route): Promise<HTMLElement> {
  let messages = await api.outbox();
  const list = h('ul', { class: 'message-list', 'aria-label': 'Messages, newest first' });
  const reader = h('section', { class: 'panel reader', 'aria-label': 'Message', 'aria-live': 'polite' });
  const fillList = (all: OutboxMessage[]) => {
    replace(list, all.length ? [...all].reverse().map((m) => h('li', null,
      h('a', { href: `#/outbox/${encodeURIComponent(m.id)}`, 'aria-current': m.id === route.id ? 'true' : undefined },
        h('span', { class: 'subject' }, m.subject),
        h('span', { class: 'muted' }, `${m.service === 'ses' ? 'Email' : 'SNS'} · ${m.to.join(', ')} · ${formatTime(m.sentAt)}`)))) : h('li', { class: 'muted' }, 'Nothing sent yet.'));
  };
  fillList(messages);
  const shown = messages.find((m) => m.id === route.id);
  if (shown) {
    replace(reader,
      h('h2', null, shown.subject),
      h('dl', { class: 'facts' },
        h('dt', null, shown.service === 'ses' ? 'From' : 'Topic'), h('dd', null, shown.service === 'ses' ? (shown.from ?? '') : (shown.topicArn ?? '')),
        h('dt', null, 'To'), h('dd', null, shown.to.join(', ')),
        h('dt', null, 'Sent'), h('dd', null, formatTime(shown.sentAt))),
      shown.links.length ? [h('h3', null, 'Links'), h('ul', { class: 'links' }, shown.links.map((l) => h('li', null, h('a', { href: l, target: '_blank', rel: 'noopener' }, l))))] : null,
      shown.html !== undefined
        ? h('iframe', { class: 'email', title: `Email: ${shown.subject}`, sandbox: 'allow-popups allow-popups-to-escape-sandbox', src: paths.outboxHtml(shown.id) })
        : h('pre', { class: 'sns-text' }, shown.text),
    );
  } else {
    replace(reader, h('h2', null, 'Message'), h('p', { class: 'muted' }, messages.length ? 'Choose a message.' : 'Emails (SES) and notifications (SNS) the workflows send appear here.'));
  }
  poll(async () => {
    const next = await api.outbox();
    if (next.length !== messages.length) {
      messages = next;
      fillList(next);
    }
  }, 1500);
  return h('div', null, h('h1', null, 'Outbox'), h('div', { class: 'outbox' }, h('section', { class: 'panel', 'aria-label': 'Messages' }, h('h2', null, `Messages (${messages.length})`), list), reader));
}

// ---------------------------------------------------------------------------------------------------------
// Fleet

async function fleetView(): Promise<HTMLElement> {
  const box = h('div');
  let shown = '';
  const fill = async () => {
    const fleet = await api.fleet();
    const text = JSON.stringify(fleet);
    if (text === shown) return;
    shown = text;
    const tag = (tags: Array<{ Key: string; Value: string }>, k: string) => tags.find((t) => t.Key === k)?.Value ?? '';
    replace(box, h('p', { class: 'muted' }, `${fleet.length} instances`), scrollTable('EC2 instances', ['Instance', 'Name', 'Type', 'State', 'Schedule', 'Tags', 'Last transition'], fleet.map((i) => h('tr', null,
      h('td', null, h('code', null, i.instanceId)),
      h('td', null, tag(i.tags, 'Name')),
      h('td', null, i.instanceType),
      h('td', null, statusBadge(i.state)),
      h('td', null, tag(i.tags, 'Schedule') || '—'),
      h('td', { class: 'tags' }, i.tags.filter((t) => t.Key !== 'Name' && t.Key !== 'Schedule').map((t) => h('span', { class: 'tag' }, `${t.Key}=${t.Value}`))),
      h('td', null, i.stateTransitionReason || '—', i.stateReason ? h('div', { class: 'muted' }, `${i.stateReason.code}: ${i.stateReason.message}`) : null)))));
  };
  await fill();
  poll(fill, 2000);
  return h('div', null, h('h1', null, 'Fleet'), box);
}

// ---------------------------------------------------------------------------------------------------------
// Schedules

async function schedulesView(): Promise<HTMLElement> {
  const box = h('div');
  let shown = '';
  const fill = async () => {
    const schedules = await api.schedules();
    const text = JSON.stringify(schedules);
    if (text === shown) return;
    shown = text;
    replace(box, scrollTable('Schedules', ['Schedule', 'Expression', 'Next fire (its time zone)', 'Last fired', 'State', ''], schedules.map((s) => {
      const fire = h('button', { type: 'button', 'aria-label': `Fire ${s.name} now` }, 'Fire now');
      fire.addEventListener('click', async () => {
        fire.disabled = true;
        try {
          await api.fire(s.name);
          say(`Fired ${s.name}.`);
          await fill();
        } catch (err) {
          showError(err);
        } finally {
          fire.disabled = false;
        }
      });
      return h('tr', null,
        h('td', null, s.name, h('div', { class: 'muted' }, s.targetArn.split(':').slice(-1)[0])),
        h('td', null, h('code', null, s.expression)),
        h('td', null, s.next ? [h('time', { datetime: s.next }, formatTime(s.next, s.timezone)), h('div', { class: 'muted' }, s.timezone)] : '—'),
        h('td', null, formatTime(s.lastFiredAt) || '—'),
        h('td', null, statusBadge(s.state)),
        h('td', null, fire));
    })));
  };
  await fill();
  poll(fill, 5000);
  return h('div', null, h('h1', null, 'Schedules'), box);
}

// ---------------------------------------------------------------------------------------------------------
// Faults

async function faultsView(): Promise<HTMLElement> {
  const faults = await api.faults();
  const field = (id: string, label: string, value: string, hint: string, attrs: Record<string, string | number> = {}) => [
    h('label', { for: id }, label),
    h('input', { id, name: id, value, 'aria-describedby': `${id}-hint`, ...attrs }),
    h('p', { id: `${id}-hint`, class: 'muted hint' }, hint),
  ];
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'panel faults-form', 'aria-label': 'Fault injection' },
    field('ec2ThrottleRate', 'EC2 throttle rate', String(faults.ec2ThrottleRate), 'Share of EC2 API calls answered RequestLimitExceeded, 0 to 1.', { type: 'number', min: 0, max: 1, step: 0.05 }),
    field('sesFailRate', 'SES failure rate', String(faults.sesFailRate), 'Share of SES sends that fail, 0 to 1.', { type: 'number', min: 0, max: 1, step: 0.05 }),
    field('capacityErrorTypes', 'Instance types without capacity', faults.capacityErrorTypes.join(', '), 'Comma-separated, e.g. t3.micro: StartInstances fails with InsufficientInstanceCapacity.', { type: 'text' }),
    field('crashLambdas', 'Crashing Lambda functions', faults.crashLambdas.join(', '), 'Comma-separated names or logical-id parts, e.g. ApprovalWorkerFn.', { type: 'text' }),
    h('button', { type: 'submit', class: 'primary' }, 'Save faults'),
    status,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const value = (id: string) => (form.querySelector(`#${id}`) as HTMLInputElement).value;
    const list = (id: string) => value(id).split(',').map((v) => v.trim()).filter(Boolean);
    try {
      await api.setFaults({ ec2ThrottleRate: Number(value('ec2ThrottleRate')), sesFailRate: Number(value('sesFailRate')), capacityErrorTypes: list('capacityErrorTypes'), crashLambdas: list('crashLambdas') });
      replace(status, h('p', { class: 'ok' }, 'Saved: the next request sees the new faults.'));
    } catch (err) {
      replace(status, h('p', { role: 'alert', class: 'error' }, describeError(err)));
    }
  });
  return h('div', null, h('h1', null, 'Faults'), h('p', { class: 'muted' }, 'Failures real AWS produces now and then, switched on deliberately to exercise retries and error paths.'), form);
}
