/**
 * Operator routes for parked work (src/failures.ts): rows a background loop stopped on because
 * they hit a bug. Listed with the error that parked them; queued again by hand once the cause
 * is fixed (a deploy, or a repaired row). Mounted inside the admin routes, behind their auth.
 */
import type { Hono } from 'hono';
import type { Clock } from '../../clock.ts';
import type { ParkedRow, Store } from '../../store/store.ts';
import { parkedList, parkedOutboxRetry, parkedTimerRetry } from '../answers.ts';
import { ApiError } from '../errors.ts';
import { describeIn, jsonAnswer } from '../openapi.ts';

/** Parked outbox rows and parked timers listed at most, each (oldest first). */
export const parked_list_max = 500;

const parkedOf = (p: ParkedRow) => ({
  source: p.source, payment_id: p.orderId, ref: p.ref, kind: p.kind, error: p.error, parked_at: new Date(p.parkedAt).toISOString(), detail: p.detail,
  retry: p.source === 'outbox' ? `/admin/parked/outbox/${p.ref}/retry` : `/admin/parked/timers/${p.orderId}/${encodeURIComponent(p.ref)}/retry`,
});

export function mountParked(app: Hono, deps: { store: Store; clock: Clock }): void {
  app.get('/parked', describeIn('operators', {
    summary: 'Outbox rows and timers parked after a bug, with the error; never retried by themselves', responses: { 200: jsonAnswer(parkedList, `At most ${parked_list_max} of each, oldest first.`) },
  }), async (c) => {
    const rows = await deps.store.listParked(parked_list_max);
    return c.json({ data: rows.map(parkedOf), limit_each: parked_list_max });
  });

  app.post('/parked/outbox/:id/retry', describeIn('operators', {
    summary: 'Queue a parked outbox row again, due now, with fresh attempts', responses: { 202: jsonAnswer(parkedOutboxRetry, 'Queued.') }, errors: [404],
  }), async (c) => {
    const id = c.req.param('id');
    if (!(await deps.store.requeueParkedOutbox(id, deps.clock.now()))) throw new ApiError('not_found', `no parked outbox row ${id}`);
    return c.json({ source: 'outbox', ref: id, status: 'pending' }, 202);
  });

  app.post('/parked/timers/:paymentId/:key/retry', describeIn('operators', { summary: 'Arm a parked timer again, due now', responses: { 202: jsonAnswer(parkedTimerRetry, 'Armed.') }, errors: [404] }), async (c) => {
    const { paymentId, key } = c.req.param();
    if (!(await deps.store.requeueParkedTimer(paymentId, key, deps.clock.now()))) throw new ApiError('not_found', `no parked timer ${key} of ${paymentId}`);
    return c.json({ source: 'timer', payment_id: paymentId, ref: key, status: 'armed' }, 202);
  });
}
