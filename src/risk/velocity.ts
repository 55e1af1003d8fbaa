/**
 * Risk: payer velocity. A payer (known by user_id, device_id or client_ip, per merchant) who
 * opens more than `ordersMax` new orders within `windowMs` is refused with the rule's name —
 * card-testing and order-flooding look like this. Counts live in this process (bounded); a
 * retry of an order that exists is never refused, because it opens nothing.
 */
export type VelocityOptions = { ordersMax: number; windowMs: number };

export const default_velocity_options: VelocityOptions = { ordersMax: 30, windowMs: 60_000 };

export type Payer = { userId: string | null; deviceId: string | null; clientIp: string | null };

/** The identities a payer is counted under; an order that names none is not counted. */
export function payerKeys(merchantId: string, payer: Payer): string[] {
  const keys: string[] = [];
  if (payer.userId) keys.push(`${merchantId}\u0000user\u0000${payer.userId}`);
  if (payer.deviceId) keys.push(`${merchantId}\u0000device\u0000${payer.deviceId}`);
  if (payer.clientIp) keys.push(`${merchantId}\u0000ip\u0000${payer.clientIp}`);
  return keys;
}

/** Keys tracked at most; past it the oldest windows are dropped (a bound, not a rule). */
const tracked_keys_max = 100_000;

export class PayerVelocity {
  private readonly opened = new Map<string, number[]>();

  constructor(private readonly options: VelocityOptions = default_velocity_options) {}

  /** The rule's name when this payer has opened too many orders lately, else null. */
  check(merchantId: string, payer: Payer, nowMs: number): string | null {
    const over = payerKeys(merchantId, payer).some((key) => this.recent(key, nowMs).length >= this.options.ordersMax);
    return over ? `payer_velocity: more than ${this.options.ordersMax} new orders from one payer in ${this.options.windowMs / 1000} s` : null;
  }

  /** Counts a new order against each of its payer's identities. */
  record(merchantId: string, payer: Payer, nowMs: number): void {
    for (const key of payerKeys(merchantId, payer)) {
      const times = this.recent(key, nowMs);
      times.push(nowMs);
      this.opened.delete(key);
      this.opened.set(key, times);
    }
    while (this.opened.size > tracked_keys_max) this.opened.delete(this.opened.keys().next().value!);
  }

  private recent(key: string, nowMs: number): number[] {
    const times = (this.opened.get(key) ?? []).filter((t) => t > nowMs - this.options.windowMs);
    if (times.length === 0) this.opened.delete(key);
    return times;
  }
}
