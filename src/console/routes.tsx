/** @jsxImportSource hono/jsx */
/**
 * The operator console (API.md "Operator console"), mounted on the operator routes and so
 * behind their authentication: a browser (`Accept: text/html`) gets pages, other clients JSON,
 * from the same queries. Writes from pages are forms with the session's CSRF token (checked by
 * the operator routes' authentication), and every write is recorded (src/console/audit.ts).
 */
import type { Context, Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { encodeTime } from 'ulid';
import * as v from 'valibot';
import { restore } from '../../actors/engine.ts';
import { paymentStatuses } from '../../machines/payment.model.ts';
import type { Alerts } from '../alerts/alerts.ts';
import { alertOf } from '../http/routes/admin-alerts.ts';
import { runView } from '../http/routes/admin-recon.ts';
import { audit, consoleHome, paymentPage } from '../http/answers.ts';
import { ApiError } from '../http/errors.ts';
import { describeIn, jsonOrPage } from '../http/openapi.ts';
import { optionalParam, pageLimit, queryParams, refuseNul } from '../http/validate.ts';
import { type Links, paymentOf } from '../http/views.ts';
import { chinaDate, chinaDayStart } from '../channels/china-time.ts';
import type { Clock } from '../clock.ts';
import { type Currency, currencies, formatAmount } from '../money.ts';
import type { Reconciliation } from '../recon/reconciliation.ts';
import type { ChannelHealth } from '../routing/channel-health.ts';
import type { OrderRow, Store } from '../store/store.ts';
import { prefersHtml } from '../viewer/routes.ts';
import type { MerchantDirectory } from '../merchants/directory.ts';
import type { Risk } from '../risk/open.ts';
import { ChannelsTable, channelLines, mountChannelConsole } from './channels.tsx';
import { csrfToken } from './csrf.ts';
import { mountMerchantConsole } from './merchants.tsx';
import { mountRiskConsole } from './risk.tsx';
import { Layout, PostForm, Stat, Table, Time, console_css, console_js } from './pages.tsx';

export type ConsoleDeps = {
  store: Store; clock: Clock; alerts: Alerts; recon: Reconciliation; health: ChannelHealth; merchants: MerchantDirectory; risk: Risk; links: Links; sessionCookie: string;
};

/** Payments per search page at most. */
export const console_page_max = 100;
/** Alerts and differences shown on the home page. */
const home_items_max = 10;
/** Open differences counted on the home page at most. */
const open_diffs_counted_max = 1_000;
/** How often the home page refreshes its figures. */
const home_refresh_ms = 10_000;

const paymentId = v.pipe(v.string(), v.regex(/^pay_[0-9A-Z]{26}$/, 'must be a payment id'));
const rfc3339 = v.pipe(v.string(), v.isoTimestamp('must be an RFC 3339 time'), v.transform((s) => Date.parse(s)));
const paymentsQuery = v.strictObject({
  id: optionalParam(paymentId),
  merchant_id: optionalParam(v.pipe(v.string(), v.maxLength(32))),
  merchant_order_no: optionalParam(v.pipe(v.string(), v.maxLength(64))),
  status: optionalParam(v.picklist(paymentStatuses, `must be one of ${paymentStatuses.join(', ')}`)),
  channel: optionalParam(v.pipe(v.string(), v.maxLength(32))),
  method: optionalParam(v.pipe(v.string(), v.maxLength(32))),
  created_from: optionalParam(rfc3339),
  created_to: optionalParam(rfc3339),
  after: optionalParam(paymentId),
  limit: pageLimit(console_page_max, 50),
});
type PaymentsQuery = v.InferOutput<typeof paymentsQuery>;

/** The smallest payment id minted at `ms` or later: ids start with their creation time. */
const firstIdAt = (ms: number) => `pay_${encodeTime(ms, 10)}${'0'.repeat(16)}`;

/** The filters as a store search: the tightest of the upper id bounds (`after`, `created_to`, one id's own successor). */
function searchOf(q: PaymentsQuery) {
  const bounds = [q.after, q.created_to === undefined ? undefined : firstIdAt(q.created_to), q.id === undefined ? undefined : `${q.id}0`];
  const before = bounds.filter((b): b is string => b !== undefined).sort()[0];
  return {
    merchantId: q.merchant_id, merchantOrderNo: q.merchant_order_no, status: q.status, channel: q.channel, method: q.method,
    idFrom: q.id ?? (q.created_from === undefined ? undefined : firstIdAt(q.created_from)), idBefore: before, limit: q.limit + 1,
  };
}

export function mountConsole(app: Hono, deps: ConsoleDeps): void {
  const csrfOf = (c: Context) => csrfToken(deps.links.secretKey, getCookie(c, deps.sessionCookie) ?? '');
  mountMerchantConsole(app, { ...deps, csrfOf });
  mountChannelConsole(app, { ...deps, csrfOf });
  mountRiskConsole(app, { ...deps, csrfOf });

  app.get('/assets/console.js', (c) => c.body(console_js, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'private, max-age=300' }));
  app.get('/assets/console.css', (c) => c.body(console_css, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'private, max-age=300' }));

  app.get('/', describeIn('operators', {
    summary: "The console's home: today's volume and success rate, channels, open alerts and differences", responses: { 200: jsonOrPage(consoleHome, 'The figures.') },
  }), async (c) => {
    const home = await homeOf(deps);
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

  app.get('/alerts', async (c, next) => {
    if (!prefersHtml(c)) return next();
    const open = c.req.query('open') !== 'false';
    const page = await deps.alerts.list({ open: open ? true : undefined, limit: console_page_max });
    const csrf = csrfOf(c);
    return c.html(
      <Layout title="Alerts" active="/admin/alerts">
        <p><a href={open ? '/admin/alerts?open=false' : '/admin/alerts'}>{open ? 'Show acknowledged ones too' : 'Show open ones only'}</a></p>
        <Table head={['When', 'Kind', 'Message', 'Payment', 'Channel', '']} empty="No open alerts."
          rows={page.data.map((a) => [
            <Time ms={a.createdAt} />, <span class="badge">{a.kind}</span>, a.message,
            a.paymentId ? <a href={`/admin/payments/${a.paymentId}/timeline`}><code>{a.paymentId}</code></a> : '', a.channel ?? '',
            a.ackedAt === null ? <PostForm action={`/admin/alerts/${a.id}/ack`} csrf={csrf}><button>Acknowledge</button></PostForm> : <span>acknowledged <Time ms={a.ackedAt} /></span>,
          ])} />
      </Layout>,
    );
  });

  app.get('/reconciliations', async (c, next) => {
    if (!prefersHtml(c)) return next();
    const runs = await deps.store.listReconRuns({ limit: console_page_max });
    return c.html(
      <Layout title="Reconciliation" active="/admin/reconciliations">
        <Table head={['Day', 'Channel', 'Status', 'Matched', 'Differences', 'Pending', 'Channel net', 'Our net', 'Fee']} empty="No reconciliation has run yet."
          rows={runs.map((r) => [
            <a href={`/admin/reconciliations/${r.id}`}>{r.date}</a>, r.channel, <span class={`badge ${r.status}`}>{r.status}</span>, String(r.counts.matched ?? 0),
            String(['missing_local', 'missing_channel', 'amount_mismatch', 'status_mismatch', 'fee_mismatch'].reduce((n, k) => n + (r.counts[k] ?? 0), 0)),
            String(r.counts.pending ?? 0), r.totals.channel_amount ?? '', r.totals.local_amount ?? '', r.totals.channel_fee ?? '',
          ])} />
      </Layout>,
    );
  });

  app.get('/reconciliations/:id', async (c, next) => {
    if (!prefersHtml(c)) return next();
    const run = await deps.store.loadReconRun(c.req.param('id'));
    if (!run) throw new ApiError('not_found', `no reconciliation ${c.req.param('id')}`);
    const view = runView(run, await deps.store.listReconDiffs(run.id));
    const csrf = csrfOf(c);
    return c.html(
      <Layout title={`Reconciliation of ${run.channel} on ${run.date}`} active="/admin/reconciliations">
        <div class="stats">{Object.entries(view.counts).map(([k, n]) => <Stat label={k} value={String(n)} />)}</div>
        {run.error ? <p>Failed: {run.error}</p> : ''}
        <h2>Differences</h2>
        <Table head={['Kind', 'Flow', 'Refund', 'Channel trade', 'Resolution', 'Note', '']} empty="No differences."
          rows={view.diffs!.map((d) => [
            <span class="badge">{d.kind}</span>, d.flow_id ?? '', d.refund_id ?? '', d.channel_trade_no ?? '', <span class={`badge ${d.resolution}`}>{d.resolution}</span>, d.note ?? '',
            d.resolution === 'open'
              ? <PostForm action={`/admin/forms/reconciliations/${run.id}/diffs/${d.id}`} csrf={csrf}><input name="note" placeholder="why" required maxlength={1000} /> <button>Ignore</button></PostForm>
              : '',
          ])} />
      </Layout>,
    );
  });

  app.post('/forms/reconciliations/:id/diffs/:diff', async (c) => {
    const form = await c.req.parseBody();
    refuseNul(form);
    const note = typeof form.note === 'string' ? form.note.slice(0, 1000) : null;
    const diff = await deps.recon.resolve(c.req.param('id'), c.req.param('diff'), { resolution: 'ignored', note, by: 'admin (console)' });
    if (!diff) throw new ApiError('not_found', `no difference ${c.req.param('diff')}`);
    return c.redirect(`/admin/reconciliations/${c.req.param('id')}`, 303);
  });

  app.get('/audit', describeIn('operators', {
    summary: "Operators' writes, newest first", parameters: [{ in: 'query', name: 'after', schema: { type: 'string' }, description: 'the last id of the previous page' }],
    responses: { 200: jsonOrPage(audit, `At most ${console_page_max} writes.`) },
  }), async (c) => {
    const rows = await deps.store.listAdminAudit(c.req.query('after') ?? null, console_page_max);
    const data = rows.map((r) => ({ id: r.id, at: new Date(r.at).toISOString(), actor: r.actor, action: r.action, target: r.target, detail: r.detail }));
    if (!prefersHtml(c)) return c.json({ data });
    return c.html(
      <Layout title="Audit" active="/admin/audit">
        <Table head={['When', 'Who', 'What', 'Target', 'Answer']} empty="No writes yet."
          rows={rows.map((r) => [<Time ms={r.at} />, r.actor, r.action, <code>{r.target}</code>, JSON.stringify(r.detail)])} />
      </Layout>,
    );
  });
}

type Home = Awaited<ReturnType<typeof homeOf>>;

async function homeOf(deps: ConsoleDeps) {
  const now = deps.clock.now();
  const dayStart = chinaDayStart(now);
  const [stats, channels, open, alerts, diffs, parked] = await Promise.all([
    deps.store.orderStatsSince(firstIdAt(dayStart)), channelLines(deps), deps.store.countOpenAlerts(),
    deps.alerts.list({ open: true, limit: home_items_max }), deps.store.listOpenReconDiffs(Number.MAX_SAFE_INTEGER, open_diffs_counted_max),
    deps.store.listParked(open_diffs_counted_max),
  ]);
  return {
    today: {
      date: chinaDate(dayStart),
      currencies: stats.map((s) => ({
        currency: s.currency, orders: s.orders, paid: s.paid, success_rate: s.orders === 0 ? null : Math.round((s.paid / s.orders) * 1000) / 1000,
        paid_amount: currencies.includes(s.currency as Currency) ? formatAmount(s.paidAmount, s.currency as Currency) : String(s.paidAmount),
      })),
    },
    channels,
    open_alerts: Object.values(open).reduce((n, count) => n + count, 0),
    parked: parked.length,
    alerts: alerts.data.map(alertOf),
    open_diffs: diffs.length,
  };
}

function HomePage(props: { home: Home }) {
  const { home } = props;
  const cny = home.today.currencies.find((c) => c.currency === 'CNY');
  return (
    <Layout title={`Today (${home.today.date}, China time)`} active="/admin">
      <div class="stats" data-refresh={String(home_refresh_ms)}>
        <Stat label="Orders today" value={String(cny?.orders ?? 0)} id="orders" />
        <Stat label="Paid" value={String(cny?.paid ?? 0)} />
        <Stat label="Success rate" value={cny?.success_rate === null || cny === undefined ? '–' : `${(cny.success_rate * 100).toFixed(1)} %`} />
        <Stat label="Volume (CNY)" value={cny?.paid_amount ?? '0.00'} />
        <Stat label="Open alerts" value={<span data-field="open_alerts">{String(home.open_alerts)}</span>} />
        <Stat label="Open differences" value={<span data-field="open_diffs">{String(home.open_diffs)}</span>} />
        <Stat label="Parked rows" value={<span data-field="parked">{String(home.parked)}</span>} />
      </div>
      <h2>Channels</h2>
      <ChannelsTable channels={home.channels} />
      <h2>Open alerts</h2>
      <Table head={['When', 'Kind', 'Message']} empty="No open alerts."
        rows={home.alerts.map((a) => [<time datetime={a.created_at}>{a.created_at}</time>, <span class="badge">{a.kind}</span>, a.message])} />
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
        {field('channel', 'channel')}{field('method', 'method')}{field('created_from', 'from (RFC 3339)')}{field('created_to', 'to (RFC 3339)')}
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

