/**
 * The callback log and the retention rules on both adapters: callbacks recorded in batches, which
 * of them the purge deletes (old, and needed by nothing) and which it keeps; operators' sessions
 * expire and are revoked.
 */
import { describe, expect, test } from 'bun:test';
import type { CallbackRow, FlowRow, OrderRow, RefundRow, Store } from '../../src/store/store.ts';
import { emptyBatch } from '../../src/store/rows.ts';
import { orderRow, t0, unique, writeOf } from './fixtures.ts';
import { freshStoreFor, storeKinds } from './stores.ts';

const day_ms = 86_400_000;
const old = t0 - 100 * day_ms;
const cutoff = t0 - 90 * day_ms;

function callback(overrides: Partial<CallbackRow>): CallbackRow {
  return {
    id: `cbk_${unique()}`, provider: 'alipay', channelCode: 'alipay_main', headers: { a: 'b' }, body: 'x=1', receivedAt: old,
    verified: null, orderId: null, flowId: null, outcome: null, ...overrides,
  };
}

/** An order in this status, optionally with one flow or refund in the given status, committed. */
async function orderWith(store: Store, status: OrderRow['status'], extra: { flow?: FlowRow['status']; refund?: RefundRow['status'] } = {}): Promise<string> {
  const row = orderRow(1, { status });
  const n = unique();
  const flows: FlowRow[] = extra.flow
    ? [{ id: `flw_${n}`, orderId: row.id, method: 'alipay_qr', channel: 'alipay_main', amount: 1, status: extra.flow, channelTradeNo: null, createdAt: t0, completedAt: null }]
    : [];
  const refunds: RefundRow[] = extra.refund
    ? [{ id: `rfd_${n}`, orderId: row.id, merchantId: 'M1', refundNo: null, amount: 1, reason: null, status: extra.refund, automatic: false, createdAt: t0, completedAt: null, channelFlowId: null, channelAmount: null }]
    : [];
  expect(await store.commit([writeOf(row, { flows, refunds })])).toEqual(['committed']);
  return row.id;
}

for (const kind of storeKinds) {
  describe(`store on ${kind}: retention`, () => {
    const store = freshStoreFor(kind);

    test('old callbacks nothing needs are purged, a batch at a time', async () => {
      // Kept: a recent one, and a verified one that matched no flow (money paycenter knows nothing of).
      for (const row of [callback({ verified: false, receivedAt: cutoff + 1 }), callback({ verified: true, outcome: 'unknown_flow' })]) await store.insertCallback(row);
      expect(await store.purgeCallbacks(cutoff, 100)).toBe(0);
      for (const row of [callback({ verified: false, outcome: 'refused: bad signature' }), callback({}), callback({ verified: false })]) await store.insertCallback(row);
      expect(await store.purgeCallbacks(cutoff, 2)).toBe(2);
      expect(await store.purgeCallbacks(cutoff, 2)).toBe(1);
      expect(await store.purgeCallbacks(cutoff, 2)).toBe(0);
    });

    test("an order's callbacks are kept while the order is open (created, paying, a flow or refund pending) or has an open alert", async () => {
      const orders = {
        closed: await orderWith(store, 'closed'),
        succeeded: await orderWith(store, 'succeeded', { flow: 'succeeded' }),
        paying: await orderWith(store, 'paying', { flow: 'pending' }),
        created: await orderWith(store, 'created'),
        closedWithPendingFlow: await orderWith(store, 'closed', { flow: 'pending' }),
        refundPending: await orderWith(store, 'partially_refunded', { refund: 'pending' }),
        openAlert: await orderWith(store, 'succeeded', { flow: 'succeeded' }),
        ackedAlert: await orderWith(store, 'succeeded', { flow: 'succeeded' }),
      };
      for (const [name, paymentId] of [['open', orders.openAlert], ['acked', orders.ackedAlert]] as const) {
        const alert = { id: `alr_${unique()}`, kind: 'auto_refund', message: name, paymentId, channel: null, createdAt: t0, ackedAt: null, ackedBy: null };
        expect(await store.insertAlert(alert)).toBe('inserted');
        if (name === 'acked') await store.ackAlert(alert.id, t0 + 1, 'operator');
      }
      for (const orderId of Object.values(orders)) await store.insertCallback(callback({ verified: true, orderId }));
      expect(await store.purgeCallbacks(cutoff, 100)).toBe(3);
      const left = await Promise.all(Object.entries(orders).map(async ([name, id]) => [name, (await store.listCallbacks(id)).length]));
      expect(Object.fromEntries(left)).toEqual({
        closed: 0, succeeded: 0, paying: 1, created: 1, closedWithPendingFlow: 1, refundPending: 1, openAlert: 1, ackedAlert: 0,
      });
    });

    test('callbacks ride in batches: recorded as they arrived, their outcomes in a later batch; an outcome beside its callback is a bug', async () => {
      const orderId = await orderWith(store, 'paying');
      const [a, b] = [callback({ orderId, receivedAt: t0 }), callback({ orderId, receivedAt: t0 + 1, headers: { 'wechatpay-nonce': 'n1' } })];
      await store.commitBatch({ ...emptyBatch(t0), callbacks: [a!, b!] });
      await store.commitBatch({ ...emptyBatch(t0 + 2), callbackOutcomes: [{ callbackId: a!.id, verified: true, orderId, flowId: 'flw_1', outcome: 'applied' }] });
      expect(await store.listCallbacks(orderId)).toEqual([{ ...a!, verified: true, flowId: 'flw_1', outcome: 'applied' }, b!]);
      const c = callback({ orderId });
      const together = { ...emptyBatch(t0), callbacks: [c], callbackOutcomes: [{ callbackId: c.id, verified: false, orderId: null, flowId: null, outcome: 'refused' }] };
      await expect(store.commitBatch(together)).rejects.toThrow("a callback's outcome follows its committed record");
      expect(await store.listCallbacks(orderId)).toHaveLength(2);
    });

    test('a refused callback keeps only the prefix given', async () => {
      const orderId = await orderWith(store, 'paying');
      const row = callback({ orderId, body: 'y'.repeat(10_000), receivedAt: t0 });
      await store.insertCallback(row);
      await store.keepCallbackPrefix(row.id, 'y'.repeat(4096));
      expect((await store.listCallbacks(orderId))[0]!.body).toHaveLength(4096);
    });

    test('sessions: valid until they expire, deleted one by one or all at once', async () => {
      const a = { idHash: `a_${unique()}`, createdAt: t0, expiresAt: t0 + 1_000 };
      const b = { idHash: `b_${unique()}`, createdAt: t0, expiresAt: t0 + 2_000 };
      await store.insertAdminSession(a);
      await store.insertAdminSession(b);
      expect(await store.adminSessionValid(a.idHash, t0 + 999)).toBe(true);
      expect(await store.adminSessionValid(a.idHash, t0 + 1_000)).toBe(false);
      await store.purgeAdminSessions(t0 + 1_000);
      expect(await store.adminSessionValid(b.idHash, t0)).toBe(true);
      await store.deleteAdminSessions(b.idHash);
      expect(await store.adminSessionValid(b.idHash, t0)).toBe(false);
      const c = { ...b, idHash: `c_${unique()}` };
      await store.insertAdminSession(c);
      await store.deleteAdminSessions(null);
      expect(await store.adminSessionValid(c.idHash, t0)).toBe(false);
    });
  });
}
