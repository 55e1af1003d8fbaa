/**
 * Operator routes behind `Authorization: Bearer $ADMIN_TOKEN`: merchants (the secret is shown
 * once, at creation), channels (keys validated per provider, sealed at rest, redacted in every
 * answer) and an order's timeline (its journal).
 */
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { html } from 'hono/html';
import * as v from 'valibot';
import type { Clock } from '../../clock.ts';
import type { MerchantDirectory } from '../../merchants/directory.ts';
import { type Currency, currencies as known_currencies, parseAmount } from '../../money.ts';
import { constantTimeEqual, seal, unseal } from '../../secrets.ts';
import { per_order_rows_max } from '../../store/rows.ts';
import type { ChannelRow, Store } from '../../store/store.ts';
import { channel, channelList, memory, merchant, newMerchant, redelivery, timeline } from '../answers.ts';
import { ApiError } from '../errors.ts';
import { describeIn, jsonAnswer, jsonOrPage, noContent } from '../openapi.ts';
import type { ChannelRegistry } from '../../channels/registry.ts';
import { pluginOf } from '../../channels/plugins.ts';
import {
  createChannel, createMerchant, servesCurrencies, unservedCurrenciesMessage, updateChannel, updateMerchant,
} from '../schemas.ts';
import { jsonBody, pageLimit, queryParams, requireOutboundUrls } from '../validate.ts';
import { channelOf, merchantOf } from '../views.ts';
import { mountViewer } from '../../viewer/routes.ts';
import { mountParked } from './parked.ts';
import type { OutboundPolicy } from '../../net/outbound.ts';
import { AdminSessions, FailedSignIns } from '../admin-session.ts';
import type { ChannelHealth } from '../../routing/channel-health.ts';
import { mountChannelHealth } from './admin-channels-health.ts';
import type { Alerts } from '../../alerts/alerts.ts';
import { mountAlerts } from './admin-alerts.ts';
import { csrfMatches } from '../../console/csrf.ts';
import { signInNext } from '../../console/errors.tsx';
import { recordWrites } from '../../console/audit.ts';
import { mountConsole } from '../../console/routes.tsx';
import type { Risk } from '../../risk/open.ts';
import type { Links } from '../views.ts';
import type { Reconciliation } from '../../recon/reconciliation.ts';
import { mountReconciliation } from './admin-recon.ts';

import type { Balances } from '../../balance/balances.ts';
import { adminBalanceRoutes } from './balances.ts';

export type AdminDeps = {
  adminToken: string; merchants: MerchantDirectory; store: Store; secretKey: Uint8Array; clock: Clock; alerts: Alerts; recon: Reconciliation; links: Links;
  /** Told of each channel change, so that this instance applies it at once. */
  channels: ChannelRegistry;
  outbound: OutboundPolicy;
  sessions: { sessionMs: number; secureCookie: boolean };
  /** The caller's address, which failed sign-ins count against (behind trusted proxies, the forwarded one). */
  addressOf: (c: Context) => string;
  health: ChannelHealth;
  balances: Balances;
  /** For the console's risk page; the JSON risk routes are mounted beside these (app.ts). */
  risk: Risk;
};

/** The cookie an operator's browser holds after signing in at /admin/login (read-only pages only): a session id. */
const admin_cookie = 'paycenter_admin';

/** Routes a browser reaches without being signed in. */
const open_paths = new Set(['/admin/login', '/admin/logout']);

type Gate = { token: string; sessions: AdminSessions; failures: FailedSignIns; clock: Clock; addressOf: (c: Context) => string };

const tooManyFailures = (waitS: number) =>
  new ApiError('rate_limited', 'too many failed admin sign-ins from this address; wait', null, { 'Retry-After': String(waitS) });

/**
 * Bearer token for everything; for a browser, its session cookie too — on GET, and on a write
 * only with the console's CSRF token for that session, so a forged cross-site form can never
 * change anything (the cookie is also SameSite=Strict). Wrong tokens count against the
 * caller's address (FailedSignIns).
 */
function adminAuth(gate: Gate, secretKey: Uint8Array): MiddlewareHandler {
  return async (c, next) => {
    if (open_paths.has(c.req.path)) return next();
    const header = c.req.header('authorization') ?? '';
    const bearer = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : null;
    const now = gate.clock.now();
    if (bearer !== null) {
      const address = gate.addressOf(c);
      const waitS = gate.failures.waitS(address, now);
      if (waitS > 0) throw tooManyFailures(waitS);
      if (constantTimeEqual(gate.token, bearer)) return next();
      gate.failures.fail(address, now);
    } else {
      // The session first: the CSRF check may read a form body, which nobody signed out may make us read.
      const session = getCookie(c, admin_cookie);
      const signedIn = session !== undefined && (await gate.sessions.valid(session, now));
      if (signedIn && (c.req.method === 'GET' || (await csrfMatches(c, secretKey, session)))) return next();
    }
    throw new ApiError('unauthenticated', 'operator routes need Authorization: Bearer <ADMIN_TOKEN> (browsers: sign in at /admin/login)');
  };
}

/** The sign-in form; `next` (checked by signInNext) is where a sign-in goes on to. */
const loginPage = (failed: boolean, next: string) => html`<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>paycenter operators</title></head><body style="font-family:system-ui;max-width:28rem;margin:3rem auto;padding:0 1rem">
<h1>paycenter operators</h1>${failed ? html`<p style="color:#b00">That token is not the admin token.</p>` : ''}
<form method="post" action="/admin/login"><input type="hidden" name="next" value="${next}">
<label>Admin token <input name="token" type="password" autocomplete="current-password" required></label>
<button>Sign in</button></form></body></html>`;

/**
 * Sign-in for browsers: the admin token, once, in a form; the answer sets an HttpOnly cookie
 * holding a new session's id (`Secure` behind https) and goes on to the console page the browser
 * was sent from (`next`). Sign-out ends that session.
 */
function mountLogin(app: Hono, gate: Gate, secureCookie: boolean): void {
  app.get('/login', (c) => c.html(loginPage(false, signInNext(c.req.query('next')))));
  app.post('/login', async (c) => {
    const address = gate.addressOf(c);
    const now = gate.clock.now();
    const waitS = gate.failures.waitS(address, now);
    if (waitS > 0) throw tooManyFailures(waitS);
    const form = await c.req.parseBody();
    const given = typeof form.token === 'string' ? form.token : '';
    const next = signInNext(form.next);
    if (!constantTimeEqual(gate.token, given)) {
      gate.failures.fail(address, now);
      return c.html(loginPage(true, next), 401);
    }
    const session = await gate.sessions.open(now);
    setCookie(c, admin_cookie, session, { httpOnly: true, secure: secureCookie, sameSite: 'Strict', path: '/admin', maxAge: Math.floor(gate.sessions.sessionMs / 1000) });
    return c.redirect(next, 303);
  });
  app.post('/logout', async (c) => {
    const session = getCookie(c, admin_cookie);
    if (session) await gate.sessions.close(session);
    deleteCookie(c, admin_cookie, { path: '/admin', secure: secureCookie });
    return c.redirect('/admin/login', 303);
  });
}

/**
 * The currency a channel's limits are in: its one currency. Limits are compared with payments
 * in minor units, so a channel serving several currencies cannot have one.
 */
function limitCurrencyOf(listed: readonly string[], field: string): Currency {
  if (listed.length !== 1) {
    throw new ApiError('invalid_request', `${field} needs a channel of exactly one currency, the limit's (currencies lists ${listed.join(', ')})`, field);
  }
  const currency = listed[0] as Currency;
  if (!known_currencies.includes(currency)) throw new Error(`assertion failed: channel currency ${currency} is not one paycenter knows`);
  return currency;
}

/** A limit as given, in the channel's currency; null for none. */
function limitOf(text: string | null, field: string, listed: readonly string[]): number | null {
  if (text === null) return null;
  const parsed = parseAmount(text, limitCurrencyOf(listed, field));
  if (!parsed.ok) throw new ApiError('invalid_amount', `${field} ${parsed.message.replace(/^amount /, '')}`, field);
  return parsed.minor;
}

/**
 * A limit after a change: the one given, or the stored one — which stays only while the
 * currencies do, since stored minor units are never reinterpreted in another currency.
 */
function changedLimitOf(given: string | null | undefined, stored: number | null, field: string, before: readonly string[], after: readonly string[]): number | null {
  if (given !== undefined) return limitOf(given, field, after);
  const same = before.length === after.length && before.every((c, i) => c === after[i]);
  if (stored === null || same) return stored;
  throw new ApiError('invalid_request', `${field} is in ${before.join(', ')}: give it again (or null) when changing currencies`, field);
}

/**
 * Reads a config with its provider's plug-in, naming the field inside `config` when it is
 * refused. `shown` is the answer's view (secrets are `Secret`: they print as [redacted]).
 */
function configOf(provider: string, config: unknown): { shown: Record<string, unknown> } {
  const reading = pluginOf(provider)?.readConfig(config);
  if (!reading) throw new Error(`assertion failed: channel of unknown provider ${provider}`);
  if (!reading.ok) throw new ApiError('invalid_request', `${reading.field} ${reading.message}`, reading.field);
  return reading;
}

/** Journal rows a timeline page shows unless asked for fewer. */
const timeline_page_events_default = 100;

/** GET /admin/memory's query: collect=true measures after a full garbage collection. */
const memoryQuery = v.strictObject({ collect: v.optional(v.picklist(['true', 'false']), 'false') });

/** A timeline page: events after `after_seq` (0: from the start), at most `limit` (up to per_order_rows_max). */
const timelinePage = v.pipe(
  v.strictObject({
    after_seq: v.optional(v.pipe(v.string(), v.regex(/^\d{1,9}$/, 'must be a whole number')), '0'),
    limit: pageLimit(per_order_rows_max, timeline_page_events_default),
  }),
  v.transform((q) => ({ afterSeq: Number(q.after_seq), limit: q.limit })),
);

export function adminRoutes(deps: AdminDeps): Hono {
  const app = new Hono();
  const gate: Gate = {
    token: deps.adminToken, sessions: new AdminSessions(deps.store, deps.sessions.sessionMs), failures: new FailedSignIns(), clock: deps.clock, addressOf: deps.addressOf,
  };
  app.use(adminAuth(gate, deps.secretKey));
  app.use(recordWrites(deps.store, deps.clock, open_paths));
  mountLogin(app, gate, deps.sessions.secureCookie);
  mountViewer(app, { store: deps.store });
  mountParked(app, { store: deps.store, clock: deps.clock });
  // The console's pages answer browsers first; JSON routes of the same paths follow.
  mountConsole(app, {
    store: deps.store, clock: deps.clock, alerts: deps.alerts, recon: deps.recon, health: deps.health, merchants: deps.merchants, risk: deps.risk, links: deps.links,
    sessionCookie: admin_cookie,
  });
  mountAlerts(app, deps.alerts);
  mountReconciliation(app, { recon: deps.recon, store: deps.store });
  mountChannelHealth(app, { health: deps.health, store: deps.store });
  app.route('/', adminBalanceRoutes(deps.balances));
  mountMerchants(app, deps);
  mountChannels(app, deps);
  mountOperatorTools(app, deps, gate);
  return app;
}

/** Merchants: created with their secret shown once, read, changed. */
function mountMerchants(app: Hono, deps: AdminDeps): void {
  app.post('/merchants', describeIn('operators', {
    summary: 'Create a merchant; the secret is in this answer only', responses: { 201: jsonAnswer(newMerchant, 'The merchant and its secret.') }, errors: [409],
  }), jsonBody(createMerchant), async (c) => {
    const body = c.req.valid('json');
    requireOutboundUrls(deps.outbound, { notify_url: body.notify_url });
    const result = await deps.merchants.create({ merchantId: body.merchant_id, name: body.name, notifyUrl: body.notify_url, methods: body.methods, routing: body.routing });
    if (!result.ok) throw new ApiError('order_conflict', `merchant ${body.merchant_id} exists`, 'merchant_id');
    return c.json({ ...merchantOf(result.merchant), secret: result.merchant.secret.reveal() }, 201);
  });

  app.get('/merchants/:id', describeIn('operators', { summary: 'A merchant', responses: { 200: jsonAnswer(merchant, 'The merchant.') }, errors: [404] }), async (c) => {
    const merchant = await deps.merchants.find(c.req.param('id'));
    if (!merchant) throw new ApiError('not_found', `no merchant ${c.req.param('id')}`);
    return c.json(merchantOf(merchant));
  });

  app.patch('/merchants/:id', describeIn('operators', {
    summary: 'Change a merchant (name, notify_url, methods, status, routing)', responses: { 200: jsonAnswer(merchant, 'The merchant as changed.') }, errors: [404],
  }), jsonBody(updateMerchant), async (c) => {
    const body = c.req.valid('json');
    requireOutboundUrls(deps.outbound, { notify_url: body.notify_url });
    const merchant = await deps.merchants.update(c.req.param('id'), { name: body.name, notifyUrl: body.notify_url, methods: body.methods, status: body.status, routing: body.routing });
    if (!merchant) throw new ApiError('not_found', `no merchant ${c.req.param('id')}`);
    return c.json(merchantOf(merchant));
  });
}

/** Payment channels: added with their sealed config, listed and changed, each answer with its health. */
function mountChannels(app: Hono, deps: AdminDeps): void {
  /** The stored config as given (sealed as a whole): read again by its plug-in for every answer. */
  const storedConfig = (c: ChannelRow): unknown => JSON.parse(unseal(deps.secretKey, c.configEnc));
  /** A listed channel whose stored config its plug-in no longer reads shows `config: null` (the registry logs why). */
  const shownConfig = (c: ChannelRow) => {
    const reading = pluginOf(c.provider)?.readConfig(storedConfig(c));
    return reading?.ok ? reading.shown : null;
  };
  // API.md: channel objects carry their read-only health.
  const channelAnswer = async (c: ChannelRow, config: Record<string, unknown> | null) => ({ ...channelOf(c, config), health: await deps.health.view(c.code) });

  app.post('/channels', describeIn('operators', { summary: 'Add a channel', responses: { 201: jsonAnswer(channel, 'The channel.') }, errors: [409] }), jsonBody(createChannel), async (c) => {
    const body = c.req.valid('json');
    const config = configOf(body.provider, body.config);
    const now = deps.clock.now();
    // Stored as the operator gave it (validated above): the plug-in reads it into Secrets each time.
    const row: ChannelRow = {
      code: body.code, provider: body.provider, methods: body.methods, currencies: body.currencies, weight: body.weight,
      singleLimit: limitOf(body.single_limit, 'single_limit', body.currencies), dailyLimit: limitOf(body.daily_limit, 'daily_limit', body.currencies), status: body.status,
      configEnc: seal(deps.secretKey, JSON.stringify(body.config)), feeRate: body.fee_rate, createdAt: now, updatedAt: now,
    };
    if ((await deps.store.insertChannel(row)) === 'exists') throw new ApiError('order_conflict', `channel ${body.code} exists`, 'code');
    deps.channels.forget();
    return c.json(await channelAnswer(row, config.shown), 201);
  });

  app.get('/channels', describeIn('operators', { summary: 'All channels', responses: { 200: jsonOrPage(channelList, 'Every channel.') } }), async (c) => {
    const channels = await deps.store.listChannels();
    return c.json({ data: await Promise.all(channels.map((ch) => channelAnswer(ch, shownConfig(ch)))) });
  });

  app.patch('/channels/:code', describeIn('operators', { summary: 'Change a channel', responses: { 200: jsonAnswer(channel, 'The channel as changed.') }, errors: [404] }), jsonBody(updateChannel), async (c) => {
    const current = await deps.store.loadChannel(c.req.param('code'));
    if (!current) throw new ApiError('not_found', `no channel ${c.req.param('code')}`);
    const body = c.req.valid('json');
    const provider = current.provider;
    if (body.currencies && !servesCurrencies(provider, body.currencies)) {
      throw new ApiError('invalid_request', `currencies ${unservedCurrenciesMessage(provider)}`, 'currencies');
    }
    // A config not given stays as stored; one its plug-in no longer reads still lets the rest change (disable it).
    const shown = body.config ? configOf(provider, body.config).shown : shownConfig(current);
    const currencies = body.currencies ?? current.currencies;
    const row: ChannelRow = {
      ...current, methods: body.methods ?? current.methods, currencies, weight: body.weight ?? current.weight,
      singleLimit: changedLimitOf(body.single_limit, current.singleLimit, 'single_limit', current.currencies, currencies),
      dailyLimit: changedLimitOf(body.daily_limit, current.dailyLimit, 'daily_limit', current.currencies, currencies),
      status: body.status ?? current.status, configEnc: body.config ? seal(deps.secretKey, JSON.stringify(body.config)) : current.configEnc,
      feeRate: body.fee_rate ?? current.feeRate, updatedAt: deps.clock.now(),
    };
    await deps.store.updateChannel(row);
    deps.channels.forget();
    return c.json(await channelAnswer(row, shown));
  });
}

/** What operators reach for on a bad day: a notification sent again, every session ended, an order's timeline, the memory. */
function mountOperatorTools(app: Hono, deps: AdminDeps, gate: Gate): void {
  app.post('/events/:id/resend', describeIn('operators', {
    summary: 'Deliver a merchant notification again, with a fresh retry schedule', responses: { 202: jsonAnswer(redelivery, 'Queued.') }, errors: [404],
  }), async (c) => {
    const event = await deps.store.loadMerchantEvent(c.req.param('id'));
    if (!event || !(await deps.store.resendNotification(event.id, deps.clock.now()))) throw new ApiError('not_found', `no event ${c.req.param('id')}`);
    return c.json({ id: event.id, type: event.type, status: 'pending' }, 202);
  });

  app.delete('/sessions', describeIn('operators', { summary: 'Sign every browser out (revoke all operator sessions)', responses: { 204: noContent('Every session ended.') } }), async (c) => {
    await gate.sessions.closeAll();
    return c.body(null, 204);
  });

  app.get('/payments/:id/timeline', describeIn('operators', {
    summary: 'The events the order’s actor took, with states and effects, a page at a time (after_seq, limit)',
    responses: { 200: jsonOrPage(timeline, 'A page of the timeline; next_after_seq pages on.') }, errors: [404],
  }), queryParams(timelinePage), async (c) => {
    const order = await deps.store.loadOrder(c.req.param('id'));
    if (!order) throw new ApiError('not_found', `no payment ${c.req.param('id')}`);
    const page = c.req.valid('query');
    const [journal, callbacks] = await Promise.all([deps.store.listJournal(order.id, page), deps.store.listCallbacks(order.id)]);
    const last = journal.at(-1)?.seq ?? page.afterSeq;
    return c.json({
      payment_id: order.id, status: order.status, version: order.version,
      next_after_seq: last < order.version ? last : null,
      events: journal.map((j) => ({ seq: j.seq, at: new Date(j.at).toISOString(), event: j.event, state_before: j.stateBefore, state_after: j.stateAfter, effects: j.effects })),
      callbacks: callbacks.map((cb) => ({
        id: cb.id, received_at: new Date(cb.receivedAt).toISOString(), provider: cb.provider, channel: cb.channelCode, verified: cb.verified,
        flow_id: cb.flowId, outcome: cb.outcome, headers: cb.headers, body: cb.body,
      })),
    });
  });

  // collect=true runs a full collection first (it holds this instance for tens of ms), so that a
  // heap sampled over time shows what is kept, not garbage not yet collected (bench lifecycle --soak).
  app.get('/memory', describeIn('operators', {
    summary: 'This instance’s memory; collect=true measures after a full garbage collection', responses: { 200: jsonAnswer(memory, 'Bytes, as the runtime counts them.') },
  }), queryParams(memoryQuery), (c) => {
    if (c.req.valid('query').collect === 'true') Bun.gc(true);
    const m = process.memoryUsage();
    return c.json({ rss_bytes: m.rss, heap_used_bytes: m.heapUsed, heap_total_bytes: m.heapTotal, external_bytes: m.external });
  });
}
