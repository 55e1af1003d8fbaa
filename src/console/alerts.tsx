/** @jsxImportSource hono/jsx */
/**
 * The console's alerts: the JSON route's query and pages (GET /admin/alerts: open, kind,
 * payment_id, after, limit), newest first with a link to older ones, so an alert flood never
 * hides an older alert; a form per open alert acknowledges it.
 */
import type { Hono } from 'hono';
import type * as v from 'valibot';
import type { Alerts } from '../alerts/alerts.ts';
import { alert_kinds, alertKinds, isAlertKind } from '../alerts/kinds.ts';
import { alertsPage, alertsQuery } from '../http/routes/admin-alerts.ts';
import { queryParams } from '../http/validate.ts';
import type { AlertRow } from '../store/store.ts';
import { prefersHtml } from '../viewer/routes.ts';
import { type FormToken, Layout, PostForm, Table, Text, Time, listLink, open_alerts_path } from './pages.tsx';

type AlertsQuery = v.InferOutput<typeof alertsQuery>;

const shownOf: Record<string, string> = { true: 'open', false: 'acknowledged', '': 'open and acknowledged' };

export function mountAlertsConsole(app: Hono, deps: { alerts: Alerts; csrfOf: FormToken }): void {
  // Validated as the JSON route validates: a bad filter is refused the same way for both.
  app.get('/alerts', queryParams(alertsQuery), async (c, next) => {
    if (!prefersHtml(c)) return next();
    const q = c.req.valid('query');
    const page = await alertsPage(deps.alerts, q);
    return c.html(<AlertsPage query={q} alerts={page.data} hasMore={page.hasMore} csrf={deps.csrfOf(c)} />);
  });
}

/** The query's filters, with `after` as given. */
const linkTo = (q: AlertsQuery, after: string | undefined) => listLink('/admin/alerts', { open: q.open, kind: q.kind, payment_id: q.payment_id, after, limit: q.limit });

function Filters(props: { query: AlertsQuery }) {
  const q = props.query;
  return (
    <form class="filters" method="get" action="/admin/alerts">
      <select name="open" aria-label="which">
        {Object.entries(shownOf).map(([value, label]) => <option value={value} selected={(q.open ?? '') === value}>{label}</option>)}
      </select>
      <select name="kind" aria-label="kind">
        <option value="">any kind</option>
        {alertKinds.map((k) => <option value={k} selected={q.kind === k}>{k}</option>)}
      </select>
      <input name="payment_id" placeholder="pay_…" value={q.payment_id ?? ''} aria-label="payment" />
      <button>Show</button>
    </form>
  );
}

function AlertsPage(props: { query: AlertsQuery; alerts: AlertRow[]; hasMore: boolean; csrf: string }) {
  const q = props.query;
  const active = q.open === 'true' && q.kind === undefined && q.payment_id === undefined && q.after === undefined ? open_alerts_path : '';
  return (
    <Layout title="Alerts" active={active}>
      <Filters query={q} />
      {q.after === undefined ? '' : <p class="pager"><a href={linkTo(q, undefined)}>← Newest</a></p>}
      <Table head={['When', 'Kind', 'Message', 'Payment', 'Channel', '']} empty={q.after === undefined ? 'No alerts match.' : 'No older alerts match.'}
        rows={props.alerts.map((a) => [
          <Time ms={a.createdAt} />, <span class="badge" title={isAlertKind(a.kind) ? alert_kinds[a.kind] : undefined}>{a.kind}</span>, <Text>{a.message}</Text>,
          a.paymentId ? <a href={`/admin/payments/${a.paymentId}/timeline`}><code>{a.paymentId}</code></a> : '', a.channel ?? '',
          a.ackedAt === null
            ? <PostForm action={`/admin/alerts/${a.id}/ack`} csrf={props.csrf}><button>Acknowledge</button></PostForm>
            : <span class="nowrap">acknowledged <Time ms={a.ackedAt} /></span>,
        ])} />
      {props.hasMore ? <p class="pager"><a href={linkTo(q, props.alerts.at(-1)!.id)}>Older alerts →</a></p> : ''}
    </Layout>
  );
}
