/**
 * Alipay's words and formats ↔ paycenter's: yuan strings ↔ fen, Beijing-time timestamps,
 * trade and refund statuses. The only place Alipay's money and status formats are known.
 */
import * as v from 'valibot';
import { type Currency, formatAmount, parseAmount } from '../../money.ts';
import type { TradeStatus } from '../adapter.ts';
import { chinaDateTime } from '../china-time.ts';

/** The currencies an Alipay channel can serve: the trade APIs used here settle in CNY only. */
export const alipay_currencies: readonly Currency[] = ['CNY'];

/** Alipay settles in CNY: amounts are yuan with two decimals ("100.00"). The adapter refuses other currencies before. */
export function toAlipayAmount(minor: number, currency: Currency): string {
  if (!alipay_currencies.includes(currency)) throw new Error(`assertion failed: Alipay amounts are CNY, not ${currency}`);
  return formatAmount(minor, 'CNY');
}

/** Fen from an Alipay amount; null when the text is not one (a tampered or broken message). */
export function fromAlipayAmount(text: string | undefined): number | null {
  if (text === undefined) return null;
  const parsed = parseAmount(text, 'CNY');
  return parsed.ok ? parsed.minor : null;
}

/** `yyyy-MM-dd HH:mm:ss` in Beijing time, the format of Alipay's timestamp and time_expire. */
export function alipayTime(ms: number): string {
  return chinaDateTime(ms).replace('T', ' ');
}

const alipay_trade_statuses = ['WAIT_BUYER_PAY', 'TRADE_SUCCESS', 'TRADE_FINISHED', 'TRADE_CLOSED'] as const;
export type AlipayTradeStatus = (typeof alipay_trade_statuses)[number];

export function tradeStatusOf(status: AlipayTradeStatus): TradeStatus {
  switch (status) {
    case 'WAIT_BUYER_PAY':
      return 'pending';
    case 'TRADE_SUCCESS':
    case 'TRADE_FINISHED':
      return 'succeeded';
    case 'TRADE_CLOSED':
      // Unpaid and timed out — or paid and then refunded in full; a paid flow ignores it.
      return 'closed';
  }
}

export const isAlipayTradeStatus = (value: unknown): value is AlipayTradeStatus => v.is(v.picklist(alipay_trade_statuses), value);

/** Gateway answer codes: 10000 success; 20000/20001 the service; 40002/40004 the request or business. */
export type AlipayCodeClass = 'success' | 'unavailable' | 'rejected';

export function codeClassOf(code: string, subCode: string | undefined): AlipayCodeClass {
  if (code === '10000') return 'success';
  if (code === '20000' || code === '20001') return 'unavailable';
  // A business system error is Alipay's, not ours: the same call may be tried again.
  if (subCode === 'ACQ.SYSTEM_ERROR' || subCode === 'aop.ACQ.SYSTEM_ERROR') return 'unavailable';
  return 'rejected';
}

const optionalText = v.optional(v.string());

/**
 * A gateway answer's `…_response` member: the status fields every method has, and those of the
 * methods used here (each optional: which ones are present depends on the method and the outcome).
 * Words are read as text and checked where they are used, so an unknown one is named in the failure.
 */
export const alipay_answer = v.looseObject({
  code: v.string(), msg: optionalText, sub_code: optionalText, sub_msg: optionalText,
  qr_code: optionalText, trade_status: optionalText, total_amount: optionalText, trade_no: optionalText,
  fund_change: optionalText, refund_status: optionalText, bill_download_url: optionalText,
});
export type AlipayAnswer = v.InferOutput<typeof alipay_answer>;

/** An asynchronous notify's fields that paycenter reads (after its signature verified). */
export const alipay_notify = v.looseObject({
  app_id: optionalText, seller_id: optionalText, out_trade_no: optionalText, trade_status: optionalText, total_amount: optionalText, trade_no: optionalText,
});
