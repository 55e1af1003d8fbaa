/**
 * bun run audit — reads the store named by DATABASE_URL (default sqlite:data/paycenter.db) and
 * lists every breach of the money invariants, one line each with its order id. Exit 1 on any.
 */
import { auditStore } from '../src/audit/audit.ts';
import { openStore } from '../src/store/open.ts';

const store = await openStore(process.env.DATABASE_URL ?? 'sqlite:data/paycenter.db');
const holdDays = Number(process.env.RECON_HOLD_DAYS ?? '2');
const { orders, breaches } = await auditStore(store, { reconHoldMs: (Number.isFinite(holdDays) ? holdDays : 2) * 86_400_000 });
await store.close();
for (const b of breaches) console.log(`BREACH ${b.orderId} ${b.rule}: ${b.detail}`);
console.log(`audited ${orders} orders: ${breaches.length === 0 ? 'clean' : `${breaches.length} breaches`}`);
process.exit(breaches.length === 0 ? 0 : 1);
