/**
 * bun run audit — reads the store named by DATABASE_URL (default sqlite:data/paycenter.db; empty is
 * unset, as for the service) and lists every breach of the money invariants, one line each with its
 * order id. Exit 1 on any. A missing database, one that is not paycenter's, or one whose migrations
 * differ from the code's is refused with one line and exit 2, before anything is opened (nothing
 * is created); so is a store holding an order a newer payment machine wrote, when the scan meets it.
 */
import { NewerMachineError } from '../actors/engine.ts';
import { paymentMachineVersion } from '../machines/payment.machine.ts';
import { auditStore } from '../src/audit/audit.ts';
import { ConfigError, readVariable } from '../src/config.ts';
import { checkStore } from '../src/store/inspect.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';

function refuse(message: string, reason?: string): never {
  console.error(`audit refused${reason ? ` (${reason})` : ''}: ${message}`);
  process.exit(2);
}

/** The audit's findings; an order a newer payment machine wrote refuses the run (this code cannot judge it). */
async function auditOrRefuse(store: Store, reconHoldDays: number): ReturnType<typeof auditStore> {
  try {
    return await auditStore(store, { nowMs: Date.now(), reconHoldDays });
  } catch (error) {
    if (!(error instanceof NewerMachineError)) throw error;
    await store.close();
    refuse(`order ${error.orderId} was written by payment machine v${error.version}; this code knows up to v${paymentMachineVersion}: audit with the newer paycenter`, 'newer_machine');
  }
}

// The service's DATABASE_URL and RECON_HOLD_DAYS, read by the service's own rules (the rest of its configuration is not needed here).
let databaseUrl: string;
let holdDays: number;
try {
  databaseUrl = readVariable('DATABASE_URL', process.env);
  holdDays = readVariable('RECON_HOLD_DAYS', process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  refuse(error.message);
}
const check = await checkStore(databaseUrl);
if (!check.ok) refuse(check.message, check.reason);
const store = await openStore(databaseUrl);
const { orders, breaches } = await auditOrRefuse(store, holdDays);
await store.close();
for (const b of breaches) console.log(`BREACH ${b.orderId} ${b.rule}: ${b.detail}`);
console.log(`audited ${orders} orders: ${breaches.length === 0 ? 'clean' : `${breaches.length} breaches`}`);
process.exit(breaches.length === 0 ? 0 : 1);
