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
import { assert } from '../../failures.ts';
import type { AlertRow } from '../../store/store.ts';
import { alert, alertPage } from '../answers.ts';
import { ApiError } from '../errors.ts';
import { describeIn, jsonAnswer, jsonOrPage } from '../openapi.ts';
import { optionalParam, pageLimit, queryParams } from '../validate.ts';
import { actorOf, markUnchanged } from '../../console/audit.ts';
import { consoleReferrer } from '../../console/errors.tsx';
import { open_alerts_path } from '../../console/pages.tsx';

const alert_id = /^alr_[0-9A-Z]{26}$/;

export const alertsQuery = v.strictObject({
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

/** One page of alerts as the query asks, for the JSON route and the console's page. */
export function alertsPage(alerts: Alerts, q: v.InferOutput<typeof alertsQuery>) {
  const open = q.open === undefined ? undefined : q.open === 'true';
  return alerts.list({ open, kind: q.kind, paymentId: q.payment_id, beforeId: q.after, limit: q.limit });
}

function alreadyAcked(a: AlertRow): string {
  assert(a.ackedAt !== null, `alert ${a.id} refused a second acknowledgement without a first`);
  return `alert ${a.id} was already acknowledged at ${isoTime(a.ackedAt)} by ${a.ackedBy ?? 'someone'}`;
}

export function mountAlerts(app: Hono, alerts: Alerts): void {
  app.get('/alerts', describeIn('operators', {
    summary: 'Operator alerts, newest first (open=true: not yet acknowledged)', responses: { 200: jsonOrPage(alertPage, 'A page of alerts; after (the last id) pages on to older ones.') },
  }), queryParams(alertsQuery), async (c) => {
    const page = await alertsPage(alerts, c.req.valid('query'));
    return c.json({ data: page.data.map(alertOf), has_more: page.hasMore });
  });

  app.post('/alerts/:id/ack', describeIn('operators', {
    summary: 'Acknowledge an alert',
    responses: { 200: jsonAnswer(alert, 'The alert with acked_at set (by the first acknowledgement: a second changes nothing).'), 303: { description: 'A console form (application/x-www-form-urlencoded) is sent back to the page it came from.' } },
    errors: [404, 409],
  }), async (c) => {
    const id = c.req.param('id');
    const outcome = alert_id.test(id) ? await alerts.ack(id, actorOf(c.req.header('authorization'))) : null;
    if (!outcome) throw new ApiError('not_found', `no alert ${id}`);
    const fromForm = (c.req.header('content-type') ?? '').startsWith('application/x-www-form-urlencoded');
    if (!outcome.acked) {
      markUnchanged(c);
      // A page older than the acknowledgement is told so; an API client retrying gets the alert as it stands.
      if (fromForm) throw new ApiError('invalid_state', alreadyAcked(outcome.alert));
    }
    // A console form goes back to the page it was on; API clients get the alert.
    if (fromForm) return c.redirect(consoleReferrer(c, open_alerts_path), 303);
    return c.json(alertOf(outcome.alert));
  });
}
