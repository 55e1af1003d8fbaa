/**
 * bun run audit — reads the store named by DATABASE_URL (default sqlite:data/paycenter.db) and
 * lists every breach of the money invariants, one line each with its order id. Exit 1 on any.
 * A missing database, one that is not paycenter's, or one whose migrations differ from the
 * code's is refused with one line and exit 2, before anything is opened (nothing is created).
 */
import { auditStore } from '../src/audit/audit.ts';
import { checkStore } from '../src/store/inspect.ts';
import { openStore } from '../src/store/open.ts';

const databaseUrl = process.env.DATABASE_URL ?? 'sqlite:data/paycenter.db';
const check = await checkStore(databaseUrl);
if (!check.ok) {
  console.error(`audit refused (${check.reason}): ${check.message}`);
  process.exit(2);
}
const store = await openStore(databaseUrl);
const holdDays = Number(process.env.RECON_HOLD_DAYS ?? '2');
const { orders, breaches } = await auditStore(store, { reconHoldMs: (Number.isFinite(holdDays) ? holdDays : 2) * 86_400_000 });
await store.close();
for (const b of breaches) console.log(`BREACH ${b.orderId} ${b.rule}: ${b.detail}`);
console.log(`audited ${orders} orders: ${breaches.length === 0 ? 'clean' : `${breaches.length} breaches`}`);
process.exit(breaches.length === 0 ? 0 : 1);
