/**
 * A state machine definition as a laid-out graph: states are boxes, Map and Parallel states are nested
 * groups (a Parallel holds one dashed group per branch), transitions are edges (Next, Choice rules, Default,
 * Catch). The layout is @dagrejs/dagre's (compound graph); drawing is the console's job (render.ts).
 * Pure: no DOM, so the bench times exactly this.
 */
import dagre, { type Graph } from '@dagrejs/dagre';
import type { AslDefinition, AslState } from '../api';

export type NodeKind = 'state' | 'terminal' | 'join';
export type EdgeKind = 'next' | 'choice' | 'default' | 'catch';

export interface GraphNode {
  id: string;
  /** The ASL state name (what history events name); for terminals 'Start'/'End'. */
  name: string;
  kind: NodeKind;
  /** ASL type (Task, Choice, Map, ...) for states. */
  type?: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GraphGroup {
  id: string;
  /** State name of the Map/Parallel, or `Branch N` for a Parallel branch. */
  label: string;
  kind: 'Map' | 'Parallel' | 'Branch';
  x: number;
  y: number;
  width: number;
  height: number;
  depth: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  points: Array<{ x: number; y: number }>;
}

export interface LaidOutGraph {
  width: number;
  height: number;
  nodes: GraphNode[];
  groups: GraphGroup[];
  edges: GraphEdge[];
}

const NODE_H = 40;
const CHAR_W = 7.2;
const TERMINAL = 18;

/**
 * Wide enough for the name (bold, 12px) and for the status line: its icon, a word with a count over a Distributed
 * Map's child executions ("Succeeded ×10000", bold 11px) and the type (10px).
 */
export function nodeWidth(name: string, type?: string): number {
  const nameLine = name.length * CHAR_W + 24;
  const statusLine = 24 + 16 * 6.8 + 8 + (type ?? '').length * 6 + 8;
  return Math.round(Math.max(120, Math.min(300, Math.max(nameLine, statusLine))));
}

interface Building {
  g: Graph;
  nodes: Map<string, Omit<GraphNode, 'x' | 'y'>>;
  groups: Map<string, Omit<GraphGroup, 'x' | 'y' | 'width' | 'height'>>;
  edges: Array<{ from: string; to: string; kind: EdgeKind }>;
}

/** Lays out `definition`; Map/Parallel states become compound nodes holding their branches. */
export function layoutDefinition(definition: AslDefinition): LaidOutGraph {
  const g: Graph = new dagre.graphlib.Graph({ compound: true, multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 28, ranksep: 34, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const b: Building = { g, nodes: new Map(), groups: new Map(), edges: [] };

  addNode(b, 'start', { id: 'start', name: 'Start', kind: 'terminal', width: 56, height: TERMINAL * 2 });
  addNode(b, 'end', { id: 'end', name: 'End', kind: 'terminal', width: 56, height: TERMINAL * 2 });
  const { entry, exits } = addScope(b, definition, '', undefined, 0);
  addEdge(b, 'start', entry, 'next');
  for (const exit of exits) addEdge(b, exit, 'end', 'next');

  dagre.layout(g);

  const nodes: GraphNode[] = [...b.nodes.values()].map((n) => {
    const at = g.node(n.id) as { x: number; y: number };
    return { ...n, x: at.x, y: at.y };
  });
  const groups: GraphGroup[] = [...b.groups.values()].map((grp) => {
    const at = g.node(grp.id) as { x: number; y: number; width: number; height: number };
    return { ...grp, x: at.x, y: at.y, width: at.width, height: at.height };
  });
  groups.sort((a, c) => a.depth - c.depth);
  const edges: GraphEdge[] = g.edges().map((e: { v: string; w: string; name?: string }) => {
    const label = g.edge(e) as { points?: Array<{ x: number; y: number }>; kind: EdgeKind };
    return { from: e.v, to: e.w, kind: label.kind, points: label.points ?? [] };
  });
  const graph = g.graph() as { width?: number; height?: number };
  return { width: graph.width ?? 0, height: graph.height ?? 0, nodes, groups, edges };
}

function addNode(b: Building, id: string, node: Omit<GraphNode, 'x' | 'y'>, parent?: string): void {
  b.nodes.set(id, node);
  b.g.setNode(id, { width: node.width, height: node.height });
  if (parent) b.g.setParent(id, parent);
}

function addGroup(b: Building, id: string, group: Omit<GraphGroup, 'x' | 'y' | 'width' | 'height'>, parent?: string): void {
  b.groups.set(id, group);
  b.g.setNode(id, { paddingTop: 28, paddingBottom: 12 });
  if (parent) b.g.setParent(id, parent);
}

let edgeCounter = 0;
function addEdge(b: Building, from: string, to: string, kind: EdgeKind): void {
  b.g.setEdge(from, to, { kind, minlen: 1, weight: kind === 'catch' ? 1 : 2 }, `e${edgeCounter++}`);
}

/**
 * Adds one scope (the top level, a Map's ItemProcessor, a Parallel branch) under `parent`; returns the node
 * that enters it and the nodes that leave it (End states).
 */
function addScope(b: Building, def: AslDefinition, prefix: string, parent: string | undefined, depth: number): { entry: string; exits: string[] } {
  const id = (name: string) => `${prefix}${name}`;
  // A Map/Parallel is entered at its own box (inside its group) and left from its join point.
  const enter = new Map<string, string>();
  const leave = new Map<string, string>();
  for (const [name, state] of Object.entries(def.States)) {
    const sid = id(name);
    const nested = nestedScopes(state);
    if (!nested) {
      addNode(b, sid, { id: sid, name, kind: 'state', type: state.Type, width: nodeWidth(name, state.Type), height: NODE_H }, parent);
      enter.set(name, sid);
      leave.set(name, sid);
      continue;
    }
    const groupId = `${sid}::group`;
    addGroup(b, groupId, { id: groupId, label: name, kind: state.Type === 'Map' ? 'Map' : 'Parallel', depth }, parent);
    addNode(b, sid, { id: sid, name, kind: 'state', type: state.Type, width: nodeWidth(name, state.Type), height: NODE_H }, groupId);
    const join = `${sid}::join`;
    addNode(b, join, { id: join, name, kind: 'join', width: 14, height: 14 }, groupId);
    nested.forEach((branch, i) => {
      let branchParent = groupId;
      if (state.Type === 'Parallel') {
        branchParent = `${sid}::branch${i}`;
        addGroup(b, branchParent, { id: branchParent, label: `Branch ${i + 1}`, kind: 'Branch', depth: depth + 1 }, groupId);
      }
      const inner = addScope(b, branch, `${sid}/${i}/`, branchParent, depth + 2);
      addEdge(b, sid, inner.entry, 'next');
      for (const exit of inner.exits) addEdge(b, exit, join, 'next');
    });
    enter.set(name, sid);
    leave.set(name, join);
  }
  const exits: string[] = [];
  for (const [name, state] of Object.entries(def.States)) {
    const from = leave.get(name)!;
    const to = (target: string | undefined) => (target ? enter.get(target) : undefined);
    const link = (target: string | undefined, kind: EdgeKind) => {
      const t = to(target);
      if (t) addEdge(b, from, t, kind);
    };
    link(state.Next, 'next');
    for (const rule of state.Choices ?? []) link(rule.Next, 'choice');
    link(state.Default, 'default');
    // A catch leaves from the state itself (for Map/Parallel: from the group's join point, the whole state failed).
    for (const c of state.Catch ?? []) link(c.Next, 'catch');
    if (state.End || state.Type === 'Succeed' || state.Type === 'Fail') exits.push(from);
  }
  return { entry: enter.get(def.StartAt) ?? id(def.StartAt), exits };
}

function nestedScopes(state: AslState): AslDefinition[] | undefined {
  if (state.Type === 'Parallel') return state.Branches ?? [];
  if (state.Type === 'Map') {
    const processor = state.ItemProcessor ?? state.Iterator;
    return processor ? [processor] : [];
  }
  return undefined;
}

/** How many states a definition has, nested ones included (the bench picks the largest machine by it). */
export function countStates(def: AslDefinition): number {
  let n = 0;
  for (const state of Object.values(def.States)) {
    n += 1;
    for (const scope of nestedScopes(state) ?? []) n += countStates(scope);
  }
  return n;
}
