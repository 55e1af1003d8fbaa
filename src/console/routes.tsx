/** @jsxImportSource hono/jsx */
/**
 * The operator console (API.md "Operator console"), mounted on the operator routes and so
 * behind their authentication: a browser (`Accept: text/html`) gets pages, other clients JSON,
 * from the same queries. Writes from pages are forms with the session's CSRF token (checked by
 * the operator routes' authentication), and every write is recorded (src/console/audit.ts).
 */
import type { Context, Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import * as v from 'valibot';
import { restore } from '../../actors/engine.ts';
import { paymentStatuses } from '../../machines/payment.model.ts';
import type { Alerts } from '../alerts/alerts.ts';
import { audit, consoleHome, paymentPage } from '../http/answers.ts';
import { describeIn, jsonOrPage } from '../http/openapi.ts';
import { optionalParam, pageLimit, queryParams } from '../http/validate.ts';
import { type Links, paymentOf } from '../http/views.ts';
import type { Clock } from '../clock.ts';
import { firstIdAt } from '../ids.ts';
import type { Reconciliation } from '../recon/reconciliation.ts';
import type { ChannelHealth } from '../routing/channel-health.ts';
import type { AdminAuditRow, OrderRow, Store } from '../store/store.ts';
import { prefersHtml } from '../viewer/routes.ts';
import type { MerchantDirectory } from '../merchants/directory.ts';
import type { Risk } from '../risk/open.ts';
import { mountAlertsConsole } from './alerts.tsx';
import { mountChannelConsole } from './channels.tsx';
import { csrfToken } from './csrf.ts';
import { HomeStats } from './home-stats.ts';
import { HomePage, homeOf } from './home.tsx';
import { mountMerchantConsole } from './merchants.tsx';
import { mountReconConsole } from './recon.tsx';
import { mountRiskConsole } from './risk.tsx';
import { consoleTime } from './time-span.ts';
import { Layout, Table, Text, Time, console_css, console_js } from './pages.tsx';

export type ConsoleDeps = {
  store: Store; clock: Clock; alerts: Alerts; recon: Reconciliation; health: ChannelHealth; merchants: MerchantDirectory; risk: Risk; links: Links; sessionCookie: string;
};

/** Payments, or operators' writes, a page lists at most. */
export const console_page_max = 100;

const paymentId = v.pipe(v.string(), v.regex(/^pay_[0-9A-Z]{26}$/, 'must be a payment id'));
const paymentsQuery = v.strictObject({
  id: optionalParam(paymentId),
  merchant_id: optionalParam(v.pipe(v.string(), v.maxLength(32))),
  merchant_order_no: optionalParam(v.pipe(v.string(), v.maxLength(64))),
  status: optionalParam(v.picklist(paymentStatuses, `must be one of ${paymentStatuses.join(', ')}`)),
  channel: optionalParam(v.pipe(v.string(), v.maxLength(32))),
  method: optionalParam(v.pipe(v.string(), v.maxLength(32))),
  created_from: optionalParam(consoleTime('start', 'Created from the start of this time (a date: its first instant, China time)')),
  created_to: optionalParam(consoleTime('end', 'Created up to the end of this time, included (a date: that whole China day; a time: its whole minute or second)')),
  after: optionalParam(paymentId),
  limit: pageLimit(console_page_max, 50),
});
type PaymentsQuery = v.InferOutput<typeof paymentsQuery>;

/** The filters as a store search: the tightest of the upper id bounds (`after`, `created_to`'s end, one id's own successor). */
function searchOf(q: PaymentsQuery) {
  const bounds = [q.after, q.created_to === undefined ? undefined : firstIdAt('pay', q.created_to), q.id === undefined ? undefined : `${q.id}0`];
  const before = bounds.filter((b): b is string => b !== undefined).sort()[0];
  return {
    merchantId: q.merchant_id, merchantOrderNo: q.merchant_order_no, status: q.status, channel: q.channel, method: q.method,
    idFrom: q.id ?? (q.created_from === undefined ? undefined : firstIdAt('pay', q.created_from)), idBefore: before, limit: q.limit + 1,
  };
}

const auditQuery = v.strictObject({
  after: optionalParam(v.pipe(v.string(), v.regex(/^aud_[0-9A-Z]{26}$/, 'must be an audit id'))),
  limit: pageLimit(console_page_max, 50),
});

export function mountConsole(app: Hono, deps: ConsoleDeps): void {
  const csrfOf = (c: Context) => csrfToken(deps.links.secretKey, getCookie(c, deps.sessionCookie) ?? '');
  const homeStats = new HomeStats(deps);
  mountMerchantConsole(app, { ...deps, csrfOf });
  mountChannelConsole(app, { ...deps, csrfOf });
  mountRiskConsole(app, { ...deps, csrfOf });
  mountAlertsConsole(app, { ...deps, csrfOf });
  mountReconConsole(app, { ...deps, csrfOf });

  app.get('/assets/console.js', (c) => c.body(console_js, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'private, max-age=300' }));
  app.get('/assets/console.css', (c) => c.body(console_css, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'private, max-age=300' }));

  app.get('/', describeIn('operators', {
    summary: "The console's home: today's volume and success rate, channels, open alerts and differences", responses: { 200: jsonOrPage(consoleHome, 'The figures.') },
  }), async (c) => {
    const home = await homeOf(deps, homeStats);
    if (!prefersHtml(c)) return c.json(home);
    return c.html(<HomePage home={home} />);
  });

  app.get('/payments', describeIn('operators', {
    summary: 'Search payments, newest first (after=pay_… pages on; id=pay_… finds one)', responses: { 200: jsonOrPage(paymentPage, 'A page of payments.') },
  }), queryParams(paymentsQuery), async (c) => {
    const q = c.req.valid('query');
    const rows = await deps.store.searchOrders(searchOf(q));
    const page = rows.slice(0, q.limit).map((row) => paymentOf({ context: restore(row).context, row }, deps.links));
    const hasMore = rows.length > q.limit;
    if (!prefersHtml(c)) return c.json({ data: page, has_more: hasMore });
    return c.html(<PaymentsPage query={c.req.query()} payments={page} rows={rows.slice(0, q.limit)} hasMore={hasMore} />);
  });

  app.get('/audit', describeIn('operators', {
    summary: "Operators' writes, newest first (after=aud_… pages on)", responses: { 200: jsonOrPage(audit, 'A page of writes; after (the last id) pages on to older ones.') },
  }), queryParams(auditQuery), async (c) => {
    const q = c.req.valid('query');
    const rows = await deps.store.listAdminAudit(q.after ?? null, q.limit + 1);
    const page = rows.slice(0, q.limit);
    const hasMore = rows.length > q.limit;
    const data = page.map((r) => ({ id: r.id, at: new Date(r.at).toISOString(), actor: r.actor, action: r.action, target: r.target, detail: r.detail }));
    if (!prefersHtml(c)) return c.json({ data, has_more: hasMore });
    return c.html(<AuditPage rows={page} hasMore={hasMore} query={q} />);
  });
}

function AuditPage(props: { rows: AdminAuditRow[]; hasMore: boolean; query: v.InferOutput<typeof auditQuery> }) {
  const older = new URLSearchParams({ after: props.rows.at(-1)?.id ?? '', limit: String(props.query.limit) });
  return (
    <Layout title="Audit" active="/admin/audit">
      {props.query.after === undefined ? '' : <p class="pager"><a href={`/admin/audit?limit=${props.query.limit}`}>← Newest</a></p>}
      <Table head={['When', 'Who', 'What', 'Target', 'Answer']} empty={props.query.after === undefined ? 'No writes yet.' : 'No older writes.'}
        rows={props.rows.map((r) => [<Time ms={r.at} />, r.actor, r.action, <code>{r.target}</code>, <Text>{JSON.stringify(r.detail)}</Text>])} />
      {props.hasMore ? <p class="pager"><a href={`/admin/audit?${older}`}>Older writes →</a></p> : ''}
    </Layout>
  );
}

function PaymentsPage(props: { query: Record<string, string>; payments: Array<ReturnType<typeof paymentOf>>; rows: OrderRow[]; hasMore: boolean }) {
  const q = props.query;
  const next = new URLSearchParams({ ...q, after: props.payments.at(-1)?.id ?? '' });
  const field = (name: string, placeholder: string) => <input name={name} placeholder={placeholder} value={q[name] ?? ''} />;
  return (
    <Layout title="Payments" active="/admin/payments">
      <form class="filters" method="get" action="/admin/payments">
        {field('id', 'pay_…')}{field('merchant_id', 'merchant')}{field('merchant_order_no', 'merchant order no')}
        <select name="status"><option value="">any status</option>{paymentStatuses.map((s) => <option value={s} selected={q.status === s}>{s}</option>)}</select>
        {field('channel', 'channel')}{field('method', 'method')}
        <DateField name="created_from" label="created from (China day)" value={q.created_from} />
        <DateField name="created_to" label="created to (China day, included)" value={q.created_to} />
        <button>Search</button>
      </form>
      <Table head={['Payment', 'Merchant', 'Order no', 'Amount', 'Status', 'Channels', 'Created']} empty="No payment matches."
        rows={props.payments.map((p, i) => [
          <a href={`/admin/payments/${p.id}/timeline`}><code>{p.id}</code></a>, p.merchant_id, p.merchant_order_no, `${p.amount} ${p.currency}`,
          <span class={`badge ${p.status}`}>{p.status}</span>, [...new Set(p.flows.map((f) => f.channel))].join(', '), <Time ms={props.rows[i]!.createdAt} />,
        ])} />
      {props.hasMore ? <p class="pager"><a href={`/admin/payments?${next}`}>Older payments →</a></p> : ''}
    </Layout>
  );
}

/**
 * A date input for a China day. A time it cannot hold (a link's `2026-12-05 01:39`) is kept in a
 * text input instead: a date input would drop it, and the next search with it.
 */
function DateField(props: { name: string; label: string; value: string | undefined }) {
  const value = props.value ?? '';
  const type = value === '' || /^\d{4}-\d{2}-\d{2}$/.test(value) ? 'date' : 'text';
  return <input name={props.name} type={type} value={value} aria-label={props.label} title={props.label} />;
}
