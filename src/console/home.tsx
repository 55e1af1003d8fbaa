/** @jsxImportSource hono/jsx */
/**
 * The console's home: today's orders per currency (China day), the channels, open alerts,
 * differences and parked rows. The page and its JSON are one object (homeOf): the page script
 * refreshes every figure from the JSON by its `data-field` path, so a figure without one is
 * frozen at load time.
 */
import { chinaDate, chinaDayStart } from '../channels/china-time.ts';
import { alertOf } from '../http/routes/admin-alerts.ts';
import { formatAmount, isCurrency } from '../money.ts';
import type { OrderStats } from '../store/store.ts';
import { ChannelsTable, channelLines } from './channels.tsx';
import type { HomeStats } from './home-stats.ts';
import { Layout, Stat, Table, Text, Time, open_alerts_path, percent } from './pages.tsx';
import type { ConsoleDeps } from './routes.tsx';

/** Alerts shown on the home page. */
const home_items_max = 10;
/** Open differences and parked rows counted on the home page at most. */
const home_counted_max = 1_000;
/** How often the home page refreshes its figures (today's orders may be up to home_stats_fresh_ms older). */
const home_refresh_ms = 10_000;

const amountOf = (minor: number, currency: string) => (isCurrency(currency) ? formatAmount(minor, currency) : String(minor));

/**
 * A currency's day. The success rate is paid ÷ attempted: an order nobody tried to pay (no flow)
 * is not a failure; one still paying counts as not paid yet. Amounts are of the day's orders
 * (created today), paid on them and refunded of that since.
 */
const dayOf = (s: OrderStats) => ({
  currency: s.currency, orders: s.orders, attempted: s.attempted, paid: s.paid,
  success_rate: s.attempted === 0 ? null : Math.round((s.paid / s.attempted) * 1000) / 1000,
  paid_amount: amountOf(s.paidAmount, s.currency), refunded_amount: amountOf(s.refundedAmount, s.currency),
});

/** The home's figures; today's orders from `homeStats` (counted once for every tab), the rest read as asked. */
export async function homeOf(deps: ConsoleDeps, homeStats: HomeStats) {
  const dayStart = chinaDayStart(deps.clock.now());
  const [stats, channels, open, alerts, diffs, parked] = await Promise.all([
    homeStats.of(dayStart), channelLines(deps), deps.store.countOpenAlerts(),
    deps.alerts.list({ open: true, limit: home_items_max }), deps.store.listOpenReconDiffs(Number.MAX_SAFE_INTEGER, home_counted_max),
    deps.store.listParked(home_counted_max),
  ]);
  return {
    today: { date: chinaDate(dayStart), currencies: stats.map(dayOf) },
    channels,
    open_alerts: Object.values(open).reduce((n, count) => n + count, 0),
    parked: parked.length,
    alerts: alerts.data.map(alertOf),
    open_diffs: diffs.length,
  };
}

export type Home = Awaited<ReturnType<typeof homeOf>>;

/** A figure the page script keeps fresh from the JSON answer's `path`. */
const Live = (props: { path: string; value: string; format?: 'percent' }) => <span data-field={props.path} data-format={props.format}>{props.value}</span>;

function TodayTable(props: { today: Home['today'] }) {
  const { today } = props;
  const field = (currency: string, name: string) => `today.currencies.currency=${currency}.${name}`;
  return (
    <div data-shape="today.currencies currency" data-value={today.currencies.map((c) => c.currency).join(',')}>
      <Table head={['Currency', 'Orders', 'Attempted', 'Paid', 'Success rate', 'Paid on them (before refunds)', 'Refunded of it']} empty="No orders yet today."
        rows={today.currencies.map((c) => [
          <strong>{c.currency}</strong>, <Live path={field(c.currency, 'orders')} value={String(c.orders)} />,
          <Live path={field(c.currency, 'attempted')} value={String(c.attempted)} />, <Live path={field(c.currency, 'paid')} value={String(c.paid)} />,
          <Live path={field(c.currency, 'success_rate')} value={percent(c.success_rate)} format="percent" />,
          <Live path={field(c.currency, 'paid_amount')} value={c.paid_amount} />, <Live path={field(c.currency, 'refunded_amount')} value={c.refunded_amount} />,
        ])} />
    </div>
  );
}

export function HomePage(props: { home: Home }) {
  const { home } = props;
  return (
    <Layout title={`Today (${home.today.date}, China time)`} active="/admin">
      <div data-refresh={String(home_refresh_ms)} data-shape="today.date" data-value={home.today.date}>
        <h2>Orders created today</h2>
        <p class="empty">Success rate: paid ÷ attempted (orders a payer tried to pay). Amounts are of today's orders.</p>
        <TodayTable today={home.today} />
        <div class="stats below">
          <Stat label="Open alerts" value={<a href={open_alerts_path}><Live path="open_alerts" value={String(home.open_alerts)} /></a>} />
          <Stat label="Open differences" value={<a href="/admin/reconciliations"><Live path="open_diffs" value={String(home.open_diffs)} /></a>} />
          <Stat label="Parked rows" value={<a href="/admin/alerts?kind=parked"><Live path="parked" value={String(home.parked)} /></a>} />
        </div>
      </div>
      <h2>Channels</h2>
      <ChannelsTable channels={home.channels} />
      <h2>Open alerts</h2>
      <Table head={['When', 'Kind', 'Message']} empty="No open alerts."
        rows={home.alerts.map((a) => [<Time ms={Date.parse(a.created_at)} />, <span class="badge">{a.kind}</span>, <Text>{a.message}</Text>])} />
    </Layout>
  );
}
