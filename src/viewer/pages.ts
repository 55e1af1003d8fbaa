/**
 * The operator's HTML pages: a machine's chart, and one order's history drawn on it. Every
 * value is interpolated through hono/html's `html` template, which escapes it: journal rows
 * carry what merchants and channels sent.
 */
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { isoTime } from '../clock.ts';
import type { CallbackRow, JournalRow, MerchantEventRow, OrderRow, OutboxRow, TimerRow } from '../store/store.ts';
import type { GraphTransition, MachineGraph } from './statechart.ts';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export const mermaid_asset = 'mermaid.min.js';

export type DeliveredEvent = MerchantEventRow & { status: string; attempts: number; lastError: string | null };

export type Timeline = {
  order: OrderRow;
  journal: JournalRow[];
  timers: TimerRow[];
  outbox: OutboxRow[];
  events: DeliveredEvent[];
  callbacks: CallbackRow[];
};

const json = (value: unknown): string => JSON.stringify(value) ?? 'undefined';

const style = `body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;vertical-align:top;text-align:left}pre{margin:0;white-space:pre-wrap;word-break:break-all}
code{font-size:12px}.chart{overflow:auto;border:1px solid #ddd;padding:1rem}`;

/** The pages' one inline script, allowed by its hash in the HTML policy (http/edge.ts). */
export const viewer_init_script = "mermaid.initialize({ startOnLoad: true, securityLevel: 'strict' });";

/** The chart is drawn in the browser by the mermaid bundle the app serves itself: works offline. */
function page(title: string, body: Html): Html {
  return html`<!doctype html><html><head><meta charset="utf-8"><title>${title}</title><style>${raw(style)}</style></head>
<body>${body}
<script src="/admin/machines/assets/${mermaid_asset}"></script>
<script>${raw(viewer_init_script)}</script></body></html>`;
}

const chart = (mermaidText: string): Html => html`<div class="chart"><pre class="mermaid">${mermaidText}</pre></div>`;

function transitionRow(t: GraphTransition): Html {
  return html`<tr><td>${t.source}</td><td>${t.event ?? '(always)'}</td><td>${t.targets.join(', ') || '(stays)'}</td>
<td>${t.guard ?? ''}</td><td>${t.delay ?? ''}</td></tr>`;
}

export function machinePage(name: string, version: number, graph: MachineGraph, mermaidText: string): Html {
  const states = graph.states.map((s) => html`<tr><td>${s.id}</td><td>${s.type}</td><td>${s.initial ? 'initial' : ''}</td><td>${s.final ? 'final' : ''}</td></tr>`);
  return page(`${name} machine`, html`<h1>${name} machine, version ${version}</h1>
<p><a href="/admin/machines/${name}.json">definition as JSON</a></p>${chart(mermaidText)}
<h2>States</h2><table><tr><th>state</th><th>type</th><th></th><th></th></tr>${states}</table>
<h2>Transitions</h2><table><tr><th>from</th><th>event</th><th>to</th><th>guard</th><th>delay</th></tr>${graph.transitions.map(transitionRow)}</table>`);
}

/** An effect is `{ type, params }`; anything else is shown whole. */
function effectItem(effect: unknown): Html {
  const type = (effect as { type?: unknown } | null)?.type;
  if (typeof type !== 'string') return html`<li><code>${json(effect)}</code></li>`;
  return html`<li><b>${type}</b> <code>${json((effect as { params?: unknown }).params ?? null)}</code></li>`;
}

function journalRow(j: JournalRow): Html {
  const type = (j.event as { type?: unknown } | null)?.type;
  return html`<tr><td>${j.seq}</td><td>${isoTime(j.at)}</td><td><b>${String(type ?? '?')}</b><pre><code>${json(j.event)}</code></pre></td>
<td><code>${json(j.stateBefore)}</code> → <code>${json(j.stateAfter)}</code></td><td><ul>${j.effects.map(effectItem)}</ul></td></tr>`;
}

function sideTables(t: Timeline): Html {
  const timers = t.timers.map((r) => html`<tr><td>${r.key}</td><td>${isoTime(r.dueAt)}</td><td><code>${json(r.event)}</code></td></tr>`);
  const outbox = t.outbox.map((r) => html`<tr><td>${r.id}</td><td>${r.kind}</td><td>${isoTime(r.createdAt)}</td><td>${isoTime(r.dueAt)}</td><td><code>${json(r.payload)}</code></td></tr>`);
  const events = t.events.map((e) => html`<tr><td>${e.id}</td><td>${e.type}</td><td>${isoTime(e.createdAt)}</td><td>${e.status}</td><td>${e.attempts}</td><td>${e.lastError ?? ''}</td><td><code>${json(e.data)}</code></td></tr>`);
  const callbacks = t.callbacks.map((r) => html`<tr><td>${r.id}</td><td>${isoTime(r.receivedAt)}</td><td>${r.provider}/${r.channelCode}</td><td>${String(r.verified)}</td>
<td>${r.outcome ?? ''}</td><td><details><summary>raw</summary><pre><code>${json(r.headers)}</code></pre><pre><code>${r.body}</code></pre></details></td></tr>`);
  return html`<h2>Channel callbacks</h2><table><tr><th>id</th><th>received</th><th>channel</th><th>verified</th><th>outcome</th><th>headers and body as received</th></tr>${callbacks}</table>
<h2>Timers</h2><table><tr><th>key</th><th>due</th><th>event</th></tr>${timers}</table>
<h2>Outbox</h2><table><tr><th>id</th><th>kind</th><th>created</th><th>due</th><th>payload</th></tr>${outbox}</table>
<h2>Merchant events</h2><table><tr><th>id</th><th>type</th><th>created</th><th>delivery</th><th>attempts</th><th>last error</th><th>data</th></tr>${events}</table>`;
}

/** The machine's context in the stored snapshot: subject, details, flows and refunds as the actor sees them. */
const contextOf = (order: OrderRow): unknown => (order.snapshot as { context?: unknown } | null)?.context ?? null;

export function timelinePage(t: Timeline, mermaidText: string): Html {
  const { order } = t;
  return page(`timeline ${order.id}`, html`<h1>Payment ${order.id}</h1>
<p>merchant ${order.merchantId}, order no. ${order.merchantOrderNo}; status <b>${order.status}</b>, version ${order.version},
machine version ${order.machineVersion}. <a href="/admin/machines">the machine</a></p>
<details><summary>context now</summary><pre><code>${json(contextOf(order))}</code></pre></details>
<p>Current state in amber, states it passed through in green.</p>${chart(mermaidText)}
<h2>Journal</h2><table><tr><th>seq</th><th>at</th><th>event</th><th>state before → after</th><th>effects</th></tr>${t.journal.map(journalRow)}</table>
${sideTables(t)}`);
}
