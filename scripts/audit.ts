/**
 * bun run audit — reads the store named by DATABASE_URL (default sqlite:data/paycenter.db) and
 * lists every breach of the money invariants, one line each with its order id. Exit 1 on any.
 */
import { auditStore } from '../src/audit/audit.ts';
import { openStore } from '../src/store/open.ts';

const store = await openStore(process.env.DATABASE_URL ?? 'sqlite:data/paycenter.db');
const { orders, breaches } = await auditStore(store);
await store.close();
for (const b of breaches) console.log(`BREACH ${b.orderId} ${b.rule}: ${b.detail}`);
console.log(`audited ${orders} orders: ${breaches.length === 0 ? 'clean' : `${breaches.length} breaches`}`);
process.exit(breaches.length === 0 ? 0 : 1);
