/**
 * A compact layered layout of a machine graph, computed on the server (synchronously, no
 * worker): in every compound state (and the machine itself) the children stand in rows by
 * their distance from the initial child along the transitions between them; a compound state
 * is a box around its own rows. Transitions that stay in their state (self-loops and
 * targetless ones) are listed inside the state's box instead of drawn as arrows.
 */
import type { GraphState, GraphTransition, MachineGraph } from './statechart.ts';

export type Box = { x: number; y: number; width: number; height: number };

export type PlacedState = GraphState & Box & {
  /** The key shown as the title: `closing` for `paying.closing`. */
  label: string;
  /** The transitions that stay in this state, one line each. */
  inner: GraphTransition[];
  compound: boolean;
};

export type PlacedEdge = { source: string; target: string; transition: GraphTransition };

export type Layout = { width: number; height: number; states: PlacedState[]; edges: PlacedEdge[] };

/** Sizes in CSS pixels at 100 % zoom; text widths are estimated per character (no font metrics on the server). */
export const metrics = {
  title_px: 14,
  line_px: 12,
  char_px: 7.4,
  title_char_px: 8.6,
  padding_px: 10,
  line_height_px: 17,
  row_gap_px: 76,
  column_gap_px: 48,
  margin_px: 24,
} as const;

const keyOf = (id: string): string => id.slice(id.lastIndexOf('.') + 1);
/** Whether a state is `ancestor` or one of its descendants. */
export const isWithin = (id: string, ancestor: string): boolean => id === ancestor || id.startsWith(`${ancestor}.`);

/** A transition's trigger as one line: `flow.report [reportSettles(phase=open)]`, `after 5000ms`, `always`. */
export function triggerLabel(t: GraphTransition): string {
  const trigger = t.delay !== null ? `after ${t.delay}${typeof t.delay === 'number' ? 'ms' : ''}` : (t.event ?? 'always');
  return t.guard === null ? trigger : `${trigger} [${t.guard}]`;
}

/** A self-transition re-enters its state; a targetless one only runs actions: both stay, so both are listed. */
const staysIn = (t: GraphTransition): boolean => t.targets.length === 0 || t.targets.every((target) => target === t.source);

type Sized = { id: string; width: number; height: number; children: Sized[]; headerHeight: number; rows: Sized[][] };

function headerSize(state: GraphState, inner: GraphTransition[]): { width: number; height: number } {
  const m = metrics;
  const title = keyOf(state.id).length * m.title_char_px;
  const lines = inner.map((t) => (triggerLabel(t).length + 2) * m.char_px);
  return { width: Math.max(title, ...lines) + 2 * m.padding_px, height: m.padding_px + m.title_px + 6 + inner.length * m.line_height_px + m.padding_px };
}

/**
 * The rows of a container's children, as a layered layout ranks them: edges that lead back
 * towards the initial child (found by a depth-first walk from it) are set aside, and every
 * other child goes one row below the deepest child with an edge into it (longest path).
 */
function rowsOf(children: GraphState[], edges: PlacedEdge[]): GraphState[][] {
  const childOf = (id: string) => children.find((c) => isWithin(id, c.id));
  const next = new Map<string, Set<string>>(children.map((c) => [c.id, new Set()]));
  for (const e of edges) {
    const from = childOf(e.source);
    const to = childOf(e.target);
    if (from && to && from !== to) next.get(from.id)!.add(to.id);
  }
  const start = children.find((c) => c.initial) ?? children[0];
  const order = [...(start ? [start] : []), ...children.filter((c) => c !== start)];
  // Depth-first from the initial child (then any child not reached): an edge to a child still on the walk goes back.
  const onWalk = new Set<string>();
  const done = new Set<string>();
  const forward = new Map<string, string[]>(children.map((c) => [c.id, []]));
  const walk = (id: string): void => {
    onWalk.add(id);
    for (const to of next.get(id)!) {
      if (onWalk.has(to)) continue;
      forward.get(id)!.push(to);
      if (!done.has(to)) walk(to);
    }
    onWalk.delete(id);
    done.add(id);
  };
  for (const c of order) if (!done.has(c.id)) walk(c.id);
  const depth = new Map<string, number>();
  const depthOf = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    const from = children.filter((c) => forward.get(c.id)!.includes(id));
    const d = from.length === 0 ? 0 : Math.max(...from.map((c) => depthOf(c.id))) + 1;
    depth.set(id, d);
    return d;
  };
  const rows: GraphState[][] = [];
  for (const c of order) (rows[depthOf(c.id)] ??= []).push(c);
  return rows.filter((row) => row.length > 0).map((row) => children.filter((c) => row.includes(c)));
}

function size(graph: MachineGraph, edges: PlacedEdge[], state: GraphState | null, inner: Map<string, GraphTransition[]>): Sized {
  const m = metrics;
  const children = graph.states.filter((s) => s.parent === (state?.id ?? null));
  const rows = rowsOf(children, edges).map((row) => row.map((child) => size(graph, edges, child, inner)));
  const rowsWidth = Math.max(0, ...rows.map((row) => row.reduce((w, s) => w + s.width, 0) + (row.length - 1) * m.column_gap_px));
  const rowsHeight = rows.reduce((h, row) => h + Math.max(...row.map((s) => s.height)), 0) + Math.max(0, rows.length - 1) * m.row_gap_px;
  if (state === null) return { id: '', width: rowsWidth, height: rowsHeight, children: rows.flat(), headerHeight: 0, rows };
  const header = headerSize(state, inner.get(state.id) ?? []);
  if (rows.length === 0) return { id: state.id, ...header, children: [], headerHeight: header.height, rows };
  return {
    id: state.id,
    width: Math.max(header.width, rowsWidth + 2 * m.padding_px),
    height: header.height + rowsHeight + m.padding_px * 2,
    children: rows.flat(),
    headerHeight: header.height,
    rows,
  };
}

/** Places a sized container's rows at (x, y), each row centred in the container's width. */
function place(sized: Sized, x: number, y: number, out: Map<string, Box>): void {
  const m = metrics;
  out.set(sized.id, { x, y, width: sized.width, height: sized.height });
  const inset = sized.id === '' ? 0 : m.padding_px;
  let top = y + sized.headerHeight + (sized.id === '' ? 0 : m.padding_px);
  for (const row of sized.rows) {
    const rowWidth = row.reduce((w, s) => w + s.width, 0) + (row.length - 1) * m.column_gap_px;
    let left = x + inset + (sized.width - 2 * inset - rowWidth) / 2;
    for (const child of row) {
      place(child, left, top, out);
      left += child.width + m.column_gap_px;
    }
    top += Math.max(...row.map((s) => s.height)) + m.row_gap_px;
  }
}

export function layoutOf(graph: MachineGraph): Layout {
  const inner = new Map<string, GraphTransition[]>();
  const edges: PlacedEdge[] = [];
  for (const t of graph.transitions) {
    if (staysIn(t)) inner.set(t.source, [...(inner.get(t.source) ?? []), t]);
    else for (const target of t.targets.filter((target) => target !== t.source)) edges.push({ source: t.source, target, transition: t });
  }
  const root = size(graph, edges, null, inner);
  const boxes = new Map<string, Box>();
  place(root, metrics.margin_px, metrics.margin_px, boxes);
  const states = graph.states.map((s): PlacedState => ({
    ...s, ...boxes.get(s.id)!, label: keyOf(s.id), inner: inner.get(s.id) ?? [], compound: graph.states.some((c) => c.parent === s.id),
  }));
  // Room on the right for edges that go back up the chart.
  return { width: root.width + 2 * metrics.margin_px + 80, height: root.height + 2 * metrics.margin_px, states, edges };
}
