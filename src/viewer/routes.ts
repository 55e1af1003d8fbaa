/**
 * The state-chart viewer, mounted on the operator routes (and so behind their Bearer token):
 * `/machines` (the chart), `/machines/{name}.json` (the graph), `/machines/assets/{file}` (the
 * mermaid bundle, served from node_modules so the page works offline) and the HTML face of
 * `/payments/{id}/timeline` for browsers.
 */
import { dirname, join } from 'node:path';
import type { Context, Hono } from 'hono';
import { accepts } from 'hono/accepts';
import { describeRoute } from 'hono-openapi';
import type { StateValue } from 'xstate';
import { paymentMachine, paymentMachineVersion } from '../../machines/payment.machine.ts';
import { ApiError } from '../http/errors.ts';
import type { JournalRow, OrderRow, Store } from '../store/store.ts';
import { type DeliveredEvent, type Timeline, machinePage, mermaid_asset, timelinePage } from './pages.ts';
import { type Highlight, machineGraph, mermaidOf, stateIdsOf } from './statechart.ts';

export type ViewerDeps = { store: Store };

/** The machines the viewer knows; their graphs are computed once, definitions do not change at run time. */
const machines = {
  payment: { version: paymentMachineVersion, graph: machineGraph(paymentMachine) },
} as const;
type MachineName = keyof typeof machines;
const isMachineName = (name: string): name is MachineName => Object.hasOwn(machines, name);

const mermaidDist = join(dirname(require.resolve('mermaid/package.json')), 'dist');
/** Only these files are served: the name comes from the URL. */
const assets = new Set([mermaid_asset]);

/** The merchant events of one order; a bound on what one page asks of the store. */
const timeline_events_max = 100;

const tag = { tags: ['operators'], security: [{ adminToken: [] }] };

function machineOf(name: string) {
  if (!isMachineName(name)) throw new ApiError('not_found', `no machine ${name}`);
  return machines[name];
}

/** The state the order is in now, and every state its journal shows it in before. */
function highlightOf(order: OrderRow, journal: JournalRow[]): Highlight {
  const last = journal.at(-1);
  const now = last ? last.stateAfter : (order.snapshot as { value?: StateValue } | null)?.value;
  const visited = journal.flatMap((j) => [...stateIdsOf(j.stateBefore as StateValue), ...stateIdsOf(j.stateAfter as StateValue)]);
  return { current: stateIdsOf(now as StateValue), visited: [...new Set(visited)] };
}

async function timelineOf(store: Store, order: OrderRow): Promise<Timeline> {
  const [journal, timers, outbox, rows, callbacks] = await Promise.all([
    store.listJournal(order.id), store.listTimers(order.id), store.listOutbox(order.id), store.listMerchantEvents(order.id), store.listCallbacks(order.id),
  ]);
  // The delivery status lives beside the event, not in the list: one lookup per event, bounded.
  const loaded = await Promise.all(rows.slice(0, timeline_events_max).map((e) => store.loadMerchantEvent(e.id)));
  const events = loaded.filter((e): e is DeliveredEvent => e !== null);
  return { order, journal, timers, outbox, events, callbacks };
}

/** A browser asks for text/html first; API clients (and `*\/*`) keep the JSON answer. */
export const prefersHtml = (c: Context): boolean =>
  accepts(c, { header: 'Accept', supports: ['application/json', 'text/html'], default: 'application/json' }) === 'text/html';

export function mountViewer(app: Hono, deps: ViewerDeps): void {
  app.get('/machines', describeRoute({ ...tag, summary: 'The state-chart viewer (HTML)' }), (c) => {
    const { version, graph } = machines.payment;
    return c.html(machinePage('payment', version, graph, mermaidOf(graph)));
  });

  app.get('/machines/assets/:file', (c) => {
    const file = c.req.param('file');
    if (!assets.has(file)) throw new ApiError('not_found', `no asset ${file}`);
    return new Response(Bun.file(join(mermaidDist, file)), { headers: { 'cache-control': 'private, max-age=86400' } });
  });

  app.get('/machines/:file{[a-z_]+\\.json}', describeRoute({ ...tag, summary: 'A machine definition as a graph of states and transitions' }), (c) => {
    const name = c.req.param('file').slice(0, -'.json'.length);
    const { version, graph } = machineOf(name);
    return c.json({ name, version, ...graph });
  });

  // Runs before the JSON timeline route: answers browsers, hands every other request on.
  app.get('/payments/:id/timeline', async (c, next) => {
    if (!prefersHtml(c)) return next();
    const order = await deps.store.loadOrder(c.req.param('id'));
    if (!order) throw new ApiError('not_found', `no payment ${c.req.param('id')}`);
    const timeline = await timelineOf(deps.store, order);
    return c.html(timelinePage(timeline, mermaidOf(machines.payment.graph, highlightOf(order, timeline.journal))));
  });
}
