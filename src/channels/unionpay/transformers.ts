/**
 * UnionPay's words and formats ↔ paycenter's: our ids ↔ `orderId`, times ↔ `txnTime` (China
 * time), fen ↔ `txnAmt`, CNY ↔ `currencyCode` 156, and `respCode`/`origRespCode` ↔ statuses.
 * The only place UnionPay's formats are known.
 */
import { decodeTime } from 'ulid';
import * as v from 'valibot';
import type { Currency } from '../../money.ts';
import type { RefundReport, TradeStatus } from '../adapter.ts';
import { chinaDateTime } from '../china-time.ts';

/** The currencies a UnionPay channel can serve: consume in CNY (currencyCode 156) only. */
export const unionpay_currencies: readonly Currency[] = ['CNY'];
const cny_code = '156';

/** `yyyyMMddHHmmss` in China Standard Time (txnTime, payTimeout). */
export const unionpayTime = (ms: number): string => chinaDateTime(ms).replace(/[-T:]/g, '');

/** paycenter's ids are `<prefix>_<ULID>`; a ULID is 26 Crockford base32 characters (no I, L, O, U). */
const paycenter_id = /^([a-z]{3})_([0-9A-HJKMNP-TV-Z]{26})$/;
const unionpay_order_id = /^([a-z]{3})([0-9A-HJKMNP-TV-Z]{26})$/;

/**
 * A flow's or refund's id as an `orderId` (8–40 letters and digits): the underscore dropped, which
 * leaves 29 characters; null for an id of another shape (not one paycenter made).
 */
export function orderIdOf(id: string): string | null {
  const match = paycenter_id.exec(id);
  return match ? `${match[1]}${match[2]}` : null;
}

/** The id an `orderId` came from; null when it is not one paycenter made. */
export function idOfOrderId(orderId: string): string | null {
  const match = unionpay_order_id.exec(orderId);
  return match ? `${match[1]}_${match[2]}` : null;
}

/**
 * The `txnTime` of the transaction an id names: the id's own time. A query must name the original
 * orderId *and* txnTime, and it is only told the id, so both derive from it, and every retry of a
 * call sends the same pair.
 */
export const txnTimeOf = (id: string): string => unionpayTime(decodeTime(id.slice(id.indexOf('_') + 1)));

/** A consume or refund amount: integer fen as text. The adapter refuses other currencies before. */
export function toTxnAmt(minor: number, currency: Currency): { txnAmt: string; currencyCode: string } {
  if (!unionpay_currencies.includes(currency)) throw new Error(`assertion failed: UnionPay amounts are CNY, not ${currency}`);
  return { txnAmt: String(minor), currencyCode: cny_code };
}

/** ACP's txnAmt is at most 12 digits of fen. */
const txn_amt_digits_max = 12;
const txn_amt = new RegExp(`^[1-9][0-9]{0,${txn_amt_digits_max - 1}}$`);

/** Fen from a txnAmt; null when the text is not one (a broken or tampered message). */
export const fromTxnAmt = (text: string | undefined): number | null => (text !== undefined && txn_amt.test(text) ? Number(text) : null);

export const currencyOfCode = (code: string | undefined): string | null => (code === cny_code ? 'CNY' : code ?? null);

/**
 * `respCode` / `origRespCode` words: 00 done, and A6 done with a defect (有缺陷的成功: the ACP demos
 * take "00、A6" as success); 03 (timed out), 04 (state unknown) and 05 (accepted) mean the outcome is
 * not known yet — ask again later; every other code is a refusal.
 */
const resp_words = ['00', 'A6', '03', '04', '05'] as const;
type RespWord = (typeof resp_words)[number] | 'other';
export type RespClass = 'success' | 'processing' | 'refused';

export function respClassOf(code: string | undefined): RespClass {
  const word: RespWord = v.is(v.picklist(resp_words), code) ? code : 'other';
  switch (word) {
    case '00':
    case 'A6':
      return 'success';
    case '03':
    case '04':
    case '05':
      return 'processing';
    case 'other':
      return 'refused';
  }
}

/**
 * A consume's response class as its query reads it: a failure is not final while the payer may still
 * pay (`payable`: the trade's payTimeout may not have passed). The payer may try again — another card
 * on UnionPay's page, the same QR code scanned again — and pay after all. UnionPay's demos: for a
 * front consume, 失败、处理中、查询不到订单均可能为中间状态, and a query after payTimeout gives the final
 * result (超过超时时间…origRespCode不是A6或者00的就可以判断为失败); the QR product's query asks again
 * after 60 (declined) and 01 as after 03–05.
 */
export function consumeClassOf(code: string | undefined, payable: boolean): RespClass {
  const answered = respClassOf(code);
  return answered === 'refused' && payable ? 'processing' : answered;
}

/** "No such transaction" (查无此交易): the query's answer when UnionPay never got the orderId. */
export const no_such_transaction = '34';

/**
 * A transaction's outcome from its response class. A consume and a refund read it the same way,
 * and a refund's statuses are a subset of a trade's, so one mapping serves both.
 */
export function statusOf(origin: RespClass): RefundReport['status'] & TradeStatus {
  switch (origin) {
    case 'success':
      return 'succeeded';
    case 'processing':
      return 'pending';
    case 'refused':
      return 'failed';
  }
}

const optionalText = v.optional(v.string());

/**
 * An answer or notify: a form of text fields, of which paycenter reads these (after the signature
 * verified). Which ones are present depends on the transaction; respCode always is.
 */
export const unionpay_message = v.looseObject({
  respCode: v.string(), respMsg: optionalText, merId: optionalText, orderId: optionalText, txnTime: optionalText, txnType: optionalText,
  txnAmt: optionalText, currencyCode: optionalText, queryId: optionalText, origRespCode: optionalText, origRespMsg: optionalText, qrCode: optionalText,
});
export type UnionpayMessage = v.InferOutput<typeof unionpay_message>;

/** A notify's body: an ordinary URL-encoded form (a repeated name keeps its last value). */
export const formFields = (body: string): Record<string, string> => Object.fromEntries(new URLSearchParams(body));

/**
 * A gateway answer's body, read as UnionPay's SDKs read it: `k=v` pairs split at `&`, values not
 * URL-decoded (a certificate's `+` and `/` stay as they are), and a value in braces kept whole
 * even when it holds `&` or `=`.
 */
export function answerFields(body: string): Record<string, string> {
  const fields: Record<string, string> = {};
  let name: string | null = null;
  let start = 0;
  let depth = 0;
  for (let i = 0; i <= body.length; i++) {
    const ch = body[i];
    if (i === body.length || (ch === '&' && depth === 0)) {
      if (name !== null) fields[name] = body.slice(start, i);
      name = null;
      start = i + 1;
    } else if (name === null && ch === '=') {
      name = body.slice(start, i);
      start = i + 1;
    } else if (name !== null && ch === '{') depth++;
    else if (name !== null && ch === '}') depth = Math.max(0, depth - 1);
  }
  return fields;
}

/** The consume transaction type (txnType 01): the only one a trade notify may report. */
export const consume_txn_type = '01';
