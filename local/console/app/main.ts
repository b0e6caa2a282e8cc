/// <reference lib="dom" />
/**
 * The opsflow local console: one page, hash-routed views over the `/_opsflow/` API (the same ApiClient
 * the CLI uses). Views that show changing things poll the API about once a second while they are open.
 */
import {
  ApiClient,
  ApiError,
  EXECUTION_STATUSES,
  paths,
  type ChatClickResult,
  type ChatMessage,
  type ChatState,
  type ChatView,
  type ChildGroup,
  type ExecutionDetail,
  type ExecutionPage,
  type ExecutionStatus,
  type FieldType,
  type OutboxMessage,
  type RecordView,
  type StateRun,
  type StateStatus,
  type Workflow,
} from '../api';
import { duration, formatTime, h, pretty, replace, type Child } from './dom';
import { describeFailure } from './failure';
import { layoutDefinition, type LaidOutGraph } from './graph';
import { icon, iconFor, statusKey } from './icons';
import { renderGraph, type GraphView } from './render';
import { eventDetails, eventSummary, stateRuns, STATUS_WORD } from './status';
import './style.css';

const api = new ApiClient('');
const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const toast = document.getElementById('toast')!;

const SECTIONS: Array<[string, string]> = [
  ['workflows', 'State machines'],
  ['executions', 'Executions'],
  ['waiting', 'Waiting'],
  ['outbox', 'Outbox'],
  ['chat', 'Chat'],
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
  return h('span', { class: `badge badge-${statusKey(status)}` }, icon(iconFor(status)), ` ${status}`);
}

/** A state's status as a badge: icon and word. */
function stateBadge(status: StateStatus): HTMLElement {
  return h('span', { class: `badge state-${status}` }, icon(iconFor(status)), ` ${STATUS_WORD[status]}`);
}

function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'panel', 'aria-label': title }, h('h2', null, title), ...children);
}

function scrollTable(caption: string, head: string[], rows: Child[], extraClass = ''): HTMLElement {
  return h(
    'div',
    { class: `table-wrap ${extraClass}` },
    h(
      'table',
      null,
      h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          head.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h('tbody', null, rows),
    ),
  );
}

/** A table whose rows become labelled blocks on a narrow screen (each cell says its column). */
function stackTable(caption: string, head: string[], rows: Child[][], extraClass = ''): HTMLElement {
  return h(
    'div',
    { class: `table-wrap ${extraClass}` },
    h(
      'table',
      { class: 'stack' },
      h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          head.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        null,
        rows.map((cells) =>
          h(
            'tr',
            null,
            cells.map((c, i) => h('td', { 'data-label': head[i] }, c)),
          ),
        ),
      ),
    ),
  );
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
  replace(
    nav,
    h(
      'ul',
      null,
      SECTIONS.map(([id, label]) => h('li', null, h('a', { href: `#/${id}`, 'aria-current': id === active ? 'page' : undefined }, label))),
    ),
  );
  const views: Record<string, (r: Route) => Promise<HTMLElement>> = {
    workflows: workflowsView,
    executions: executionsView,
    execution: executionView,
    waiting: waitingView,
    outbox: outboxView,
    chat: chatView,
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
    ? h(
        'p',
        null,
        h('label', { for: `${id}-example` }, 'Example input '),
        h(
          'select',
          {
            id: `${id}-example`,
            onchange: (e: Event) => {
              input.value = w.examples[Number((e.target as HTMLSelectElement).value)].input;
              check();
            },
          },
          w.examples.map((ex, i) => h('option', { value: i }, ex.name)),
        ),
      )
    : null;
  const form = h(
    'form',
    { class: 'start-form', 'aria-label': `Start an execution of ${w.name}` },
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
      replace(
        result,
        h(
          'p',
          { role: 'alert', class: 'error' },
          h('strong', null, err instanceof ApiError ? err.error : 'Error'),
          ` ${err instanceof ApiError ? err.message : describeError(err)}`,
        ),
      );
    }
  });
  check();
  return h(
    'article',
    { class: 'panel workflow', id },
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
  const [page, { workflows }] = await Promise.all([
    api.executions({ workflow: workflow || undefined, status: status || undefined, offset, limit: PAGE }),
    api.health(),
  ]);
  const tbody = h('tbody');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const statusSelect = h('select', { id: 'filter-status', name: 'status' });
  const fill = (p: ExecutionPage) => {
    replace(
      tbody,
      p.items.length
        ? p.items.map((e) =>
            h(
              'tr',
              null,
              h('td', null, h('a', { href: `#/execution/${encodeURIComponent(e.executionArn)}` }, e.name)),
              h('td', null, e.workflow),
              h('td', null, statusBadge(e.status), e.error ? h('span', { class: 'muted' }, ` ${e.error}`) : null),
              h('td', null, h('time', { datetime: e.startDate }, formatTime(e.startDate))),
              h('td', null, duration(e.startDate, e.stopDate)),
            ),
          )
        : h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No executions match.')),
    );
    const last = Math.min(p.offset + p.items.length, p.total);
    summary.textContent = p.total ? `${p.offset + 1}–${last} of ${p.total.toLocaleString('en')} executions` : '0 executions';
    const link = (label: string, to: number, enabled: boolean) =>
      enabled
        ? h('a', { href: `#/executions?${new URLSearchParams({ ...(workflow && { workflow }), ...(status && { status }), offset: String(to) })}` }, label)
        : h('span', { class: 'disabled', 'aria-disabled': 'true' }, label);
    replace(pager, link('← Newer', Math.max(0, p.offset - PAGE), p.offset > 0), link('Older →', p.offset + PAGE, last < p.total));
    const total = EXECUTION_STATUSES.reduce((n, s) => n + p.counts[s], 0);
    replace(
      statusSelect,
      h('option', { value: '', selected: !status }, `All statuses (${total})`),
      EXECUTION_STATUSES.map((s) => h('option', { value: s, selected: s === status }, `${s} (${p.counts[s]})`)),
    );
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
  const workflowSelect = h(
    'select',
    { id: 'filter-workflow', name: 'workflow' },
    h('option', { value: '' }, 'All workflows'),
    workflows.map((n) => h('option', { value: n, selected: n === workflow }, n)),
  );
  const onFilter = () => go('executions', undefined, { workflow: workflowSelect.value, status: statusSelect.value });
  workflowSelect.addEventListener('change', onFilter);
  statusSelect.addEventListener('change', onFilter);
  return h(
    'div',
    null,
    h('h1', null, 'Executions'),
    h(
      'form',
      { class: 'filters', 'aria-label': 'Filter executions', onsubmit: (e: Event) => e.preventDefault() },
      h('label', { for: 'filter-workflow' }, 'Workflow '),
      workflowSelect,
      h('label', { for: 'filter-status' }, 'Status '),
      statusSelect,
    ),
    summary,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'executions' },
        h('caption', { class: 'visually-hidden' }, 'Executions, newest first'),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['Name', 'Workflow', 'Status', 'Started', 'Duration'].map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        tbody,
      ),
    ),
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
  const records = h('div');
  const stateDetails = h(
    'section',
    { class: 'panel state-details', 'aria-label': 'Selected state', 'aria-live': 'polite' },
    h('h2', null, 'State'),
    h('p', { class: 'muted' }, 'Select a state in the graph (click it, or Tab to it and press Enter).'),
  );
  const childrenBox = h('div');
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
    const counts = run?.counts
      ? Object.entries(run.counts)
          .map(([st, n]) => `${n} ${STATUS_WORD[st as StateStatus].toLowerCase()}`)
          .join(', ')
      : null;
    replace(
      stateDetails,
      h('h2', null, selected),
      h('p', null, stateBadge(status)),
      h(
        'dl',
        { class: 'facts' },
        counts ? [h('dt', null, 'Child executions'), h('dd', null, counts)] : null,
        h('dt', null, 'Started'),
        h('dd', null, run?.startedAt ? formatTime(run.startedAt) : '—'),
        h('dt', null, 'Ended'),
        h('dd', null, run?.endedAt ? formatTime(run.endedAt) : '—'),
        h('dt', null, 'Retries'),
        h('dd', null, String(run?.retries ?? 0)),
        run && run.entered > 1 ? [h('dt', null, 'Runs'), h('dd', null, String(run.entered))] : null,
      ),
      run?.error || run?.cause ? failureView(run.error, run.cause, 'h3') : null,
      h('h3', null, 'Input'),
      h('pre', { class: 'json' }, run?.input ? pretty(run.input) : '—'),
      h('h3', null, 'Output'),
      h('pre', { class: 'json' }, run?.output ? pretty(run.output) : '—'),
    );
  };

  const stopButton = h('button', { type: 'button', class: 'danger' }, 'Stop execution');
  stopButton.addEventListener('click', () =>
    confirmStop(detail, async () => {
      stopButton.disabled = true;
      try {
        await api.stop(detail.executionArn, { cause: 'Stopped from the opsflow console' });
        say('Execution stopped.');
        await refresh();
      } catch (err) {
        showError(err);
        stopButton.disabled = false;
      }
    }),
  );

  const fill = (d: ExecutionDetail) => {
    runs = stateRuns(d.events, d.status);
    // A Distributed Map's inner states run in its child executions: their history, not this one, says how they ran.
    for (const g of d.children) for (const [name, run] of Object.entries(g.states ?? {})) if (!runs.has(name)) runs.set(name, run);
    graph.update(runs);
    replace(
      header,
      h('h1', null, d.name),
      h(
        'p',
        { class: 'execution-meta' },
        statusBadge(d.status),
        ' ',
        h('a', { href: `#/executions?workflow=${encodeURIComponent(d.workflow)}` }, d.workflow),
        ' · started ',
        h('time', { datetime: d.startDate }, formatTime(d.startDate)),
        d.stopDate ? [' · ended ', h('time', { datetime: d.stopDate }, formatTime(d.stopDate))] : null,
        ` · ${duration(d.startDate, d.stopDate)}`,
      ),
      h('p', { class: 'muted arn' }, d.executionArn),
      d.parent ? h('p', { class: 'parent' }, 'Started by ', executionLink(d.parent)) : null,
      d.status === 'RUNNING' ? stopButton : null,
    );
    replace(
      banner,
      d.status !== 'RUNNING' && d.status !== 'SUCCEEDED'
        ? h('div', { class: 'banner error', role: 'alert' }, failureView(d.error ?? d.status, d.cause, 'p'))
        : null,
    );
    replace(records, d.records.map(recordPanel));
    // A group someone opened stays open while its counts change.
    const opened = new Set(Array.from(childrenBox.querySelectorAll<HTMLDetailsElement>('details[open]')).map((el) => el.dataset.key));
    replace(childrenBox, childGroups(d.children, opened));
    replace(
      io,
      h(
        'details',
        { class: 'panel' },
        h('summary', null, 'Execution input and output'),
        h('h3', null, 'Input'),
        h('pre', { class: 'json' }, pretty(d.input)),
        h('h3', null, 'Output'),
        h('pre', { class: 'json' }, d.output ? pretty(d.output) : '—'),
      ),
    );
    replace(historyBox, historyTable(d));
    showState();
  };

  const refresh = async () => {
    detail = await api.execution(arn);
    fill(detail);
  };
  fill(detail);
  const stampOf = (d: ExecutionDetail) => d.events.length + d.status + JSON.stringify(d.records) + JSON.stringify(d.children.map((g) => [g.total, g.counts]));
  let last = stampOf(detail);
  poll(async () => {
    const next = await api.execution(arn);
    const stamp = stampOf(next);
    if (stamp !== last) {
      last = stamp;
      detail = next;
      fill(next);
    }
  }, 1000);

  return h(
    'div',
    null,
    header,
    banner,
    records,
    h(
      'div',
      { class: 'graph-layout' },
      h('section', { class: 'panel graph-panel', 'aria-label': 'Graph' }, h('h2', null, 'Graph'), legendList(), h('div', { class: 'graph-scroll' }, graph.svg)),
      stateDetails,
    ),
    childrenBox,
    io,
    historyBox,
  );
}

/**
 * Asks before stopping: the running states are aborted and the execution cannot be resumed (only redriven). A modal
 * <dialog>, so the page behind cannot be used meanwhile and Escape cancels.
 */
function confirmStop(d: ExecutionDetail, stop: () => Promise<void>): void {
  const dialog = h(
    'dialog',
    { class: 'confirm', 'aria-labelledby': 'confirm-stop-title', 'aria-describedby': 'confirm-stop-text' },
    h('h2', { id: 'confirm-stop-title' }, 'Stop this execution?'),
    h(
      'p',
      { id: 'confirm-stop-text' },
      h('strong', null, d.name),
      ` of ${d.workflow} ends as ABORTED: its running states are stopped where they are, and it cannot be resumed.`,
    ),
    h(
      'form',
      { method: 'dialog', class: 'confirm-actions' },
      h('button', { type: 'submit', value: 'cancel', autofocus: true }, 'Keep it running'),
      h('button', { type: 'submit', value: 'stop', class: 'danger' }, 'Stop execution'),
    ),
  );
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (dialog.returnValue === 'stop') void stop();
  });
  document.body.append(dialog);
  dialog.showModal();
}

function executionLink(arn: string): HTMLElement {
  return h('a', { href: `#/execution/${encodeURIComponent(arn)}` }, arn.split(':').slice(-2).join(' / '));
}

/**
 * A failure as people read it: the error name, then for a function that crashed (Lambda's `errorType`,
 * `errorMessage`, `trace` JSON: Lambda.Unknown, Runtime.ExitError, ...) the message and what it means, with the
 * stack trace folded away; any other JSON cause pretty-printed, text as text.
 */
function failureView(error: string | null | undefined, cause: string | null | undefined, titleTag: 'p' | 'h3'): HTMLElement {
  const f = describeFailure(error, cause);
  return h(
    'div',
    { class: 'failure' },
    h(titleTag, { class: 'failure-title' }, h('strong', { class: 'error-name' }, f.error)),
    f.message ? h('p', { class: 'failure-message' }, f.message) : null,
    f.hint ? h('p', { class: 'muted failure-hint' }, f.hint) : null,
    f.trace.length
      ? h(
          'details',
          { class: 'trace' },
          h('summary', null, `Stack trace (${f.trace.length} line${f.trace.length === 1 ? '' : 's'})`),
          h('pre', null, f.trace.join('\n')),
        )
      : null,
    f.details ? h('pre', { class: 'cause' }, f.details) : null,
  );
}

/** The executions this one started: one folded group per Map Run or child state machine, below the graph. */
function childGroups(groups: ChildGroup[], opened: Set<string | undefined>): HTMLElement | null {
  if (groups.length === 0) return null;
  return h(
    'section',
    { class: 'panel children', 'aria-label': 'Child executions' },
    h('h2', null, 'Child executions'),
    groups.map((g) => {
      const counts = EXECUTION_STATUSES.filter((st) => g.counts[st] > 0).map((st) => [statusBadge(st), ` ${g.counts[st]} `]);
      const what = g.kind === 'map-run' ? `Map Run of ${g.label}` : `${g.label}`;
      const key = g.mapRunArn ?? g.stateMachineArn;
      return h(
        'details',
        { class: 'child-group', 'data-key': key, open: opened.has(key) },
        h(
          'summary',
          null,
          h('span', { class: 'child-label' }, what),
          ` · ${g.total} execution${g.total === 1 ? '' : 's'} `,
          h('span', { class: 'child-counts' }, counts),
        ),
        g.total > g.items.length
          ? h('p', { class: 'muted' }, `The ${g.items.length} shown: failed, timed out and aborted first, then running, then the newest.`)
          : null,
        scrollTable(
          `${what}: child executions`,
          ['Name', 'Status', 'Started', 'Duration'],
          g.items.map((c) =>
            h(
              'tr',
              null,
              h('td', null, h('a', { href: `#/execution/${encodeURIComponent(c.executionArn)}` }, c.name)),
              h('td', null, statusBadge(c.status), c.error ? h('span', { class: 'muted' }, ` ${c.error}`) : null),
              h('td', null, h('time', { datetime: c.startDate }, formatTime(c.startDate))),
              h('td', null, duration(c.startDate, c.stopDate)),
            ),
          ),
        ),
      );
    }),
  );
}

function legendList(): HTMLElement {
  const statuses: StateStatus[] = ['succeeded', 'running', 'caught', 'failed', 'aborted', 'not-reached'];
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    statuses.map((st) => h('li', { class: `state-${st}` }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), icon(iconFor(st)), ` ${STATUS_WORD[st]}`)),
  );
}

/** One record of a table with a record panel (README "Record panels"): its status, facts and list. */
function recordPanel(r: RecordView): HTMLElement {
  const value = (v: string | null, type: FieldType): Child => {
    if (v === null) return '—';
    if (type === 'time') return h('time', { datetime: v }, formatTime(v));
    if (type === 'status') return statusBadge(v);
    return v;
  };
  return section(
    `${r.panel}${r.title ? `: ${r.title}` : ''}`,
    h(
      'dl',
      { class: 'facts' },
      h('dt', null, 'Status'),
      h('dd', null, statusBadge(r.status), r.reason ? h('span', { class: 'record-reason' }, ` ${r.reason}`) : null),
      r.deadline ? [h('dt', null, 'Deadline'), h('dd', null, value(r.deadline, 'time'))] : null,
      r.facts.map((f) => [h('dt', null, f.label), h('dd', null, value(f.value, f.type))]),
      r.open && r.waitingOn.length ? [h('dt', null, 'Waiting on'), h('dd', null, r.waitingOn.map((w) => w.who).join(', '))] : null,
    ),
    r.list
      ? [
          h('h3', null, r.list.label),
          stackTable(
            r.list.label,
            r.list.columns.map((c) => c.label),
            r.list.rows.map((row) => row.map((v, i) => value(v, r.list!.columns[i].type))),
          ),
        ]
      : null,
  );
}

/** 12:48:58.123 in the browser's zone; the full date is in the title. */
function clock(iso: string): string {
  return new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, hour12: false }).format(
    new Date(iso),
  );
}

function historyTable(d: ExecutionDetail): HTMLElement {
  const start = Date.parse(d.startDate);
  return h(
    'section',
    { class: 'panel', 'aria-label': 'Event history' },
    h('h2', null, `Event history (${d.events.length})`),
    h('p', { class: 'muted' }, 'As GetExecutionHistory returns it.'),
    scrollTable(
      'Event history',
      ['ID', 'Type', 'Step', 'Elapsed', 'Time', 'Details'],
      d.events.map((e) => {
        const details = eventDetails(e);
        return h(
          'tr',
          { class: /Failed|TimedOut|Aborted/.test(e.type) ? 'row-failed' : undefined },
          h('td', null, String(e.id)),
          h('td', null, e.type),
          h('td', null, eventSummary(e)),
          h('td', null, `${Date.parse(e.timestamp) - start} ms`),
          h('td', null, h('time', { datetime: e.timestamp, title: formatTime(e.timestamp) }, clock(e.timestamp))),
          h(
            'td',
            null,
            Object.keys(details).length ? h('details', null, h('summary', null, 'Show'), h('pre', { class: 'json' }, JSON.stringify(details, null, 2))) : '',
          ),
        );
      }),
      'history',
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Waiting: the open records of every record panel the app declares (README "Record panels")

async function waitingView(): Promise<HTMLElement> {
  const box = h('div');
  let shown = '';
  const fill = async () => {
    const groups = await api.waiting();
    const text = JSON.stringify(groups);
    if (text === shown) return;
    shown = text;
    if (groups.length === 0) {
      replace(
        box,
        h(
          'p',
          { class: 'muted' },
          'The app declares no record panels, so nothing here waits on people. A table declares one in its template metadata (README "Record panels").',
        ),
      );
      return;
    }
    replace(
      box,
      groups.map((g) =>
        section(
          `${g.title} (${g.items.length})`,
          g.items.length === 0
            ? h('p', { class: 'muted' }, `No ${g.panel.toLowerCase()} is waiting.`)
            : stackTable(
                g.title,
                ['Request', 'Waiting on', 'Since', 'Deadline'],
                g.items.map((i) => [
                  [
                    h('a', { href: `#/execution/${encodeURIComponent(i.executionArn)}` }, i.title ?? i.execution),
                    h('div', { class: 'muted' }, `${i.workflow} · ${i.execution}`),
                  ],
                  i.waitingOn.length
                    ? h(
                        'ul',
                        { class: 'plain' },
                        i.waitingOn.map((w) => h('li', null, w.who)),
                      )
                    : h('span', { class: 'muted' }, 'nobody (deciding)'),
                  i.waitingOn.length
                    ? h(
                        'ul',
                        { class: 'plain' },
                        i.waitingOn.map((w) =>
                          h('li', null, w.since ? h('time', { datetime: w.since }, formatTime(w.since)) : h('span', { class: 'muted' }, 'not emailed yet')),
                        ),
                      )
                    : formatTime(i.startDate),
                  i.deadline ? [h('time', { datetime: i.deadline }, formatTime(i.deadline)), i.overdue ? h('div', { class: 'error' }, 'passed') : null] : '—',
                ]),
                'waiting',
              ),
        ),
      ),
    );
  };
  await fill();
  poll(fill, 2000);
  return h(
    'div',
    null,
    h('h1', null, 'Waiting'),
    h('p', { class: 'muted' }, 'Requests that wait on people, from the records the app declares; a request whose execution stopped waits on nobody.'),
    box,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Outbox

async function outboxView(route: Route): Promise<HTMLElement> {
  let messages = await api.outbox();
  const list = h('ul', { class: 'message-list', 'aria-label': 'Messages, newest first' });
  const reader = h('section', { class: 'panel reader', 'aria-label': 'Message', 'aria-live': 'polite' });
  const fillList = (all: OutboxMessage[]) => {
    replace(
      list,
      all.length
        ? [...all]
            .reverse()
            .map((m) =>
              h(
                'li',
                null,
                h(
                  'a',
                  { href: `#/outbox/${encodeURIComponent(m.id)}`, 'aria-current': m.id === route.id ? 'true' : undefined },
                  h('span', { class: 'subject' }, m.subject),
                  h(
                    'span',
                    { class: 'muted' },
                    `${m.service === 'ses' ? 'Email' : m.service === 'sns' ? 'SNS' : 'Chat'} · ${m.to.join(', ')} · ${formatTime(m.sentAt)}`,
                  ),
                ),
              ),
            )
        : h('li', { class: 'muted' }, 'Nothing sent yet.'),
    );
  };
  fillList(messages);
  const shown = messages.find((m) => m.id === route.id);
  if (shown) {
    replace(
      reader,
      h('h2', null, shown.subject),
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, shown.service === 'sns' ? 'Topic' : 'From'),
        h('dd', null, shown.service === 'sns' ? (shown.topicArn ?? '') : (shown.from ?? '')),
        h('dt', null, 'To'),
        h('dd', null, shown.to.join(', ')),
        h('dt', null, 'Sent'),
        h('dd', null, formatTime(shown.sentAt)),
      ),
      shown.links.length
        ? [
            h('h3', null, 'Links'),
            h(
              'ul',
              { class: 'links' },
              shown.links.map((l) => h('li', null, h('a', { href: l, target: '_blank', rel: 'noopener' }, l))),
            ),
          ]
        : null,
      shown.html !== undefined
        ? h('iframe', {
            class: 'email',
            title: `Email: ${shown.subject}`,
            sandbox: 'allow-popups allow-popups-to-escape-sandbox',
            src: paths.outboxHtml(shown.id),
          })
        : h('pre', { class: 'sns-text' }, shown.text),
    );
  } else {
    replace(
      reader,
      h('h2', null, 'Message'),
      h('p', { class: 'muted' }, messages.length ? 'Choose a message.' : 'Emails (SES) and notifications (SNS) the workflows send appear here.'),
    );
  }
  poll(async () => {
    const next = await api.outbox();
    if (next.length !== messages.length) {
      messages = next;
      fillList(next);
    }
  }, 1500);
  return h(
    'div',
    null,
    h('h1', null, 'Outbox'),
    h('div', { class: 'outbox' }, h('section', { class: 'panel', 'aria-label': 'Messages' }, h('h2', null, `Messages (${messages.length})`), list), reader),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Chat: the local chat server's messages, with buttons that click as a chosen person (README "The local chat server")

const PLATFORM_NAME = { slack: 'Slack', mattermost: 'Mattermost', teams: 'Teams' } as const;

async function chatView(): Promise<HTMLElement> {
  let state: ChatState = await api.chat();
  const who = h(
    'select',
    { id: 'chat-as', name: 'as' },
    state.users.map((u) => h('option', { value: u.email }, `${u.name} <${u.email}>`)),
  );
  const outcome = h('p', { class: 'chat-outcome', role: 'status', 'aria-live': 'polite' });
  const views = h('div', { class: 'chat-views' });
  const list = h('ol', { class: 'chat-messages', 'aria-label': 'Messages, oldest first' });
  let shownMessages = '';
  let shownViews = '';

  const fill = (next: ChatState) => {
    state = next;
    const messages = JSON.stringify(next.messages);
    if (messages !== shownMessages) {
      shownMessages = messages;
      replace(
        list,
        next.messages.length
          ? next.messages.map(messageItem)
          : h('li', { class: 'muted' }, 'Nothing posted yet. Messages the app sends to Slack, Mattermost or Teams appear here.'),
      );
    }
    // Forms waiting for input are rebuilt only when the set changes, so typing is never lost to a refresh.
    const open = JSON.stringify(next.views.map((v) => v.id));
    if (open !== shownViews) {
      shownViews = open;
      replace(views, next.views.map(viewForm));
    }
  };

  const report = (r: ChatClickResult) => {
    if (r.opened) return void window.open(r.opened, '_blank', 'noopener');
    const parts = [`${r.user} clicked ${r.button}: the app answered ${r.callback?.status}.`];
    if (r.reply) parts.push(`Shown to ${r.user} only: ${r.reply}`);
    if (r.view && !r.submitted) parts.push(`The app asks for input: "${r.view.title}".`);
    outcome.textContent = parts.join(' ');
  };

  const messageItem = (m: ChatMessage): HTMLElement =>
    h(
      'li',
      { class: `chat-message${m.visibleTo ? ' ephemeral' : ''}`, 'data-message-id': m.id },
      h(
        'p',
        { class: 'chat-meta' },
        h('span', { class: `badge badge-${m.platform}` }, PLATFORM_NAME[m.platform]),
        ` #${m.channel} · `,
        h('strong', null, m.author),
        ` · ${formatTime(m.postedAt)}`,
        m.edits ? ` · edited ${formatTime(m.updatedAt)}` : '',
        m.visibleTo ? ` · only ${m.visibleTo} sees this` : '',
        ` · ${m.id}`,
      ),
      // Text from the app is shown as text: markup in it stays visible characters, never HTML.
      m.lines.map((line) => h('p', { class: 'chat-line' }, line)),
      m.buttons.length
        ? h(
            'div',
            { class: 'chat-buttons', role: 'group', 'aria-label': `Buttons of ${m.id}` },
            m.buttons.map((b) =>
              b.url && m.platform !== 'mattermost'
                ? h('a', { class: 'chat-link', href: b.url, target: '_blank', rel: 'noopener' }, b.label)
                : h(
                    'button',
                    {
                      type: 'button',
                      class: b.style === 'primary' ? 'primary' : b.style === 'danger' ? 'danger' : undefined,
                      onclick: async (e: Event) => {
                        const button = e.currentTarget as HTMLButtonElement;
                        button.disabled = true;
                        try {
                          report(await api.chatClick(m.id, { button: b.id, as: who.value }));
                          fill(await api.chat());
                        } catch (err) {
                          outcome.textContent = describeError(err);
                        } finally {
                          button.disabled = false;
                        }
                      },
                    },
                    b.label,
                  ),
            ),
          )
        : null,
    );

  const viewForm = (v: ChatView): HTMLElement => {
    const fields = v.inputs.map((input, i) => {
      const id = `chat-view-${v.id}-${i}`;
      return h(
        'p',
        null,
        h('label', { for: id }, input.label + (input.optional ? ' (optional)' : '')),
        input.multiline ? h('textarea', { id, rows: 3, required: !input.optional }) : h('input', { id, type: 'text', required: !input.optional }),
      );
    });
    const status = h('p', { class: 'field-status', 'aria-live': 'polite' });
    return h(
      'form',
      {
        class: 'panel chat-view',
        'aria-label': `${v.title} for ${v.user}`,
        onsubmit: async (e: Event) => {
          e.preventDefault();
          const values = fields.map((f) => (f.querySelector('textarea, input') as HTMLInputElement).value);
          const user = state.users.find((u) => u.name === v.user);
          try {
            const out = await api.chatSubmit(v.id, { as: user?.email ?? v.user, values });
            status.textContent = out.errors
              ? `The app refused: ${Object.values(out.errors).join('; ')}`
              : `Submitted: the app answered ${out.callback.status}.`;
            outcome.textContent = status.textContent;
            fill(await api.chat());
          } catch (err) {
            status.textContent = describeError(err);
          }
        },
      },
      h('h2', null, `${v.title} `, h('span', { class: 'muted' }, `(${PLATFORM_NAME[v.platform]}, for ${v.user}, after a click on ${v.message})`)),
      fields,
      h('button', { type: 'submit', class: 'primary' }, 'Submit'),
      status,
    );
  };

  fill(state);
  poll(async () => fill(await api.chat()), 1500);
  return h(
    'div',
    null,
    h('h1', null, 'Chat'),
    h(
      'p',
      { class: 'muted' },
      'The local chat server stands in for Slack, Mattermost and Teams. A button sends the app the callback the platform would send, signed with the local app’s secrets, as the person chosen here.',
    ),
    h('p', null, h('label', { for: 'chat-as' }, 'Click as '), who),
    outcome,
    views,
    h('section', { class: 'panel', 'aria-label': 'Messages' }, list),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Fleet

async function fleetView(route: Route): Promise<HTMLElement> {
  const box = h('div');
  let shown = '';
  // The tag columns are the ones the app names in its template (README "Local runtime metadata"); the rest show as Tags.
  const { interestingTags: columns, organization } = await api.deployed();
  // With a simulated organization: every account's instances in every region, filtered by `#/fleet?account=&region=`.
  const account = (organization && route.params.get('account')) || undefined;
  const region = (organization && route.params.get('region')) || undefined;
  const fill = async () => {
    const fleet = await api.fleet({ account, region });
    const text = JSON.stringify(fleet);
    if (text === shown) return;
    shown = text;
    const tag = (tags: Array<{ Key: string; Value: string }>, k: string) => tags.find((t) => t.Key === k)?.Value ?? '';
    replace(
      box,
      h('p', { class: 'muted' }, `${fleet.length} instances`),
      scrollTable(
        'EC2 instances',
        [...(organization ? ['Account', 'Region'] : []), 'Instance', 'Type', 'State', ...columns, 'Tags', 'Last transition'],
        fleet.map((i) =>
          h(
            'tr',
            null,
            organization ? [h('td', null, i.account ?? '—'), h('td', null, i.region ?? '—')] : null,
            h('td', null, h('code', null, i.instanceId)),
            h('td', null, i.instanceType),
            h('td', null, statusBadge(i.state)),
            columns.map((k) => h('td', null, tag(i.tags, k) || '—')),
            h(
              'td',
              { class: 'tags' },
              i.tags.filter((t) => !columns.includes(t.Key)).map((t) => h('span', { class: 'tag' }, `${t.Key}=${t.Value}`)),
            ),
            h(
              'td',
              null,
              i.stateTransitionReason || '—',
              i.stateReason ? h('div', { class: 'muted' }, `${i.stateReason.code}: ${i.stateReason.message}`) : null,
            ),
          ),
        ),
      ),
    );
  };
  await fill();
  poll(fill, 2000);
  if (!organization) return h('div', null, h('h1', null, 'Fleet'), box);
  const accountSelect = h(
    'select',
    { id: 'filter-account', name: 'account' },
    h('option', { value: '' }, 'All accounts'),
    organization.accounts.map((a) => h('option', { value: a.id, selected: a.id === account }, `${a.id} (${a.name})`)),
  );
  const regionSelect = h(
    'select',
    { id: 'filter-region', name: 'region' },
    h('option', { value: '' }, 'All regions'),
    organization.regions.map((r) => h('option', { value: r, selected: r === region }, r)),
  );
  const onFilter = () => go('fleet', undefined, { account: accountSelect.value, region: regionSelect.value });
  accountSelect.addEventListener('change', onFilter);
  regionSelect.addEventListener('change', onFilter);
  return h(
    'div',
    null,
    h('h1', null, 'Fleet'),
    h(
      'form',
      { class: 'filters', 'aria-label': 'Filter instances', onsubmit: (e: Event) => e.preventDefault() },
      h('label', { for: 'filter-account' }, 'Account '),
      accountSelect,
      h('label', { for: 'filter-region' }, 'Region '),
      regionSelect,
    ),
    box,
  );
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
    replace(
      box,
      scrollTable(
        'Schedules',
        ['Schedule', 'Expression', 'Next fire (its time zone)', 'Last fired', 'State', ''],
        schedules.map((s) => {
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
          return h(
            'tr',
            null,
            h('td', null, s.name, h('div', { class: 'muted' }, s.targetArn.split(':').slice(-1)[0])),
            h('td', null, h('code', null, s.expression)),
            h('td', null, s.next ? [h('time', { datetime: s.next }, formatTime(s.next, s.timezone)), h('div', { class: 'muted' }, s.timezone)] : '—'),
            h('td', null, formatTime(s.lastFiredAt) || '—'),
            h('td', null, statusBadge(s.state)),
            h('td', null, fire),
          );
        }),
      ),
    );
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
  const form = h(
    'form',
    { class: 'panel faults-form', 'aria-label': 'Fault injection' },
    field('ec2ThrottleRate', 'EC2 throttle rate', String(faults.ec2ThrottleRate), 'Share of EC2 API calls answered RequestLimitExceeded, 0 to 1.', {
      type: 'number',
      min: 0,
      max: 1,
      step: 0.05,
    }),
    field('sesFailRate', 'SES failure rate', String(faults.sesFailRate), 'Share of SES sends that fail, 0 to 1.', {
      type: 'number',
      min: 0,
      max: 1,
      step: 0.05,
    }),
    field(
      'capacityErrorTypes',
      'Instance types without capacity',
      faults.capacityErrorTypes.join(', '),
      'Comma-separated, e.g. t3.micro: StartInstances fails with InsufficientInstanceCapacity.',
      { type: 'text' },
    ),
    field('crashLambdas', 'Crashing Lambda functions', faults.crashLambdas.join(', '), 'Comma-separated names or logical-id parts, e.g. ApprovalWorkerFn.', {
      type: 'text',
    }),
    h('button', { type: 'submit', class: 'primary' }, 'Save faults'),
    status,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const value = (id: string) => (form.querySelector(`#${id}`) as HTMLInputElement).value;
    const list = (id: string) =>
      value(id)
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
    try {
      await api.setFaults({
        ec2ThrottleRate: Number(value('ec2ThrottleRate')),
        sesFailRate: Number(value('sesFailRate')),
        capacityErrorTypes: list('capacityErrorTypes'),
        crashLambdas: list('crashLambdas'),
      });
      replace(status, h('p', { class: 'ok' }, 'Saved: the next request sees the new faults.'));
    } catch (err) {
      replace(status, h('p', { role: 'alert', class: 'error' }, describeError(err)));
    }
  });
  return h(
    'div',
    null,
    h('h1', null, 'Faults'),
    h('p', { class: 'muted' }, 'Failures real AWS produces now and then, switched on deliberately to exercise retries and error paths.'),
    form,
  );
}
