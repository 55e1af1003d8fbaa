/**
 * Operators and channel health (API.md "Routing, channel health and failover"):
 * `POST /admin/channels/{code}/breaker` forces a breaker open (降级 by hand; it stays open until
 * an operator closes it) or closed (a fresh window); `GET /admin/channels/{code}/health` shows
 * the health object and the breaker's last transitions with their reasons. Mounted inside the
 * operator routes, behind their authentication.
 */
import type { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { isoTime } from '../../clock.ts';
import type { ChannelHealth } from '../../routing/channel-health.ts';
import type { Store } from '../../store/store.ts';
import { ApiError } from '../errors.ts';
import { jsonBody } from '../validate.ts';

/** Transitions one health answer lists. */
export const breaker_transitions_shown_max = 20;
/** How long an operator's reason for forcing a breaker may be: it is stored with the transition. */
const breaker_reason_chars_max = 200;

const forceBreaker = v.strictObject({
  state: v.picklist(['open', 'closed']),
  reason: v.pipe(v.string(), v.minLength(1), v.maxLength(breaker_reason_chars_max)),
});

const tag = { tags: ['operators'], security: [{ adminToken: [] }] };

export function mountChannelHealth(app: Hono, deps: { health: ChannelHealth; store: Store }): void {
  const existing = async (code: string) => {
    if (!(await deps.store.loadChannel(code))) throw new ApiError('not_found', `no channel ${code}`);
    return code;
  };

  app.post('/channels/:code/breaker', describeRoute({ ...tag, summary: 'Force a channel’s breaker open or closed' }), jsonBody(forceBreaker), async (c) => {
    const code = await existing(c.req.param('code'));
    const body = c.req.valid('json');
    await deps.health.force(code, body.state, body.reason);
    return c.json(await deps.health.view(code));
  });

  app.get('/channels/:code/health', describeRoute({ ...tag, summary: 'A channel’s health and its breaker’s last transitions' }), async (c) => {
    const code = await existing(c.req.param('code'));
    const [view, transitions] = await Promise.all([deps.health.view(code), deps.health.transitions(code, breaker_transitions_shown_max)]);
    return c.json({
      ...view,
      transitions: transitions.map((t) => ({ at: isoTime(t.at), from: t.from, to: t.to, reason: t.reason })),
    });
  });
}
