/**
 * Payer balances (API.md "Payer balances"): the merchant routes under /v1/balances and the
 * operator's read under /admin/balances. Routes validate and shape; the ledger decides.
 */
import { Hono } from 'hono';
import * as v from 'valibot';
import { type Balances, balance_currency, balance_entries_page_max, isPayerId, payer_id_rule } from '../../balance/balances.ts';
import type { AccountRow, EntryRow } from '../../balance/ledger.ts';
import { isoTime } from '../../clock.ts';
import { formatAmount } from '../../money.ts';
import type { MerchantEnv } from '../auth.ts';
import { balance, balanceEntry, balanceEntryPage, payerAccount } from '../answers.ts';
import { describeIn, jsonAnswer } from '../openapi.ts';
import { ApiError } from '../errors.ts';
import { amount } from '../schemas.ts';
import { jsonBody, pageLimit, queryParams } from '../validate.ts';
import { amountOf } from './merchant.ts';

/** Field lengths API.md allows. */
const reference_chars_max = 64;
const reason_chars_max = 256;

const reference = v.pipe(v.string(), v.regex(new RegExp(`^[A-Za-z0-9_-]{1,${reference_chars_max}}$`), `must be 1–${reference_chars_max} characters of A-Z a-z 0-9 _ -`));
const reason = v.optional(v.nullable(v.pipe(v.string(), v.maxLength(reason_chars_max, `must be at most ${reason_chars_max} characters`))), null);

export const creditRequest = v.strictObject({ credit_no: reference, amount, reason });
export const debitRequest = v.strictObject({ debit_no: reference, amount, reason });
export const entriesQuery = v.strictObject({
  after: v.optional(v.pipe(v.string(), v.regex(/^bal_[0-9A-Z]{26}$/, 'must be a balance entry id'))),
  limit: pageLimit(balance_entries_page_max, balance_entries_page_max),
});

/** The path's user_id, checked like a field (API.md: 1–64 of [A-Za-z0-9_.:@-]). */
function userIdOf(value: string): string {
  if (!isPayerId(value)) throw new ApiError('invalid_request', `user_id must be ${payer_id_rule}`, 'user_id');
  return value;
}

const money = (minor: number) => formatAmount(minor, balance_currency);

export const accountOf = (a: AccountRow) => ({
  user_id: a.userId, currency: a.currency, available: money(a.available), frozen: money(a.frozen),
  updated_at: a.updatedAt === null ? null : isoTime(a.updatedAt),
});

export const entryOf = (e: EntryRow) => ({
  id: e.id, user_id: e.userId, kind: e.kind, amount: money(e.amount), available_after: money(e.availableAfter),
  frozen_after: money(e.frozenAfter), payment_id: e.paymentId, refund_id: e.refundId, reference: e.reference, created_at: isoTime(e.createdAt),
});

/** A page of entries, or the error for an `after` that names no entry of this payer. */
function pageOf<P>(page: P | null): P {
  if (page === null) throw new ApiError('invalid_request', "after must name one of this payer's entries", 'after');
  return page;
}

/** The answers of a credit or debit: idempotent by its number. */
const moved = (kind: 'credit' | 'debit') => ({
  201: jsonAnswer(balanceEntry, `The new ${kind} entry.`), 200: jsonAnswer(balanceEntry, `The entry this ${kind}_no made before (a retry).`),
});

export function balanceRoutes(balances: Balances): Hono<MerchantEnv> {
  const app = new Hono<MerchantEnv>();

  app.get('/balances/:user_id', describeIn('balances', {
    summary: "A payer's balance (zeros for a payer never seen)", responses: { 200: jsonAnswer(balance, 'The balance.') }, errors: [400],
  }), async (c) => {
    const account = await balances.account(c.get('merchant').id, userIdOf(c.req.param('user_id')));
    return c.json(accountOf(account));
  });

  /** A credit or debit as API.md answers it: 201 new, 200 the same again, or the error. */
  const move = async (merchantId: string, userId: string, kind: 'credit' | 'debit', reference: string, body: { amount: string; reason: string | null }) => {
    const amount = amountOf(body.amount, balance_currency, 'amount');
    const result = await balances.move(merchantId, userId, { kind, reference, amount, reason: body.reason });
    if (result.ok) return result;
    if (result.error === 'insufficient_balance') throw new ApiError('insufficient_balance', "the debit is more than the payer's available balance", 'amount');
    const field = `${kind}_no`;
    throw new ApiError('order_conflict', `${field} ${reference} exists with a different amount`, field);
  };

  app.post('/balances/:user_id/credits', describeIn('balances', { summary: 'Credit a payer (idempotent by credit_no)', responses: moved('credit'), errors: [409] }), jsonBody(creditRequest), async (c) => {
    const body = c.req.valid('json');
    const result = await move(c.get('merchant').id, userIdOf(c.req.param('user_id')), 'credit', body.credit_no, body);
    return c.json(entryOf(result.entry), result.created ? 201 : 200);
  });

  app.post('/balances/:user_id/debits', describeIn('balances', { summary: 'Debit a payer (idempotent by debit_no)', responses: moved('debit'), errors: [409, 422] }), jsonBody(debitRequest), async (c) => {
    const body = c.req.valid('json');
    const result = await move(c.get('merchant').id, userIdOf(c.req.param('user_id')), 'debit', body.debit_no, body);
    return c.json(entryOf(result.entry), result.created ? 201 : 200);
  });

  app.get('/balances/:user_id/entries', describeIn('balances', {
    summary: "A payer's ledger entries, oldest first", responses: { 200: jsonAnswer(balanceEntryPage, 'A page of entries; after (the last id) pages on.') },
  }), queryParams(entriesQuery), async (c) => {
    const { after, limit } = c.req.valid('query');
    const page = pageOf(await balances.entries(c.get('merchant').id, userIdOf(c.req.param('user_id')), after ?? null, limit));
    return c.json({ data: page.entries.map(entryOf), has_more: page.hasMore });
  });

  return app;
}

/** Mounted under /admin (behind the operator token). */
export function adminBalanceRoutes(balances: Balances): Hono {
  const app = new Hono();
  app.get('/balances/:merchant_id/:user_id', describeIn('operators', {
    summary: "A payer's balance and entries, oldest first (after and limit page on)", responses: { 200: jsonAnswer(payerAccount, 'The balance and a page of its entries.') },
  }), queryParams(entriesQuery), async (c) => {
    const merchantId = c.req.param('merchant_id');
    const userId = userIdOf(c.req.param('user_id'));
    const { after, limit } = c.req.valid('query');
    const [account, entries] = await Promise.all([balances.account(merchantId, userId), balances.entries(merchantId, userId, after ?? null, limit)]);
    const page = pageOf(entries);
    return c.json({ merchant_id: merchantId, ...accountOf(account), entries: page.entries.map(entryOf), has_more: page.hasMore });
  });
  return app;
}
