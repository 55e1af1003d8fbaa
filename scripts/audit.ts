/**
 * bun run audit — reads the store named by DATABASE_URL (default sqlite:data/paycenter.db) and
 * lists every breach of the money invariants, one line each with its order id. Exit 1 on any.
 * A missing database, one that is not paycenter's, or one whose migrations differ from the
 * code's is refused with one line and exit 2, before anything is opened (nothing is created).
 */
import { auditStore } from '../src/audit/audit.ts';
import { ConfigError, reconHoldDays } from '../src/config.ts';
import { checkStore } from '../src/store/inspect.ts';
import { openStore } from '../src/store/open.ts';

const databaseUrl = process.env.DATABASE_URL ?? 'sqlite:data/paycenter.db';
const check = await checkStore(databaseUrl);
if (!check.ok) {
  console.error(`audit refused (${check.reason}): ${check.message}`);
  process.exit(2);
}
// The service's RECON_HOLD_DAYS, read by the service's own rule (the rest of its configuration is not needed here).
let holdDays: number;
try {
  holdDays = reconHoldDays(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`audit refused: ${error.message}`);
  process.exit(2);
}
const store = await openStore(databaseUrl);
const { orders, breaches } = await auditStore(store, { nowMs: Date.now(), reconHoldDays: holdDays });
await store.close();
for (const b of breaches) console.log(`BREACH ${b.orderId} ${b.rule}: ${b.detail}`);
console.log(`audited ${orders} orders: ${breaches.length === 0 ? 'clean' : `${breaches.length} breaches`}`);
process.exit(breaches.length === 0 ? 0 : 1);
