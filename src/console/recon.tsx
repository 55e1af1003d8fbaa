/** @jsxImportSource hono/jsx */
/**
 * The console's reconciliation: the runs, with the JSON route's query (channel, date, after,
 * limit) and pages; a run with its totals in their currency and its differences, each showing
 * both sides (our record, the statement's line) so that an operator can tell a difference to
 * ignore from one to look into, its flow linked to the payment's timeline; Ignore with a note.
 */
import type { Hono } from 'hono';
import * as v from 'valibot';
import { diff_note_chars_max, resolvedDiff, runsPage, runsQuery, type RunsQuery } from '../http/routes/admin-recon.ts';
import { ApiError } from '../http/errors.ts';
import { formFields, queryParams } from '../http/validate.ts';
import { type Currency, currencies, formatAmount, minorDigits, moneyText } from '../money.ts';
import { diff_kinds } from '../recon/classify.ts';
import type { Reconciliation } from '../recon/reconciliation.ts';
import type { ReconDiffRow, ReconRunRow, Store } from '../store/store.ts';
import { prefersHtml } from '../viewer/routes.ts';
import { type FormToken, Layout, PostForm, Stat, Table, Text, listLink } from './pages.tsx';

/** Ignoring a difference takes a reason, kept as its note. */
const ignoreForm = v.object({ note: v.pipe(v.string(), v.trim(), v.minLength(1, 'is required: say why'), v.maxLength(diff_note_chars_max)) });

export function mountReconConsole(app: Hono, deps: { store: Store; recon: Reconciliation; csrfOf: FormToken }): void {
  // Validated as the JSON route validates: a filter or page the API takes, the page takes the same way.
  app.get('/reconciliations', queryParams(runsQuery), async (c, next) => {
    if (!prefersHtml(c)) return next();
    const q = c.req.valid('query');
    const page = await runsPage(deps.store, q);
    return c.html(<RunsPage query={q} runs={page.runs} hasMore={page.hasMore} />);
  });

  app.get('/reconciliations/:id', async (c, next) => {
    if (!prefersHtml(c)) return next();
    const run = await deps.store.loadReconRun(c.req.param('id'));
    if (!run) throw new ApiError('not_found', `no reconciliation ${c.req.param('id')}`);
    const diffs = await deps.store.listReconDiffs(run.id);
    return c.html(<RunPage run={run} diffs={diffs} payments={await paymentsOfFlows(deps.store, diffs)} csrf={deps.csrfOf(c)} />);
  });

  app.post('/forms/reconciliations/:id/diffs/:diff', formFields(ignoreForm), async (c) => {
    const { id, diff } = c.req.param();
    resolvedDiff(await deps.recon.resolve(id, diff, { resolution: 'ignored', note: c.req.valid('form').note, by: 'admin (console)' }), id, diff);
    return c.redirect(`/admin/reconciliations/${id}`, 303);
  });
}

/**
 * The payment of each difference's flow, read by flow id in one query: a statement line names
 * our flow, not its payment, and a line naming no flow of ours has none.
 */
async function paymentsOfFlows(store: Store, diffs: ReconDiffRow[]): Promise<Map<string, string>> {
  const flowIds = [...new Set(diffs.flatMap((d) => (d.flowId === null ? [] : [d.flowId])))];
  const records = flowIds.length === 0 ? [] : await store.reconRecordsByIds(flowIds, []);
  return new Map(records.map((r) => [r.flowId, r.orderId]));
}

/** The currency a run's amounts are in; null for one not done, or made before runs kept it. */
const currencyOfRun = (run: ReconRunRow): Currency | null => {
  const currency = run.totals.currency;
  return v.is(v.picklist(currencies), currency) ? currency : null;
};

/** One of a run's totals, with its currency when the run kept it. */
const totalOf = (run: ReconRunRow, key: 'channel_amount' | 'local_amount' | 'channel_fee') => {
  const amount = run.totals[key];
  if (amount === undefined) return '';
  const currency = currencyOfRun(run);
  return currency === null ? amount : `${amount} ${currency}`;
};

const differencesOf = (run: ReconRunRow) => diff_kinds.reduce((n, kind) => n + (run.counts[kind] ?? 0), 0);

function RunsPage(props: { query: RunsQuery; runs: ReconRunRow[]; hasMore: boolean }) {
  const q = props.query;
  const link = (after: string | undefined) => listLink('/admin/reconciliations', { channel: q.channel, date: q.date, after, limit: q.limit });
  return (
    <Layout title="Reconciliation" active="/admin/reconciliations">
      <form class="filters" method="get" action="/admin/reconciliations">
        <input name="channel" placeholder="channel" value={q.channel ?? ''} aria-label="channel" />
        <input name="date" type="date" value={q.date ?? ''} aria-label="China day" />
        <button>Show</button>
      </form>
      {q.after === undefined ? '' : <p class="pager"><a href={link(undefined)}>← Newest</a></p>}
      <Table head={['Day', 'Channel', 'Status', 'Matched', 'Differences', 'Pending', 'Channel net', 'Our net', 'Fee']}
        empty={q.after !== undefined ? 'No older runs match.' : q.channel === undefined && q.date === undefined ? 'No reconciliation has run yet.' : 'No runs match.'}
        rows={props.runs.map((r) => [
          <a href={`/admin/reconciliations/${r.id}`}>{r.date}</a>, r.channel, <span class={`badge ${r.status}`}>{r.status}</span>, String(r.counts.matched ?? 0),
          String(differencesOf(r)), String(r.counts.pending ?? 0),
          <span class="nowrap">{totalOf(r, 'channel_amount')}</span>, <span class="nowrap">{totalOf(r, 'local_amount')}</span>, <span class="nowrap">{totalOf(r, 'channel_fee')}</span>,
        ])} />
      {props.hasMore ? <p class="pager"><a href={link(props.runs.at(-1)!.id)}>Older runs →</a></p> : ''}
    </Layout>
  );
}

function RunPage(props: { run: ReconRunRow; diffs: ReconDiffRow[]; payments: Map<string, string>; csrf: string }) {
  const { run } = props;
  const currency = currencyOfRun(run);
  return (
    <Layout title={`Reconciliation of ${run.channel} on ${run.date}`} active="/admin/reconciliations">
      <div class="stats">{Object.entries(run.counts).map(([k, n]) => <Stat label={k} value={String(n)} />)}</div>
      {run.totals.channel_amount === undefined ? '' : (
        <div class="stats below">
          <Stat label="channel net" value={totalOf(run, 'channel_amount')} /><Stat label="our net" value={totalOf(run, 'local_amount')} />
          <Stat label="channel fee" value={totalOf(run, 'channel_fee')} />
        </div>
      )}
      {run.error ? <p>Failed: {run.error}</p> : ''}
      <h2>Differences</h2>
      <Table head={['Kind', 'Flow, refund, channel trade', 'Ours', 'Statement', 'Resolution', '']} empty="No differences."
        rows={props.diffs.map((d) => [
          <span class="badge">{d.kind}</span>, <RecordIds diff={d} paymentId={d.flowId === null ? undefined : props.payments.get(d.flowId)} />,
          <Side value={d.local} currency={currency} none="no record" />, <Side value={d.channelRow} currency={currency} none="not on the statement" />,
          <><span class={`badge ${d.resolution}`}>{d.resolution}</span>{d.note === null ? '' : <div><Text>{d.note}</Text></div>}</>,
          d.resolution === 'open'
            ? <PostForm action={`/admin/forms/reconciliations/${run.id}/diffs/${d.id}`} csrf={props.csrf}><input name="note" placeholder="why" required maxlength={diff_note_chars_max} aria-label="why ignore" size={12} /> <button>Ignore</button></PostForm>
            : '',
        ])} />
    </Layout>
  );
}

/** A difference's flow (linked to its payment's timeline when it is ours), refund and channel trade numbers, one a line. */
function RecordIds(props: { diff: ReconDiffRow; paymentId: string | undefined }) {
  const { flowId, refundId, channelTradeNo } = props.diff;
  const flow = flowId === null ? '' : props.paymentId === undefined
    ? <div><code>{flowId}</code></div>
    : <div><a href={`/admin/payments/${props.paymentId}/timeline`} title="the payment's timeline"><code>{flowId}</code></a></div>;
  return (
    <>
      {flow}{refundId === null ? '' : <div><code>{refundId}</code></div>}
      {channelTradeNo === null ? '' : <div><code title="the channel's trade number">{channelTradeNo}</code></div>}
    </>
  );
}

const minor = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
/**
 * What either side of a difference holds that an operator weighs: our record (src/store/store.ts
 * ReconRecord) or the statement's line (StatementRow, which adds the fee). Stored JSON, so read
 * rather than trusted: what does not read is shown as stored.
 */
const side = v.object({ kind: v.picklist(['payment', 'refund']), amount: minor, status: v.string(), feeMilli: v.optional(minor) });

/** One side of a difference, a line a fact: the amount (a refund's says so), the status, the channel's fee. */
function Side(props: { value: unknown; currency: Currency | null; none: string }) {
  if (props.value === null || props.value === undefined) return <span class="empty">{props.none}</span>;
  const read = v.safeParse(side, props.value);
  if (!read.success) return <Text>{JSON.stringify(props.value)}</Text>;
  const facts = read.output;
  const lines = [
    `${facts.kind === 'refund' ? 'refund ' : ''}${moneyText(facts.amount, props.currency ?? undefined)}`, facts.status,
    ...(facts.feeMilli === undefined ? [] : [`fee ${feeText(facts.feeMilli, props.currency)}`]),
  ];
  return <>{lines.map((line) => <div class="nowrap">{line}</div>)}</>;
}

/**
 * A statement's fee as the statement gives it, to the thousandth of a minor unit (60123 →
 * "0.60123 CNY"), not rounded: an operator holds it against the channel's own bill.
 */
export function feeText(feeMilli: number, currency: Currency | null): string {
  if (currency === null) return `${feeMilli} (thousandths of a minor unit)`;
  const thousandths = String(feeMilli % 1000).padStart(3, '0').replace(/0+$/, '');
  const point = thousandths !== '' && minorDigits(currency) === 0 ? '.' : '';
  return `${formatAmount(Math.floor(feeMilli / 1000), currency)}${point}${thousandths} ${currency}`;
}
