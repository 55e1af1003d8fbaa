/**
 * WeChat Pay's words and formats ↔ paycenter's: amounts are already integer fen; RFC 3339
 * times in China Standard Time; trade and refund states. The only place they are known.
 */
import type { Currency } from '../../money.ts';
import type { RefundReport, TradeStatus } from '../adapter.ts';
import { chinaDateTime } from '../china-time.ts';

/** The currencies a WeChat Pay channel can serve: the domestic v3 APIs used here take CNY only. */
export const wechatpay_currencies: readonly Currency[] = ['CNY'];

/** WeChat Pay v3 amounts are integer fen with a currency, exactly paycenter's minor units. The adapter refuses other currencies before. */
export function toWechatAmount(minor: number, currency: Currency): { total: number; currency: string } {
  if (!wechatpay_currencies.includes(currency)) throw new Error(`assertion failed: WeChat Pay amounts are CNY, not ${currency}`);
  return { total: minor, currency };
}

/** `2026-11-24T16:00:00+08:00`: WeChat Pay wants time_expire in RFC 3339 with an offset. */
export function wechatTime(ms: number): string {
  return `${chinaDateTime(ms)}+08:00`;
}

export type WechatTradeState = 'SUCCESS' | 'REFUND' | 'NOTPAY' | 'CLOSED' | 'REVOKED' | 'USERPAYING' | 'PAYERROR';

export const isWechatTradeState = (value: unknown): value is WechatTradeState =>
  typeof value === 'string' && ['SUCCESS', 'REFUND', 'NOTPAY', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR'].includes(value);

export function tradeStatusOf(state: WechatTradeState): TradeStatus {
  switch (state) {
    case 'SUCCESS':
    case 'REFUND':
      // REFUND: paid, and refunds have been requested since — the payment itself happened.
      return 'succeeded';
    case 'NOTPAY':
    case 'USERPAYING':
      return 'pending';
    case 'CLOSED':
    case 'REVOKED':
      return 'closed';
    case 'PAYERROR':
      return 'failed';
  }
}

export type WechatRefundStatus = 'SUCCESS' | 'CLOSED' | 'PROCESSING' | 'ABNORMAL';

export function refundStatusOf(status: WechatRefundStatus): RefundReport['status'] {
  switch (status) {
    case 'SUCCESS':
      return 'succeeded';
    case 'PROCESSING':
    case 'ABNORMAL':
      // ABNORMAL: the money has already left the merchant's account but could not reach the
      // payer; an operator finishes it by hand at WeChat Pay. It must keep its amount claimed
      // (a failed refund would free it for a second refund): pending, and the order keeps
      // asking until the operator's fix makes it SUCCESS (query_exhausted flags it meanwhile).
      return 'pending';
    case 'CLOSED':
      return 'failed';
  }
}

export const isWechatRefundStatus = (value: unknown): value is WechatRefundStatus =>
  value === 'SUCCESS' || value === 'CLOSED' || value === 'PROCESSING' || value === 'ABNORMAL';

/** Error codes after which the same request may be sent again. */
export const retryableErrorCodes = new Set(['SYSTEM_ERROR', 'FREQUENCY_LIMITED', 'BANK_ERROR', 'SYSTEMERROR']);
