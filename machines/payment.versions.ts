/**
 * Snapshots written by earlier versions of the payment machine, brought up to this one when they
 * are loaded (the next write stores them as this version). A version not listed here is refused
 * loudly by the caller, never reinterpreted.
 */
import { noRefundsDone } from './payment.model.ts';
import { paymentMachineVersion } from './payment.machine.ts';

type Persisted = { value: unknown; context: Record<string, unknown> };

/**
 * v1 → v2: v1 kept every refund in `refunds`; they stay there and fold out as the next event starts.
 * v2 → v3: nothing to change — no v2 flow carries `collected` (absent: the flow took its amount).
 */
const upgrades: Record<number, (snapshot: Persisted) => Persisted> = {
  1: (snapshot) => ({ ...snapshot, context: { ...snapshot.context, refundsDone: { ...noRefundsDone, refundedByFlow: {} } } }),
  2: (snapshot) => snapshot,
};

/** The snapshot as this machine version reads it; null when `version` is one this code does not know. */
export function upgradeSnapshot(version: number, snapshot: Persisted): Persisted | null {
  let current = snapshot;
  for (let v = version; v < paymentMachineVersion; v++) {
    const upgrade = upgrades[v];
    if (!upgrade) return null;
    current = upgrade(current);
  }
  return version <= paymentMachineVersion ? current : null;
}
