/** @jsxImportSource hono/jsx */
/**
 * The console's channels: every channel with its health, and a page per channel with its health
 * window, its breaker's last transitions and forms to force the breaker open (降级 by hand) or
 * closed — what `POST /admin/channels/{code}/breaker` does. Browsers only: API clients get the
 * JSON routes of the same paths (routes/admin.ts, routes/admin-channels-health.ts).
 */
import type { Hono } from 'hono';
import * as v from 'valibot';
import { breakerForcing, forceBreaker, healthReport } from '../http/routes/admin-channels-health.ts';
import { formFields } from '../http/validate.ts';
import type { ChannelHealth, HealthView } from '../routing/channel-health.ts';
import type { Store } from '../store/store.ts';
import { prefersHtml } from '../viewer/routes.ts';
import { type FormToken, Layout, PostForm, Stat, Table, Time, percent } from './pages.tsx';

/** A channel as the console's tables show it. */
export type ChannelLine = { code: string; provider: string; status: string; methods: string[]; currencies: string[]; weight: number; health: HealthView };

/** A success rate over no calls is no rate at all: shown as a dash, not 100 %. */
const successRateOf = (health: HealthView) => percent(health.calls === 0 ? null : health.success_rate);
const ms = (value: number | null) => (value === null ? '–' : `${value} ms`);
const breakerBadge = (state: string) => <span class={`badge ${state === 'closed' ? 'done' : 'open'}`}>{state}</span>;

/** Channels with their health, each linking to its own page: on the home page and the channels page. */
export function ChannelsTable(props: { channels: ChannelLine[] }) {
  return (
    <Table head={['Code', 'Provider', 'Status', 'Breaker', 'Success rate', 'Calls', 'p99', 'Weight', 'Currencies', 'Methods']} empty="No channels yet."
      rows={props.channels.map((ch) => [
        <a href={`/admin/channels/${ch.code}/health`}><code>{ch.code}</code></a>, ch.provider, <span class={`badge ${ch.status}`}>{ch.status}</span>,
        breakerBadge(ch.health.breaker), successRateOf(ch.health), String(ch.health.calls), ms(ch.health.p99_ms), String(ch.weight),
        ch.currencies.join(', '), ch.methods.join(', '),
      ])} />
  );
}

/** Every channel with its health now. */
export async function channelLines(deps: { store: Store; health: ChannelHealth }): Promise<ChannelLine[]> {
  const channels = await deps.store.listChannels();
  const health = await Promise.all(channels.map((ch) => deps.health.view(ch.code)));
  return channels.map((ch, i) => ({
    code: ch.code, provider: ch.provider, status: ch.status, methods: ch.methods, currencies: ch.currencies, weight: ch.weight, health: health[i]!,
  }));
}

export function mountChannelConsole(app: Hono, deps: { store: Store; health: ChannelHealth; csrfOf: FormToken }): void {
  app.get('/channels', async (c, next) => {
    if (!prefersHtml(c)) return next();
    return c.html(<Layout title="Channels" active="/admin/channels"><ChannelsTable channels={await channelLines(deps)} /></Layout>);
  });

  app.get('/channels/:code/health', async (c, next) => {
    if (!prefersHtml(c)) return next();
    const code = c.req.param('code');
    return c.html(<ChannelPage code={code} report={await healthReport(deps, code)} csrf={deps.csrfOf(c)} />);
  });

  app.post('/forms/channels/:code/breaker', formFields(v.object(breakerForcing.entries)), async (c) => {
    await forceBreaker(deps, c.req.param('code'), c.req.valid('form'));
    return c.redirect(`/admin/channels/${c.req.param('code')}/health`, 303);
  });
}

function ChannelPage(props: { code: string; report: Awaited<ReturnType<typeof healthReport>>; csrf: string }) {
  const { report, code } = props;
  const force = (state: 'open' | 'closed', label: string) => (
    <PostForm action={`/admin/forms/channels/${code}/breaker`} csrf={props.csrf}>
      <input type="hidden" name="state" value={state} />
      <input name="reason" placeholder="why" required maxlength={200} aria-label={`why ${label.toLowerCase()}`} /> <button>{label}</button>
    </PostForm>
  );
  return (
    <Layout title={`Channel ${code}`} active="/admin/channels">
      <div class="stats">
        <Stat label="Breaker" value={breakerBadge(report.breaker)} />
        <Stat label={`Success rate (last ${report.window_s} s)`} value={successRateOf(report)} />
        <Stat label="Calls" value={String(report.calls)} />
        <Stat label="Failures" value={String(report.failures)} />
        <Stat label="p50 / p99" value={`${ms(report.p50_ms)} / ${ms(report.p99_ms)}`} />
        <Stat label="In the cashier" value={report.hidden_in_cashier ? 'hidden' : 'shown'} />
      </div>
      <h2>Force the breaker</h2>
      <p>Forced open, the channel takes no payments until an operator closes it; closing starts a fresh window.</p>
      <p>{force('open', 'Force open')}</p>
      <p>{force('closed', 'Close')}</p>
      <h2>Last transitions</h2>
      <Table head={['When', 'From', 'To', 'Why']} empty="The breaker has not moved."
        rows={report.transitions.map((t) => [<Time ms={Date.parse(t.at)} />, t.from, t.to, t.reason])} />
    </Layout>
  );
}
