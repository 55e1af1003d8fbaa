/**
 * The operator's state-chart pages: a machine's chart (with its scratch actor), and one order's
 * history drawn on it. The chart is an SVG drawn here (svg.ts); the one script and the style
 * sheet are files the app serves, so the pages run under a CSP without inline script. Every
 * value goes through hono/html's `html` template, which escapes it: journal rows carry what
 * merchants and channels sent.
 */
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { StateValue } from 'xstate';
import { isoTime } from '../clock.ts';
import { chinaTime } from '../console/pages.tsx';
import { type PaymentContext, paidAmount, refundedAmount } from '../../machines/payment.model.ts';
import { moneyText } from '../money.ts';
import type { CallbackRow, JournalRow, MerchantEventRow, OrderRow, RefundRow, StoredOutboxRow, TimerRow } from '../store/store.ts';
import { type Layout, type PlacedState, triggerLabel } from './layout.ts';
import { event_templates } from './simulate.ts';
import { type Highlight, stateIdsOf } from './statechart.ts';
import { type JourneyStep, svgOf } from './svg.ts';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export const viewer_script = 'viewer.js';
export const viewer_style = 'viewer.css';

export type DeliveredEvent = MerchantEventRow & { status: string; attempts: number; lastError: string | null };

export type Timeline = {
  order: OrderRow;
  journal: JournalRow[];
  timers: TimerRow[];
  outbox: StoredOutboxRow[];
  events: DeliveredEvent[];
  callbacks: CallbackRow[];
  refunds: RefundRow[];
  /** The order as the engine reads it; why not, when its snapshot does not restore. */
  context: PaymentContext | string;
};

const json = (value: unknown): string => JSON.stringify(value) ?? 'undefined';
const pretty = (value: unknown): string => JSON.stringify(value, null, 2) ?? 'undefined';

/** One time format on every page: China time, the exact ISO instant on hover. */
const time = (ms: number): Html => html`<time datetime="${isoTime(ms)}" title="${isoTime(ms)}">${chinaTime(ms)}</time>`;

/** A JSON value folded under a summary. */
const folded = (summary: string | Html, value: unknown): Html => html`<details><summary>${summary}</summary><pre><code>${pretty(value)}</code></pre></details>`;

const table = (head: string[], rows: Html[]): Html => html`<div class="scroll"><table><tr>${head.map((h) => html`<th>${h}</th>`)}</tr>${rows}</table></div>`;

function page(title: string, body: Html): Html {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · paycenter</title><link rel="stylesheet" href="/admin/machines/assets/${viewer_style}"></head>
<body><header><strong>paycenter</strong><a href="/admin">Home</a><a href="/admin/payments">Payments</a><a href="/admin/machines">State chart</a></header>
<main>${body}</main><script src="/admin/machines/assets/${viewer_script}" defer></script></body></html>`;
}

const legend = (journey: boolean): Html => html`<ul class="legend">
<li><span class="swatch current"></span>current state</li><li><span class="swatch visited"></span>visited</li>
<li><span class="swatch initial"></span>initial (entered first)</li><li><span class="swatch final"></span>final</li>
<li>↻ transitions that stay in the state</li>
${journey ? html`<li><span class="swatch step"></span>the order's path, numbered</li><li><span class="swatch cursor"></span>journal cursor</li>` : ''}</ul>`;

const zoomTools = html`<button type="button" data-zoom="out" aria-label="zoom out">−</button><button type="button" data-zoom="fit">fit</button>
<button type="button" data-zoom="in" aria-label="zoom in">+</button><span data-zoom-label>100 %</span>`;

/** What a click on a state shows: its transitions with their guards, and where it sits. */
function stateDetails(s: PlacedState, layout: Layout): Html {
  const outgoing = layout.edges.filter((e) => e.source === s.id);
  const incoming = layout.edges.filter((e) => e.target === s.id);
  const items = (list: Html[]) => (list.length > 0 ? html`<ul>${list}</ul>` : html`<p>none</p>`);
  return html`<section data-details="${s.id}" hidden><h3>${s.id}</h3>
<p>${s.type}${s.initial ? ', initial' : ''}${s.final ? ', final' : ''}${s.parent ? html`, inside ${s.parent}` : ''}</p>
<h4>Leaves to</h4>${items(outgoing.map((e) => html`<li><b>${triggerLabel(e.transition)}</b> → ${e.target}</li>`))}
<h4>Stays on</h4>${items(s.inner.map((t) => html`<li><b>${triggerLabel(t)}</b>${t.targets.length > 0 ? ' (re-enters)' : ' (actions only)'}</li>`))}
<h4>Entered from</h4>${items(incoming.map((e) => html`<li>${e.source} on <b>${triggerLabel(e.transition)}</b></li>`))}
<p>Guards are the machine's (machines/payment.machine.ts); their rules are in machines/payment.rules.ts.</p></section>`;
}

function simulator(name: string, initial: string[]): Html {
  const options = Object.entries(event_templates).map(([type, template]) =>
    html`<option value="${type}" data-template="${pretty(template)}"${type === 'close.request' ? ' selected' : ''}>${type}</option>`);
  return html`<form class="sim" action="/admin/machines/${name}/simulate" data-initial="${initial.join(' ')}">
<h2>Simulate</h2><p>Events go to a scratch actor of the pure machine, started from a sample order that exists nowhere; nothing is stored or sent.</p>
<label>event <select name="type">${options}</select></label>
<textarea name="event" aria-label="event JSON">${pretty(event_templates['close.request'])}</textarea>
<div class="toolbar"><button type="submit">send</button><button type="button" data-reset>reset</button></div>
<p class="error" role="alert"></p><ol></ol></form>`;
}

export function machinePage(name: string, version: number, layout: Layout, initial: string[]): Html {
  const transitions = [...layout.edges.map((e) => ({ source: e.source, target: e.target, t: e.transition })),
    ...layout.states.flatMap((s) => s.inner.map((t) => ({ source: s.id, target: '(stays)', t })))];
  return page(`${name} machine`, html`<h1>${name} machine, version ${version}</h1>
<p><a href="/admin/machines/${name}.json">definition as JSON</a>. Click a state for its transitions; drag to pan, ctrl + wheel or the buttons to zoom.</p>
${legend(false)}<div class="toolbar">${zoomTools}</div>
<div class="layout"><div class="chart">${svgOf(layout, { current: initial, visited: [] })}</div>
<aside class="panel">${simulator(name, initial)}${layout.states.map((s) => stateDetails(s, layout))}</aside></div>
<details><summary>every transition as a table</summary>${table(['from', 'trigger', 'to'], transitions.map(({ source, target, t }) => html`<tr><td>${source}</td><td>${triggerLabel(t)}</td><td>${target}</td></tr>`))}</details>`);
}

/** The deepest state of a snapshot value: where the order is. */
const leafOf = (value: unknown): string | null => stateIdsOf(value as StateValue | null).at(-1) ?? null;

/** One numbered step per journal row that changed the order's state (its creation included). */
export function journeyOf(journal: JournalRow[]): { steps: JourneyStep[]; upto: number[] } {
  const steps: JourneyStep[] = [];
  const upto = journal.map((j) => {
    const to = leafOf(j.stateAfter);
    if (to !== null && json(j.stateBefore) !== json(j.stateAfter)) steps.push({ step: steps.length + 1, from: leafOf(j.stateBefore), to });
    return steps.length;
  });
  return { steps, upto };
}

/** An effect is `{ type, params }`; anything else is shown whole. */
function effectItem(effect: unknown): Html {
  const type = (effect as { type?: unknown } | null)?.type;
  return html`<li>${folded(typeof type === 'string' ? type : 'effect', typeof type === 'string' ? (effect as { params?: unknown }).params ?? null : effect)}</li>`;
}

function journalRow(j: JournalRow, i: number, upto: number): Html {
  const type = String((j.event as { type?: unknown } | null)?.type ?? '?');
  return html`<tr data-row="${i}" data-step-upto="${upto}" data-state="${leafOf(j.stateAfter) ?? ''}" data-event="${type}"><td>${j.seq}</td><td>${time(j.at)}</td>
<td>${folded(html`<b>${type}</b>`, j.event)}</td><td><code>${leafOf(j.stateBefore) ?? '—'}</code> → <code>${leafOf(j.stateAfter) ?? '—'}</code></td>
<td><ul>${j.effects.map(effectItem)}</ul></td></tr>`;
}

function sideTables(t: Timeline): Html {
  const timers = t.timers.map((r) => html`<tr><td>${r.key}</td><td>${time(r.dueAt)}</td><td>${folded('event', r.event)}</td></tr>`);
  const outbox = t.outbox.map((r) => html`<tr><td>${r.id}</td><td>${r.kind}</td><td>${time(r.createdAt)}</td><td>${time(r.dueAt)}</td><td>${folded('payload', r.payload)}</td></tr>`);
  const events = t.events.map((e) => html`<tr><td>${e.id}</td><td>${e.type}</td><td>${time(e.createdAt)}</td><td>${e.status}</td><td>${e.attempts}</td><td>${e.lastError ?? ''}</td><td>${folded('data', e.data)}</td></tr>`);
  const callbacks = t.callbacks.map((r) => html`<tr><td>${r.id}</td><td>${time(r.receivedAt)}</td><td>${r.provider}/${r.channelCode}</td><td>${String(r.verified)}</td>
<td>${r.outcome ?? ''}</td><td><details><summary>raw</summary><pre><code>${pretty(r.headers)}</code></pre><pre><code>${r.body}</code></pre></details></td></tr>`);
  return html`<h2>Channel callbacks</h2>${table(['id', 'received', 'channel', 'verified', 'outcome', 'headers and body as received'], callbacks)}
<h2>Timers</h2>${table(['key', 'due', 'event'], timers)}
<h2>Outbox</h2>${table(['id', 'kind', 'created', 'due', 'payload'], outbox)}
<h2>Merchant events</h2>${table(['id', 'type', 'created', 'delivery', 'attempts', 'last error', 'data'], events)}`;
}

/** The machine's context in the stored snapshot: subject, details, flows and refunds as the actor sees them. */
const contextOf = (order: OrderRow): unknown => (order.snapshot as { context?: unknown } | null)?.context ?? null;

const optionalTime = (ms: number | null): Html | string => (ms === null ? '—' : time(ms));

/** What an operator asks first: how much, for what, paid and given back how, and what risk said. */
function summary(ctx: PaymentContext, refunds: RefundRow[]): Html {
  const money = (minor: number) => moneyText(minor, ctx.currency);
  const risk = ctx.risk ?? { decision: 'allow', score: 0, rules: [] };
  const facts: Array<[string, Html | string]> = [
    ['amount', money(ctx.amount)], ['subject', ctx.subject], ['paid', money(paidAmount(ctx))], ['refunded', money(refundedAmount(ctx))],
    ['created', time(ctx.createdAt)], ['expires', time(ctx.expiresAt)], ['paid at', optionalTime(ctx.paidAt)],
    ['closed at', ctx.closedAt === null ? '—' : html`${time(ctx.closedAt)} (${ctx.closeReason ?? ''})`],
    ['risk', `${risk.decision}, score ${risk.score}${risk.rules.length > 0 ? `, rules ${risk.rules.join(', ')}` : ''}`],
  ];
  const flows = ctx.flows.map((f) => html`<tr><td>${f.id}</td><td>${f.method}</td><td>${f.channel}</td><td>${money(f.amount)}</td><td>${f.status}</td>
<td>${f.channelTradeNo ?? ''}</td><td>${time(f.createdAt)}</td><td>${optionalTime(f.completedAt)}</td></tr>`);
  const given = refunds.map((r) => html`<tr><td>${r.id}</td><td>${r.refundNo ?? '(automatic)'}</td><td>${money(r.amount)}</td><td>${r.status}</td>
<td>${r.reason ?? ''}</td><td>${time(r.createdAt)}</td><td>${optionalTime(r.completedAt)}</td></tr>`);
  return html`<dl class="facts">${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
<h2>Flows</h2>${table(['id', 'method', 'channel', 'amount', 'status', 'channel trade no.', 'created', 'completed'], flows)}
<h2>Refunds</h2>${table(['id', 'refund no.', 'amount', 'status', 'reason', 'created', 'completed'], given)}`;
}

export function timelinePage(t: Timeline, layout: Layout, highlight: Highlight): Html {
  const { order } = t;
  const { steps, upto } = journeyOf(t.journal);
  return page(`timeline ${order.id}`, html`<h1>Payment ${order.id}</h1>
<p>merchant ${order.merchantId}, order no. ${order.merchantOrderNo}; status <b>${order.status}</b>, version ${order.version},
machine version ${order.machineVersion}. <a href="/admin/machines">the machine</a></p>
${typeof t.context === 'string' ? html`<p class="error" role="alert">The engine does not load this order's snapshot: ${t.context}</p>` : summary(t.context, t.refunds)}
${folded('context now (as stored)', contextOf(order))}
${legend(true)}<div class="toolbar"><button type="button" data-step-by="-1">◀ prev</button><button type="button" data-step-by="1">next ▶</button>
<span data-cursor-label>${t.journal.length} journal rows, ${steps.length} state changes</span> ${zoomTools}</div>
<div class="chart">${svgOf(layout, highlight, steps)}</div>
<h2>Journal</h2>${table(['seq', 'at (China time)', 'event', 'state before → after', 'effects'], t.journal.map((j, i) => journalRow(j, i, upto[i]!)))}
${sideTables(t)}`);
}
