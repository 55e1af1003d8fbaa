/** Rows for store tests: orders and write sets with unique ids, values that must round-trip exactly. */
import type { OrderRow, OrderWrite } from '../../src/store/store.ts';

export const t0 = Date.UTC(2026, 10, 24);
const run = Math.random().toString(36).slice(2, 8);
let serial = 0;

/** A unique suffix, so tests can share one database. */
export const unique = (): string => `${run}_${String(++serial).padStart(5, '0')}`;

export function orderRow(version: number, overrides: Partial<OrderRow> = {}): OrderRow {
  const n = unique();
  return {
    id: `pay_${n}`, merchantId: 'M1', merchantOrderNo: `O${n}`, status: 'created', amount: 12_345, currency: 'CNY',
    paidAmount: 0, refundedAmount: 0, expiresAt: t0 + 1_800_000, createdAt: t0, updatedAt: t0, machineVersion: 1, version,
    snapshot: { value: 'created', context: { nested: [1, 'two', null, { deep: true }], big: 9_007_199_254_740_991, text: '支付 "quoted"' } },
    ...overrides,
  };
}

/** The order's write set for its next version (`row.version`); only the journal row unless `extra` adds more. */
export function writeOf(row: OrderRow, extra: Partial<OrderWrite> = {}): OrderWrite {
  return {
    expectedVersion: row.version - 1, order: row,
    journal: {
      orderId: row.id, seq: row.version, at: row.updatedAt, event: { type: 'e', n: row.version },
      stateBefore: row.version === 1 ? null : 'created', stateAfter: { paying: 'waiting' }, effects: [{ type: 'x', params: { n: row.version } }],
    },
    flows: [], refunds: [], outbox: [], merchantEvents: [], timersArmed: [], timersDisarmed: [], ...extra,
  };
}

/** The same order one version later. */
export const next = (row: OrderRow, overrides: Partial<OrderRow> = {}): OrderRow => ({ ...row, version: row.version + 1, updatedAt: row.updatedAt + 1, ...overrides });
