/**
 * WeChat Pay's words and formats ↔ paycenter's: amounts are already integer fen; RFC 3339
 * times in China Standard Time; trade and refund states. The only place they are known.
 */
import type { Currency } from '../../money.ts';
import type { RefundReport, TradeStatus } from '../adapter.ts';
import { chinaDateTime } from '../china-time.ts';

/** WeChat Pay v3 amounts are integer fen with a currency, exactly paycenter's minor units. */
export function toWechatAmount(minor: number, currency: Currency): { total: number; currency: string } {
  if (currency !== 'CNY') throw new Error(`assertion failed: WeChat Pay amounts are CNY, not ${currency}`);
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
      return 'pending';
    case 'CLOSED':
    case 'ABNORMAL':
      // ABNORMAL needs the payer's account fixed by hand; the refund failed as far as paycenter can tell.
      return 'failed';
  }
}

export const isWechatRefundStatus = (value: unknown): value is WechatRefundStatus =>
  value === 'SUCCESS' || value === 'CLOSED' || value === 'PROCESSING' || value === 'ABNORMAL';

/** Error codes after which the same request may be sent again. */
export const retryableErrorCodes = new Set(['SYSTEM_ERROR', 'FREQUENCY_LIMITED', 'BANK_ERROR', 'SYSTEMERROR']);
