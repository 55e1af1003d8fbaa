/**
 * The payments the lifecycle bench offers, and what became of each.
 *
 * One payment's life as a merchant and its payer live it: a signed create with `alipay_qr`
 * (paid at once: the answer carries the trade), the payer paying at the sandbox, the sandbox's
 * signed notify settling the order, and `payment.succeeded` reaching the merchant's endpoint.
 * Every tenth order also gets a partial refund, every tenth is never paid and times out.
 * Offered either open-loop (a rate, whatever the answers — what a sale day does) or closed-loop
 * (a number of payers each starting the next payment when the last one's notification came).
 */
import { randomBytes } from 'node:crypto';
import { requestSignature } from '../../src/http/signature.ts';
import type { Arrival, Merchant } from './world.ts';

export type Fate = 'paid' | 'refunded' | 'unpaid';
/** 80 % paid, 10 % paid then partly refunded, 10 % never paid. */
export const fateOf = (n: number): Fate => (n % 10 === 0 ? 'unpaid' : n % 10 === 5 ? 'refunded' : 'paid');

/** The shortest expiry API.md allows: the unpaid tenth closes within the run. */
export const expire_seconds = 60;
const amount = '10.00';
const refund_amount = '3.00';
/** A request the server has not answered by then counts as failed (and its order, if any, is still tracked). */
const request_timeout_ms = 30_000;
/** How long a paid order's notification is waited for before the payment counts as lost. */
const notification_wait_ms = 120_000;
/** The open-loop driver starts the payments due every this many ms. */
const open_loop_step_ms = 5;

/** What happened to one offered payment, and when (ms on the bench's performance clock). */
/** `createdAt` is when the create was sent; the stages are ms after it: the create's answer, the sandbox's answer to the payer. */
type Tracked = { paymentId: string; fate: Fate; createdAt: number; phase: string; refundAccepted: boolean; answeredMs: number; paidMs: number | null };
/** A payment whose `payment.succeeded` arrived: its whole latency, and where it went (create answered, payer answered, notified). */
export type Completion = { paymentId: string; phase: string; createdAt: number; latencyMs: number; answeredMs: number; paidMs: number };
export type Shed = { phase: string; status: number; latencyMs: number };

/** Everything the run observed; the verdicts are computed from it afterwards. */
export class Ledger {
  readonly tracked = new Map<string, Tracked>();
  readonly completions: Completion[] = [];
  readonly shed: Shed[] = [];
  readonly failures: string[] = [];
  readonly arrivals = new Map<string, Set<string>>();
  /** When each `payment.closed` arrived: the unpaid orders' expiries, which come 60 s after their creates. */
  readonly closedAt: number[] = [];
  /**
   * How long after its expiry each unpaid order's `payment.closed` arrived (counted from the
   * create's send, so a little over the server's own lateness): the ticker's interval, the query
   * and the close at the channel, the delivery.
   */
  readonly closeLate: { phase: string; lateMs: number }[] = [];
  private readonly waiters = new Map<string, () => void>();
  offered = 0;

  onEvent = (event: Arrival): void => {
    let types = this.arrivals.get(event.paymentId);
    if (!types) this.arrivals.set(event.paymentId, (types = new Set()));
    types.add(event.type);
    const tracked = this.tracked.get(event.paymentId);
    if (event.type === 'payment.closed') {
      this.closedAt.push(event.at);
      if (tracked) this.closeLate.push({ phase: tracked.phase, lateMs: event.at - tracked.createdAt - expire_seconds * 1000 });
    }
    if (event.type === 'payment.succeeded' && tracked) {
      this.completions.push({ paymentId: event.paymentId, phase: tracked.phase, createdAt: tracked.createdAt, latencyMs: event.at - tracked.createdAt, answeredMs: tracked.answeredMs, paidMs: tracked.paidMs ?? Number.NaN });
    }
    this.waiters.get(`${event.type}:${event.paymentId}`)?.();
  };

  /** Resolves when the event has arrived (perhaps already), false after `timeoutMs`. */
  arrived(type: string, paymentId: string, timeoutMs: number): Promise<boolean> {
    if (this.arrivals.get(paymentId)?.has(type)) return Promise.resolve(true);
    const key = `${type}:${paymentId}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.waiters.delete(key); resolve(false); }, timeoutMs);
      this.waiters.set(key, () => { clearTimeout(timer); this.waiters.delete(key); resolve(true); });
    });
  }

  /** The events each tracked payment should have brought its merchant, and which never came. */
  missingEvents(): string[] {
    const missing: string[] = [];
    for (const t of this.tracked.values()) {
      const expected = t.fate === 'unpaid' ? ['payment.closed'] : t.fate === 'refunded' && t.refundAccepted ? ['payment.succeeded', 'refund.succeeded'] : ['payment.succeeded'];
      for (const type of expected) if (!this.arrivals.get(t.paymentId)?.has(type)) missing.push(`${t.paymentId} ${t.fate}: no ${type}`);
    }
    return missing;
  }
}

type Answer = { status: number; body: any };

export class Payer {
  private serial = 0;
  private readonly tag = randomBytes(3).toString('hex');
  /** Payments started open-loop whose lives have not ended yet. */
  private readonly running = new Set<Promise<void>>();

  /** `fates`: what becomes of the nth payment (the sale day's mix unless told). */
  constructor(private readonly paycenterUrl: string, private readonly merchant: Merchant, readonly ledger: Ledger, private readonly fates: (n: number) => Fate = fateOf) {}

  /** A signed POST, signed again (a fresh nonce) for its one retry after a connection reset. */
  private async signed(path: string, body: object): Promise<Answer> {
    const raw = JSON.stringify(body);
    const response = await retriedOnReset(() => {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const nonce = randomBytes(9).toString('base64url');
      const signature = requestSignature(this.merchant.secret, 'POST', path, timestamp, nonce, raw);
      return fetch(`${this.paycenterUrl}${path}`, {
        method: 'POST', body: raw, signal: AbortSignal.timeout(request_timeout_ms),
        headers: {
          'content-type': 'application/json',
          authorization: `PAYC-HMAC-SHA256 merchant_id="${this.merchant.id}",timestamp="${timestamp}",nonce="${nonce}",signature="${signature}"`,
        },
      });
    });
    return { status: response.status, body: await response.json().catch(() => null) };
  }

  /** Starts a payment's life without waiting for it. */
  start(phase: string): void {
    const run = this.pay(phase).finally(() => this.running.delete(run));
    this.running.add(run);
  }

  /** Payments started open-loop whose lives have not ended yet. */
  get inFlight(): number {
    return this.running.size;
  }

  /** Resolves when every payment started so far has ended. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }

  /** One payment's whole life; resolves when its last expected event arrived (or was given up on). */
  async pay(phase: string): Promise<void> {
    const n = this.serial++;
    this.ledger.offered += 1;
    const fate = this.fates(n);
    const createdAt = performance.now();
    try {
      const created = await this.signed('/v1/payments', {
        merchant_order_no: `L${this.tag}-${n}`, amount, subject: 'sale day', method: 'alipay_qr', expire_seconds,
      });
      if (created.status === 429 || created.status === 503) {
        this.ledger.shed.push({ phase, status: created.status, latencyMs: performance.now() - createdAt });
        return;
      }
      // 200: a retried create whose first attempt had arrived (API.md: the same order again).
      if (created.status !== 201 && created.status !== 200) throw new Error(`create answered ${created.status} ${JSON.stringify(created.body)}`);
      const payment = created.body;
      const tracked: Tracked = { paymentId: payment.id, fate, createdAt, phase, refundAccepted: false, answeredMs: performance.now() - createdAt, paidMs: null };
      this.ledger.tracked.set(payment.id, tracked);
      if (fate === 'unpaid') return;
      const paid = await retriedOnReset(() => fetch(this.merchant.payerUrl(payment.flows[0].id), {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"outcome":"pay"}', signal: AbortSignal.timeout(request_timeout_ms),
      }));
      if (paid.status !== 200) throw new Error(`the sandbox answered the payer ${paid.status}: ${await paid.text()}`);
      tracked.paidMs = performance.now() - createdAt;
      if (!(await this.ledger.arrived('payment.succeeded', payment.id, notification_wait_ms))) throw new Error(`${payment.id}: no payment.succeeded`);
      if (fate !== 'refunded') return;
      const refund = await this.signed(`/v1/payments/${payment.id}/refunds`, { refund_no: 'R1', amount: refund_amount });
      if (refund.status === 429 || refund.status === 503) {
        this.ledger.shed.push({ phase, status: refund.status, latencyMs: 0 });
        return;
      }
      if (refund.status !== 201) throw new Error(`refund answered ${refund.status} ${JSON.stringify(refund.body)}`);
      tracked.refundAccepted = true;
      await this.ledger.arrived('refund.succeeded', payment.id, notification_wait_ms);
    } catch (error) {
      this.ledger.failures.push(`${phase} #${n}: ${String((error as Error)?.message ?? error).slice(0, 200)}`);
    }
  }
}

/**
 * A pooled keep-alive connection the server closes just as it is reused fails with no answer
 * (ECONNRESET): a merchant's client retries such a request once, as HTTP clients do for requests
 * that are safe to repeat — creates and refunds are idempotent (merchant_order_no, refund_no), and
 * so is a payer's pay at the sandbox. A timeout or an answer is never retried.
 */
async function retriedOnReset(send: () => Promise<Response>): Promise<Response> {
  try {
    return await send();
  } catch (error) {
    if ((error as { code?: string })?.code !== 'ECONNRESET') throw error;
    return send();
  }
}

/**
 * Starts payments at `perSecond` for `durationMs`, whatever becomes of them; resolves when the
 * last one was started (`payer.settled()` waits for their ends), so phases follow without a gap.
 */
export async function openLoop(payer: Payer, phase: string, perSecond: number, durationMs: number): Promise<void> {
  const start = performance.now();
  let started = 0;
  for (;;) {
    const elapsed = Math.min(performance.now() - start, durationMs);
    for (const due = Math.floor((perSecond * elapsed) / 1000); started < due; started++) payer.start(phase);
    if (elapsed >= durationMs) return;
    await Bun.sleep(open_loop_step_ms);
  }
}

/** `payers` payers, each paying again as soon as its last payment's life ended, for `durationMs`. */
export async function closedLoop(payer: Payer, phase: string, payers: number, durationMs: number): Promise<void> {
  const end = performance.now() + durationMs;
  await Promise.all(Array.from({ length: payers }, async () => {
    while (performance.now() < end) await payer.pay(phase);
  }));
}
