/**
 * `POST /v1/events/{id}/redeliver`: a merchant that fixed its endpoint asks for one of its
 * notifications again. It is queued due now with a fresh retry schedule (the same as the
 * operator's resend); another merchant's event, or none, is 404 alike.
 */
import { Hono } from 'hono';
import type { Clock } from '../../clock.ts';
import type { Store } from '../../store/store.ts';
import type { MerchantEnv } from '../auth.ts';
import { redelivery } from '../answers.ts';
import { ApiError } from '../errors.ts';
import { describeIn, jsonAnswer } from '../openapi.ts';

export type RedeliverDeps = { store: Pick<Store, 'loadMerchantEvent' | 'resendNotification'>; clock: Clock };

export function redeliverRoutes(deps: RedeliverDeps): Hono<MerchantEnv> {
  const app = new Hono<MerchantEnv>();
  app.post('/:id/redeliver', describeIn('payments', {
    summary: 'Deliver one of this merchant’s notifications again',
    description: 'Queues the event for delivery now, with a fresh retry schedule (202). The notification is the same event, same id and body, '
      + 'signed afresh: de-duplicate by id. 404 for an event of another merchant, as for one that does not exist.',
    responses: { 202: jsonAnswer(redelivery, 'Queued.') }, errors: [404],
  }), async (c) => {
    const id = c.req.param('id');
    const event = await deps.store.loadMerchantEvent(id);
    const mine = event !== null && event.merchantId === c.get('merchant').id;
    if (!mine || !(await deps.store.resendNotification(event.id, deps.clock.now()))) throw new ApiError('not_found', `no event ${id}`);
    return c.json({ id: event.id, type: event.type, status: 'pending' }, 202);
  });
  return app;
}
