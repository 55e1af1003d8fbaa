/**
 * The state-chart viewer, mounted on the operator routes (and so behind their Bearer token or
 * the console's sign-in cookie): `/machines` (for browsers the chart and its scratch actor, for
 * other clients the list of machines), `/machines/{name}.json` (the graph),
 * `/machines/{name}/simulate` (events run through the pure machine, nothing stored),
 * `/machines/assets/{file}` (the page's script and style) and the HTML face of
 * `/payments/{id}/timeline` for browsers.
 */
import { join } from 'node:path';
import type { Context, Hono } from 'hono';
import { accepts } from 'hono/accepts';
import type { StateValue } from 'xstate';
import { resolveSnapshot } from '../../actors/engine.ts';
import { paymentMachine, paymentMachineVersion } from '../../machines/payment.machine.ts';
import type { PaymentContext } from '../../machines/payment.model.ts';
import { errorText } from '../failures.ts';
import { machineGraph as machineGraphAnswer, machineList, simulation } from '../http/answers.ts';
import { ApiError } from '../http/errors.ts';
import { describeIn, jsonAnswer, jsonOrPage } from '../http/openapi.ts';
import type { JournalRow, OrderRow, Store } from '../store/store.ts';
import { layoutOf } from './layout.ts';
import { type DeliveredEvent, type Timeline, machinePage, timelinePage, viewer_script, viewer_style } from './pages.ts';
import { simulate, simulate_events_max, simulated_initial } from './simulate.ts';
import { type Highlight, machineGraph, stateIdsOf } from './statechart.ts';

export type ViewerDeps = { store: Store };

/** The machines the viewer knows; graphs and layouts are computed once, definitions do not change at run time. */
const paymentGraph = machineGraph(paymentMachine);
const machines = {
  payment: { version: paymentMachineVersion, graph: paymentGraph, layout: layoutOf(paymentGraph), initial: stateIdsOf(simulated_initial) },
} as const;
type MachineName = keyof typeof machines;
const isMachineName = (name: string): name is MachineName => Object.hasOwn(machines, name);

/** Only these files are served (the name comes from the URL), with their types. */
const assets = new Map([[viewer_script, 'text/javascript; charset=utf-8'], [viewer_style, 'text/css; charset=utf-8']]);
const assetDir = join(import.meta.dir, 'assets');

/** No inline script or style, nothing from elsewhere; the script talks only to this app. */
const page_csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The merchant events of one order; a bound on what one page asks of the store. */
const timeline_events_max = 100;
const snapshot_error_chars_max = 500;

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
  const [journal, timers, outbox, rows, callbacks, refunds] = await Promise.all([
    store.listJournal(order.id), store.listTimers(order.id), store.listOutbox(order.id), store.listMerchantEvents(order.id), store.listCallbacks(order.id),
    store.listRefunds(order.id),
  ]);
  // The delivery status lives beside the event, not in the list: one lookup per event, bounded.
  const loaded = await Promise.all(rows.slice(0, timeline_events_max).map((e) => store.loadMerchantEvent(e.id)));
  const events = loaded.filter((e): e is DeliveredEvent => e !== null);
  return { order, journal, timers, outbox, events, callbacks, refunds, context: contextOrWhyNot(order) };
}

/** The order as the engine reads it, for its summary; a snapshot the engine refuses is shown as such (the page is how to look at it). */
function contextOrWhyNot(order: OrderRow): PaymentContext | string {
  try {
    return resolveSnapshot(order).context;
  } catch (error) {
    return errorText(error, snapshot_error_chars_max);
  }
}

/** A browser asks for text/html first; API clients (and `*\/*`) keep the JSON answer. */
export const prefersHtml = (c: Context): boolean =>
  accepts(c, { header: 'Accept', supports: ['application/json', 'text/html'], default: 'application/json' }) === 'text/html';

/** The events of a simulation, JSON in the query string: parsed here, checked by simulate(). */
function eventsParam(c: Context): unknown {
  try {
    return JSON.parse(c.req.query('events') ?? '[]');
  } catch {
    throw new ApiError('invalid_request', 'events must be a JSON array of machine events', 'events');
  }
}

export function mountViewer(app: Hono, deps: ViewerDeps): void {
  app.get('/machines', describeIn('operators', {
    summary: 'The machines the viewer knows (JSON); browsers get the state-chart viewer', responses: { 200: jsonOrPage(machineList, 'The machines and their versions.') },
  }), (c) => {
    if (!prefersHtml(c)) return c.json({ data: Object.entries(machines).map(([name, { version }]) => ({ name, version })) });
    const { version, layout, initial } = machines.payment;
    c.header('content-security-policy', page_csp);
    return c.html(machinePage('payment', version, layout, initial));
  });

  app.get('/machines/assets/:file', (c) => {
    const file = c.req.param('file');
    const type = assets.get(file);
    if (!type) throw new ApiError('not_found', `no asset ${file}`);
    return new Response(Bun.file(join(assetDir, file)), { headers: { 'content-type': type, 'cache-control': 'private, max-age=300' } });
  });

  app.get('/machines/:file{[a-z_]+\\.json}', describeIn('operators', {
    summary: 'A machine definition as a graph of states and transitions (the path is /admin/machines/{name}.json)',
    responses: { 200: jsonAnswer(machineGraphAnswer, 'The graph.') }, errors: [404],
  }), (c) => {
    const name = c.req.param('file').slice(0, -'.json'.length);
    const { version, graph } = machineOf(name);
    return c.json({ name, version, ...graph });
  });

  // A GET: it changes nothing anywhere (a scratch actor from a sample order), so it needs no CSRF token.
  app.get('/machines/:name/simulate', describeIn('operators', {
    summary: `Runs up to ${simulate_events_max} events through a scratch actor of the pure machine`,
    parameters: [{ in: 'query', name: 'events', schema: { type: 'string' }, description: 'a JSON array of machine events' }],
    responses: { 200: jsonAnswer(simulation, 'The initial state and each step.') }, errors: [400, 404],
  }), (c) => {
    machineOf(c.req.param('name'));
    const result = simulate(eventsParam(c));
    if (!result.ok) throw new ApiError('invalid_request', result.message, 'events');
    return c.json({ initial: result.initial, steps: result.steps });
  });

  // Runs before the JSON timeline route: answers browsers, hands every other request on.
  app.get('/payments/:id/timeline', async (c, next) => {
    if (!prefersHtml(c)) return next();
    const order = await deps.store.loadOrder(c.req.param('id'));
    if (!order) throw new ApiError('not_found', `no payment ${c.req.param('id')}`);
    const timeline = await timelineOf(deps.store, order);
    c.header('content-security-policy', page_csp);
    return c.html(timelinePage(timeline, machines.payment.layout, highlightOf(order, timeline.journal)));
  });
}
