/**
 * Operator alerts over JSON (API.md "Operator console"): `GET /admin/alerts` newest first,
 * `after` pages on to older ones; `POST /admin/alerts/{id}/ack`. Mounted inside the admin
 * routes, behind their authentication.
 */
import type { Hono } from 'hono';
import * as v from 'valibot';
import { type Alerts, alerts_page_max } from '../../alerts/alerts.ts';
import { alertKinds } from '../../alerts/kinds.ts';
import { isoTime } from '../../clock.ts';
import type { AlertRow } from '../../store/store.ts';
import { alert, alertPage } from '../answers.ts';
import { ApiError } from '../errors.ts';
import { describeIn, jsonAnswer, jsonOrPage } from '../openapi.ts';
import { optionalParam, pageLimit, queryParams } from '../validate.ts';

const alert_id = /^alr_[0-9A-Z]{26}$/;

const alertsQuery = v.strictObject({
  open: optionalParam(v.picklist(['true', 'false'], 'must be true or false')),
  kind: optionalParam(v.picklist(alertKinds, `must be one of ${alertKinds.join(', ')}`)),
  payment_id: optionalParam(v.pipe(v.string(), v.regex(/^pay_[0-9A-Z]{26}$/, 'must be a payment id'))),
  after: optionalParam(v.pipe(v.string(), v.regex(alert_id, 'must be an alert id'))),
  limit: pageLimit(alerts_page_max, 50),
});

export const alertOf = (a: AlertRow) => ({
  id: a.id, kind: a.kind, message: a.message, payment_id: a.paymentId, channel: a.channel,
  created_at: isoTime(a.createdAt), acked_at: a.ackedAt === null ? null : isoTime(a.ackedAt),
});

export function mountAlerts(app: Hono, alerts: Alerts): void {
  app.get('/alerts', describeIn('operators', {
    summary: 'Operator alerts, newest first (open=true: not yet acknowledged)', responses: { 200: jsonOrPage(alertPage, 'A page of alerts; after (the last id) pages on to older ones.') },
  }), queryParams(alertsQuery), async (c) => {
    const q = c.req.valid('query');
    const open = q.open === undefined ? undefined : q.open === 'true';
    const page = await alerts.list({ open, kind: q.kind, paymentId: q.payment_id, beforeId: q.after, limit: q.limit });
    return c.json({ data: page.data.map(alertOf), has_more: page.hasMore });
  });

  app.post('/alerts/:id/ack', describeIn('operators', {
    summary: 'Acknowledge an alert',
    responses: { 200: jsonAnswer(alert, 'The alert with acked_at set.'), 303: { description: 'A console form (application/x-www-form-urlencoded) is sent back to /admin/alerts.' } },
    errors: [404],
  }), async (c) => {
    const id = c.req.param('id');
    const acked = alert_id.test(id) ? await alerts.ack(id, 'admin') : null;
    if (!acked) throw new ApiError('not_found', `no alert ${id}`);
    // A console form goes back to the list; API clients get the alert.
    if ((c.req.header('content-type') ?? '').startsWith('application/x-www-form-urlencoded')) return c.redirect('/admin/alerts', 303);
    return c.json(alertOf(acked));
  });
}
