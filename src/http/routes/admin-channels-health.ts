/**
 * Operators and channel health (API.md "Routing, channel health and failover"):
 * `POST /admin/channels/{code}/breaker` forces a breaker open (降级 by hand; it stays open until
 * an operator closes it) or closed (a fresh window); `GET /admin/channels/{code}/health` shows
 * the health object and the breaker's last transitions with their reasons. Mounted inside the
 * operator routes, behind their authentication.
 */
import type { Hono } from 'hono';
import * as v from 'valibot';
import { isoTime } from '../../clock.ts';
import type { ChannelHealth } from '../../routing/channel-health.ts';
import type { Store } from '../../store/store.ts';
import { health, healthReport as healthReportAnswer } from '../answers.ts';
import { ApiError } from '../errors.ts';
import { describeIn, jsonAnswer, jsonOrPage } from '../openapi.ts';
import { jsonBody } from '../validate.ts';

/** Transitions one health answer lists. */
export const breaker_transitions_shown_max = 20;
/** How long an operator's reason for forcing a breaker may be: it is stored with the transition. */
const breaker_reason_chars_max = 200;

/** What forcing a breaker takes, as a JSON body here; the console's form (which also carries its CSRF token) reads its entries. */
export const breakerForcing = v.strictObject({
  state: v.picklist(['open', 'closed']),
  reason: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(breaker_reason_chars_max)),
});
type BreakerForcing = v.InferOutput<typeof breakerForcing>;

type HealthDeps = { health: ChannelHealth; store: Store };

async function requireChannel(store: Store, code: string): Promise<void> {
  if (!(await store.loadChannel(code))) throw new ApiError('not_found', `no channel ${code}`);
}

/** Forces a channel's breaker as an operator asked, from the JSON route or the console's form. */
export async function forceBreaker(deps: HealthDeps, code: string, forcing: BreakerForcing): Promise<void> {
  await requireChannel(deps.store, code);
  await deps.health.force(code, forcing.state, forcing.reason);
}

/** A channel's health object with its breaker's last transitions, as the JSON route answers and the console's page shows. */
export async function healthReport(deps: HealthDeps, code: string) {
  await requireChannel(deps.store, code);
  const [view, transitions] = await Promise.all([deps.health.view(code), deps.health.transitions(code, breaker_transitions_shown_max)]);
  return { ...view, transitions: transitions.map((t) => ({ at: isoTime(t.at), from: t.from, to: t.to, reason: t.reason })) };
}

export function mountChannelHealth(app: Hono, deps: HealthDeps): void {
  app.post('/channels/:code/breaker', describeIn('operators', {
    summary: 'Force a channel’s breaker open or closed', responses: { 200: jsonAnswer(health, 'The channel\'s health with the breaker as forced.') }, errors: [404],
  }), jsonBody(breakerForcing), async (c) => {
    await forceBreaker(deps, c.req.param('code'), c.req.valid('json'));
    return c.json(await deps.health.view(c.req.param('code')));
  });

  app.get('/channels/:code/health', describeIn('operators', {
    summary: 'A channel’s health and its breaker’s last transitions', responses: { 200: jsonOrPage(healthReportAnswer, 'The health and the transitions.') }, errors: [404],
  }), async (c) =>
    c.json(await healthReport(deps, c.req.param('code'))));
}
