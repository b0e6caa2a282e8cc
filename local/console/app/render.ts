/// <reference lib="dom" />
/**
 * Draws a laid-out state machine (graph.ts) as SVG, each state with its status by colour AND by an icon
 * and a word, focusable and clickable (Enter/Space) to show its details.
 */
import type { StateRun, StateStatus } from '../api';
import type { LaidOutGraph } from './graph';
import { s } from './dom';
import { iconFor, setIcon, svgIcon } from './icons';
import { STATUS_WORD } from './status';

export interface GraphView {
  svg: SVGSVGElement;
  /** Re-colours the states from new runs without laying out again. */
  update(runs: Map<string, StateRun>): void;
  select(name: string | undefined): void;
}

export function renderGraph(graph: LaidOutGraph, onSelect: (stateName: string) => void): GraphView {
  const pad = 8;
  const width = Math.ceil(graph.width + pad * 2);
  const height = Math.ceil(graph.height + pad * 2);
  const svg = s('svg', { class: 'graph', viewBox: `${-pad} ${-pad} ${width} ${height}`, width, height, role: 'group', 'aria-label': 'State machine graph' });
  svg.append(
    s(
      'defs',
      null,
      s(
        'marker',
        { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }),
      ),
      s(
        'marker',
        { id: 'arrow-catch', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead catch' }),
      ),
    ),
  );
  for (const g of graph.groups) {
    const x = g.x - g.width / 2;
    const y = g.y - g.height / 2;
    svg.append(
      s(
        'g',
        { class: `group group-${g.kind.toLowerCase()}` },
        s('rect', { x, y, width: g.width, height: g.height, rx: 8 }),
        // Bottom left: dagre leaves no room at the top of a group, where its first state sits.
        s('text', { x: x + 8, y: y + g.height - 5, class: 'group-label' }, g.kind === 'Branch' ? g.label : `${g.kind} · ${g.label}`),
      ),
    );
  }
  for (const e of graph.edges) {
    if (e.points.length < 2) continue;
    const d = e.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    svg.append(s('path', { d, class: `edge edge-${e.kind}`, 'marker-end': e.kind === 'catch' ? 'url(#arrow-catch)' : 'url(#arrow)' }));
  }
  const nodes = new Map<string, { el: SVGGElement; word: SVGTextElement; mark: SVGSVGElement; name: string; type: string }[]>();
  for (const n of graph.nodes) {
    const x = n.x - n.width / 2;
    const y = n.y - n.height / 2;
    if (n.kind === 'terminal') {
      svg.append(
        s(
          'g',
          { class: 'terminal', 'aria-hidden': 'true' },
          s('rect', { x, y, width: n.width, height: n.height, rx: n.height / 2 }),
          s('text', { x: n.x, y: n.y + 4, 'text-anchor': 'middle' }, n.name),
        ),
      );
      continue;
    }
    if (n.kind === 'join') {
      svg.append(s('circle', { cx: n.x, cy: n.y, r: n.width / 2, class: 'join', 'aria-hidden': 'true' }));
      continue;
    }
    const word = s('text', { x: x + 24, y: y + 32, class: 'status-word' });
    const mark = svgIcon('ring', x + 10, y + 23, 11);
    const el = s(
      'g',
      { class: 'node status-not-reached', tabindex: 0, role: 'button', 'data-state': n.name },
      s('rect', { x, y, width: n.width, height: n.height, rx: 6 }),
      s('text', { x: x + 10, y: y + 16, class: 'state-name' }, n.name),
      mark,
      word,
      s('text', { x: x + n.width - 8, y: y + 32, class: 'state-type', 'text-anchor': 'end' }, n.type ?? ''),
    );
    const activate = () => onSelect(n.name);
    el.addEventListener('click', activate);
    el.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        activate();
      }
    });
    svg.append(el);
    nodes.set(n.name, [...(nodes.get(n.name) ?? []), { el, word, mark, name: n.name, type: n.type ?? '' }]);
  }

  const view: GraphView = {
    svg,
    update(runs) {
      for (const [name, entries] of nodes) {
        const run = runs.get(name);
        const status: StateStatus = run?.status ?? 'not-reached';
        const extra = run && run.entered > 1 ? ` ×${run.entered}` : '';
        for (const { el, word, mark, type } of entries) {
          el.setAttribute('class', `node status-${status}${el.classList.contains('selected') ? ' selected' : ''}`);
          setIcon(mark, iconFor(status));
          word.textContent = `${STATUS_WORD[status]}${extra}`;
          el.setAttribute('aria-label', `${name}, ${type} state: ${STATUS_WORD[status]}${extra}`);
        }
      }
    },
    select(name) {
      for (const [n, entries] of nodes) for (const { el } of entries) el.classList.toggle('selected', n === name);
    },
  };
  view.update(new Map());
  return view;
}
