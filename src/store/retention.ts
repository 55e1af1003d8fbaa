/**
 * The retention rules both stores apply, written once. Placeholders differ by dialect (`?` in
 * SQLite, `$n` in Postgres), so the statements are built from the placeholders they are given.
 */

/**
 * Ids of callbacks received before the cutoff that nothing needs any more, oldest first: not
 * one of an order still open (created or paying, or with a flow or refund pending — its
 * callbacks are the evidence of trades still moving), not one of an order with an operator
 * alert not yet acknowledged, and not a verified callback that matched no flow (money paycenter
 * knows nothing of: kept for the operator until resolved by hand).
 */
export const purgeableCallbacksSql = (beforeMs: string, limit: string) => `SELECT c.id FROM callback_log c
WHERE c.received_at < ${beforeMs}
  AND NOT (COALESCE(c.verified, FALSE) AND c.order_id IS NULL)
  AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = c.order_id AND (o.status IN ('created', 'paying')
    OR EXISTS (SELECT 1 FROM flows f WHERE f.order_id = o.id AND f.status = 'pending')
    OR EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id AND r.status = 'pending')))
  AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.payment_id = c.order_id AND a.acked_at IS NULL)
ORDER BY c.received_at LIMIT ${limit}`;
