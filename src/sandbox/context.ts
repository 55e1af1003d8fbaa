// What the provider modules share: the store, faults, notifier and clock of one sandbox.
import type { FaultTable } from './faults.ts';
import type { Notifier } from './notifier.ts';
import type { Store, Trade } from './state.ts';
import type { StatementFaultTable } from './statements.ts';
import type { Timers } from './timers.ts';

export type SandboxContext = {
  baseUrl: string;
  store: Store;
  faults: FaultTable;
  /** What the daily statements leave out or change, and payments kept hidden (reconciliation tests). */
  statements: StatementFaultTable;
  notifier: Notifier;
  timers: Timers;
  now: () => number;
};

/** Both providers default an order's payable window to 2 h when the merchant sets none. */
export const DEFAULT_EXPIRY_MS = 2 * 3600 * 1000;

/** A trade nobody paid before its expiry is closed by the provider. */
export function isExpired(trade: Trade, now: number): boolean {
  return (trade.state === 'WAIT' || trade.state === 'PAYERROR') && trade.expireAt !== undefined && now >= trade.expireAt;
}

export function refundedFen(trade: Trade): number {
  return trade.refunds.reduce((sum, r) => sum + r.amountFen, 0);
}

