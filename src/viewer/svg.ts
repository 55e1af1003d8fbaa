/**
 * A laid-out machine as an SVG drawn on the server: compound states as nested boxes, the
 * transitions that stay in a state listed inside it, one arrow per (source, target) pair with
 * every trigger on its label, and optionally an order's journey on top (numbered steps). The
 * classes carry the meaning (current, visited, initial, final); the page's legend explains them
 * and the served script moves them. Every text goes through hono/html, which escapes it.
 */
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { type Box, type Layout, type PlacedEdge, type PlacedState, isWithin, metrics, triggerLabel } from './layout.ts';
import type { Highlight } from './statechart.ts';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;
type Point = { x: number; y: number };
type Curve = [Point, Point, Point, Point];

/** One state change of an order: from (null for its creation) to, as leaf state ids. */
export type JourneyStep = { step: number; from: string | null; to: string };

const n = (v: number): string => v.toFixed(1);
const right = (b: Box) => b.x + b.width;
const bottom = (b: Box) => b.y + b.height;
const centre = (b: Box): Point => ({ x: b.x + b.width / 2, y: b.y + b.height / 2 });

/** Where an initial state's entry dot sits: just above its top-left corner. */
const entryDot = (b: Box): Point => ({ x: b.x - 8, y: b.y - 14 });

/** A curve from one box to another: down the chart, back up along the right, or sideways. `shift` separates repeats. */
function curveOf(s: Box, t: Box, shift = 0): Curve {
  if (t.y >= bottom(s)) {
    const a = { x: centre(s).x + shift, y: bottom(s) };
    const b = { x: centre(t).x + shift, y: t.y };
    const dy = (b.y - a.y) / 2;
    return [a, { x: a.x, y: a.y + dy }, { x: b.x, y: b.y - dy }, b];
  }
  if (bottom(t) <= s.y) {
    const a = { x: right(s), y: centre(s).y + shift };
    const b = { x: right(t), y: centre(t).y + shift };
    const bulge = Math.max(a.x, b.x) + 40 + shift;
    return [a, { x: bulge, y: a.y }, { x: bulge, y: b.y }, b];
  }
  if (t.x >= right(s)) {
    const a = { x: right(s), y: centre(s).y + shift };
    const b = { x: t.x, y: centre(t).y + shift };
    return [a, { x: (a.x + b.x) / 2, y: a.y }, { x: (a.x + b.x) / 2, y: b.y }, b];
  }
  // Overlapping boxes (one inside the other, or side by side the other way): loop out to the left.
  const a = { x: s.x, y: centre(s).y + shift };
  const b = { x: t.x, y: Math.min(bottom(t) - 6, Math.max(t.y + 6, a.y + 24)) };
  const bulge = Math.min(a.x, b.x) - 30 - shift;
  return [a, { x: bulge, y: a.y }, { x: bulge, y: b.y }, b];
}

const pathOf = ([a, b, c, d]: Curve): string => `M${n(a.x)},${n(a.y)} C${n(b.x)},${n(b.y)} ${n(c.x)},${n(c.y)} ${n(d.x)},${n(d.y)}`;
/** The point of a cubic Bézier at parameter `t` (0 at the start, 1 at the end). */
function pointAt([a, b, c, d]: Curve, t: number): Point {
  const u = 1 - t;
  const at = (k: 'x' | 'y') => u * u * u * a[k] + 3 * u * u * t * b[k] + 3 * u * t * t * c[k] + t * t * t * d[k];
  return { x: at('x'), y: at('y') };
}

/** An arrow's path, where its label goes (and which way it reads from there), and where a step's number goes: apart from the label. */
type Route = { d: string; label: Point; anchor: 'middle' | 'start' | 'end'; badge: Point };

const overlaps = (a: Box, left: number, rightX: number, top: number, bottomY: number): boolean =>
  a.x < rightX && right(a) > left && a.y < bottomY && bottom(a) > top;

/**
 * A downward arrow whose straight way is blocked by another state (it skips a row) goes round
 * the blocking states on the side nearer its target, down a clear lane, instead of through them.
 */
function routeOf(s: PlacedState, t: PlacedState, states: PlacedState[], shift = 0): Route {
  const curve = curveOf(s, t, shift);
  const [a, , , b] = curve;
  const related = (o: PlacedState) => isWithin(s.id, o.id) || isWithin(t.id, o.id);
  const blocking = t.y >= bottom(s)
    ? states.filter((o) => !related(o) && overlaps(o, Math.min(a.x, b.x) - 4, Math.max(a.x, b.x) + 4, a.y + 1, b.y - 1))
    : [];
  if (blocking.length === 0) return { d: pathOf(curve), label: pointAt(curve, 0.5), anchor: 'middle', badge: pointAt(curve, 0.25) };
  const leftEdge = Math.min(...blocking.map((o) => o.x));
  const rightEdge = Math.max(...blocking.map(right));
  const goLeft = b.x - leftEdge < rightEdge - b.x;
  const lane = goLeft ? leftEdge - 18 - Math.abs(shift) : rightEdge + 18 + Math.abs(shift);
  const top = Math.max(a.y + 24, Math.min(...blocking.map((o) => o.y)) - 12);
  const low = Math.min(b.y - 24, Math.max(...blocking.map(bottom)) + 12);
  const d = `M${n(a.x)},${n(a.y)} C${n(a.x)},${n(top)} ${n(lane)},${n(a.y)} ${n(lane)},${n(top)} L${n(lane)},${n(low)} C${n(lane)},${n(b.y)} ${n(b.x)},${n(low)} ${n(b.x)},${n(b.y)}`;
  return { d, label: { x: lane + (goLeft ? -6 : 6), y: (top + low) / 2 }, anchor: goLeft ? 'end' : 'start', badge: { x: lane, y: top + (low - top) / 4 } };
}

function stateBox(s: PlacedState, highlight: Highlight): Html {
  const m = metrics;
  const classes = ['state', s.compound ? 'compound' : 'atomic', s.final ? 'final' : '', s.initial ? 'initial' : '',
    highlight.current.includes(s.id) ? 'current' : '', highlight.visited.includes(s.id) ? 'visited' : ''].filter(Boolean).join(' ');
  const titleY = s.y + m.padding_px + m.title_px - 2;
  const lines = s.inner.map((t, i) => html`<text class="inner" x="${n(s.x + m.padding_px)}" y="${n(titleY + 6 + (i + 1) * m.line_height_px)}">↻ ${triggerLabel(t)}</text>`);
  const dot = s.initial ? entryDot(s) : null;
  const entry = dot ? html`<circle class="entry" cx="${n(dot.x)}" cy="${n(dot.y)}" r="4"/><path class="entry" d="M${n(dot.x)},${n(dot.y)} L${n(s.x + 6)},${n(s.y)}"/>` : '';
  const inset = s.final ? html`<rect class="final-inset" x="${n(s.x + 3)}" y="${n(s.y + 3)}" width="${n(s.width - 6)}" height="${n(s.height - 6)}" rx="6"/>` : '';
  return html`<g class="${classes}" data-state="${s.id}" tabindex="0" role="button" aria-label="state ${s.id}">
<rect x="${n(s.x)}" y="${n(s.y)}" width="${n(s.width)}" height="${n(s.height)}" rx="8"/>${inset}${entry}
<text class="title" x="${n(s.x + m.padding_px)}" y="${n(titleY)}">${s.label}</text>${lines}</g>`;
}

/** Edges between the same two states share one arrow; their triggers stack on its label. */
function edgeGroups(edges: PlacedEdge[]): PlacedEdge[][] {
  const groups = new Map<string, PlacedEdge[]>();
  for (const e of edges) groups.set(`${e.source}\u0000${e.target}`, [...(groups.get(`${e.source}\u0000${e.target}`) ?? []), e]);
  return [...groups.values()];
}

type Arrow = { group: PlacedEdge[]; route: Route; from: number; to: number };

/** An arrow with the horizontal extent of its label (estimated), so the picture can be made wide enough for it. */
function arrowOf(group: PlacedEdge[], boxes: Map<string, PlacedState>, states: PlacedState[]): Arrow {
  const [first] = group as [PlacedEdge];
  const route = routeOf(boxes.get(first.source)!, boxes.get(first.target)!, states);
  const width = Math.max(...group.map((e) => triggerLabel(e.transition).length)) * metrics.char_px;
  const from = route.anchor === 'end' ? route.label.x - width : route.anchor === 'start' ? route.label.x : route.label.x - width / 2;
  return { group, route, from, to: from + width };
}

function edgeArrow({ group, route }: Arrow): Html {
  const [first] = group as [PlacedEdge];
  const { x, y } = route.label;
  const labels = group.map((e, i) => html`<tspan x="${n(x)}" dy="${i === 0 ? n(-(group.length - 1) * 7 + 4) : '14'}">${triggerLabel(e.transition)}</tspan>`);
  return html`<g class="edge" data-source="${first.source}" data-target="${first.target}"><path d="${route.d}" marker-end="url(#arrow)"/>
<text class="edge-label ${route.anchor}" x="${n(x)}" y="${n(y)}">${labels}</text></g>`;
}

function stepArrow(step: JourneyStep, boxes: Map<string, PlacedState>, states: PlacedState[], repeat: number): Html {
  const target = boxes.get(step.to);
  if (!target) return html``;
  const source = step.from === null ? null : boxes.get(step.from);
  const dot = entryDot(target);
  const route: Route = source
    ? routeOf(source, target, states, 5 + repeat * 9)
    : { d: `M${n(dot.x)},${n(dot.y)} L${n(target.x + 6)},${n(target.y)}`, label: dot, anchor: 'middle', badge: { x: dot.x - 12, y: dot.y + 2 } };
  const badge = { x: route.badge.x + repeat * 6, y: route.badge.y + repeat * 22 };
  return html`<g class="step" data-step="${step.step}"><path d="${route.d}" marker-end="url(#step-arrow)"/>
<circle cx="${n(badge.x)}" cy="${n(badge.y)}" r="10"/><text x="${n(badge.x)}" y="${n(badge.y + 4)}">${step.step}</text></g>`;
}

export function svgOf(layout: Layout, highlight: Highlight = { current: [], visited: [] }, journey: JourneyStep[] = []): Html {
  const boxes = new Map(layout.states.map((s) => [s.id, s]));
  // Parents before children, so a child's box is drawn over its parent's.
  const states = [...layout.states].sort((a, b) => a.id.split('.').length - b.id.split('.').length);
  const seen = new Map<string, number>();
  const steps = journey.map((step) => {
    const key = `${step.from}\u0000${step.to}`;
    const repeat = seen.get(key) ?? 0;
    seen.set(key, repeat + 1);
    return stepArrow(step, boxes, layout.states, repeat);
  });
  const arrows = edgeGroups(layout.edges).map((g) => arrowOf(g, boxes, layout.states));
  const left = Math.floor(Math.min(0, ...arrows.map((a) => a.from - 8)));
  const width = Math.ceil(Math.max(layout.width, ...arrows.map((a) => a.to + 8))) - left;
  return html`<svg class="statechart" xmlns="http://www.w3.org/2000/svg" viewBox="${left} 0 ${width} ${layout.height}" width="${width}" height="${layout.height}" data-width="${width}" role="img" aria-label="state chart">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker>
<marker id="step-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="12" markerHeight="12" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="step-arrowhead"/></marker></defs>
<g class="states">${states.map((s) => stateBox(s, highlight))}</g>
<g class="edges">${arrows.map(edgeArrow)}</g>
<g class="journey">${steps}</g></svg>`;
}
