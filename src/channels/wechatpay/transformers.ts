/**
 * WeChat Pay's words and formats ↔ paycenter's: amounts are already integer fen; RFC 3339
 * times in China Standard Time; trade and refund states. The only place they are known.
 */
import * as v from 'valibot';
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

const wechat_trade_states = ['SUCCESS', 'REFUND', 'NOTPAY', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR'] as const;
export type WechatTradeState = (typeof wechat_trade_states)[number];

export const isWechatTradeState = (value: unknown): value is WechatTradeState => v.is(v.picklist(wechat_trade_states), value);

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

const wechat_refund_statuses = ['SUCCESS', 'CLOSED', 'PROCESSING', 'ABNORMAL'] as const;
export type WechatRefundStatus = (typeof wechat_refund_statuses)[number];

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

export const isWechatRefundStatus = (value: unknown): value is WechatRefundStatus => v.is(v.picklist(wechat_refund_statuses), value);

/** Error codes after which the same request may be sent again. */
export const retryableErrorCodes = new Set(['SYSTEM_ERROR', 'FREQUENCY_LIMITED', 'BANK_ERROR', 'SYSTEMERROR']);

const optionalText = v.optional(v.string());

/**
 * A transaction as WeChat Pay describes it (a query's answer, a notify's decrypted resource).
 * Status words are read as text and checked where they are used, so an unknown one is named.
 */
export const wechat_transaction = v.looseObject({
  mchid: optionalText, appid: optionalText, out_trade_no: optionalText, transaction_id: optionalText, trade_state: optionalText,
  amount: v.optional(v.looseObject({ total: v.optional(v.number()), currency: optionalText })),
});
export type WechatTransaction = v.InferOutput<typeof wechat_transaction>;

/** Any API v3 answer body: an error's code and message, or the fields of the calls used here. */
export const wechat_reply = v.looseObject({
  ...wechat_transaction.entries,
  code: optionalText, message: optionalText, code_url: optionalText, prepay_id: optionalText, status: optionalText,
  download_url: optionalText, hash_type: optionalText, hash_value: optionalText,
});
export type WechatReplyBody = v.InferOutput<typeof wechat_reply>;

/**
 * A refund's notify resource (event_type REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED): no appid
 * and no trade_state, its own status field.
 */
export const wechat_refund_notify = v.looseObject({ mchid: optionalText, out_refund_no: optionalText, refund_status: optionalText });

/** A notify's envelope: what it is about (`event_type`) and its encrypted resource. */
export const wechat_notify = v.looseObject({
  event_type: optionalText,
  resource: v.looseObject({ algorithm: v.optional(v.string(), ''), ciphertext: v.string(), nonce: v.string(), associated_data: optionalText }),
});
