/**
 * What paycenter answers, as valibot schemas: the OpenAPI document's response schemas are
 * generated from these, and test/http/openapi.responses.test.ts parses real answers with the
 * same ones, so the document cannot drift from the views (src/http/views.ts and beside the
 * routes). Each named schema becomes one component of the document (`named`); objects are
 * strict, so a field a view adds or renames fails that test until it is written here.
 */
import * as v from 'valibot';
import type { CloseReason, FlowAction, FlowStatus, RefundStatus, RiskVerdict } from '../../machines/payment.model.ts';
import { paymentStatuses } from '../../machines/payment.model.ts';
import type { NotifyType } from '../../machines/payment.rules.ts';
import { alertKinds } from '../alerts/kinds.ts';
import { entry_kinds } from '../balance/ledger.ts';
import { amount_pattern, currencies } from '../money.ts';
import { count_keys, diff_kinds } from '../recon/classify.ts';
import { paramsByKind, rule_kinds, list_subjects } from '../risk/rules.ts';
import { routingStrategies } from '../routing/strategies.ts';
import type { BreakerStateName, MerchantStatus, ReconRunRow } from '../store/store.ts';
import { errorStatus } from './errors.ts';

const components = new Map<string, v.GenericSchema>();

/** Every named answer schema by its component name: what the document's `$ref`s point at. */
export const named_answers: ReadonlyMap<string, v.GenericSchema> = components;

/** A schema that is one component of the document, referred to by `name` wherever it is used. */
function named<S extends v.GenericSchema>(name: string, schema: S, description?: string) {
  if (components.has(name)) throw new Error(`assertion failed: two answer schemas are named ${name}`);
  const component = v.pipe(schema, v.metadata({ ref: name, ...(description ? { description } : {}) }));
  components.set(name, component);
  return component;
}

/** The members of a string union, from a record that must name each one (a missing or extra one does not compile). */
const membersOf = <K extends string>(set: Record<K, true>) => Object.keys(set) as K[];

const text = v.string();
const nullableText = v.nullable(v.string());
const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const time = v.pipe(v.string(), v.isoTimestamp());
const nullableTime = v.nullable(time);
const idOf = (prefix: string) => v.pipe(v.string(), v.regex(new RegExp(`^${prefix}_[0-9A-Z]{26}$`)));
const money = v.pipe(v.string(), v.regex(new RegExp(amount_pattern)), v.metadata({ description: 'a decimal string in major units ("100.00" CNY, "1500" JPY)' }));
const signedMoney = v.pipe(v.string(), v.regex(new RegExp(`^-?${amount_pattern.slice(1)}`)));
const enabled = v.picklist(membersOf<MerchantStatus>({ enabled: true, disabled: true }));
const data = <S extends v.GenericSchema>(item: S) => ({ data: v.array(item) });

/** A list that is complete in one answer. */
const listOf = <S extends v.GenericSchema>(name: string, item: S) => named(name, v.strictObject(data(item)));
/** A page of a longer list: `has_more` says whether `after` (the last id here) finds more. */
const pageOf = <S extends v.GenericSchema>(name: string, item: S) => named(name, v.strictObject({ ...data(item), has_more: v.boolean() }));

// ——— Errors (API.md "Errors") ———

const errorDetail = v.strictObject({
  code: v.picklist(Object.keys(errorStatus) as Array<keyof typeof errorStatus>),
  message: text,
  field: nullableText,
  request_id: text,
});
export const error = named('Error', v.strictObject({ error: errorDetail }), 'Every non-2xx answer. What to do about each code: docs/api.md "Errors".');

// ——— Payments (API.md "Payment object") ———

export const flow = named('Flow', v.strictObject({
  id: idOf('flw'), method: text, channel: text, amount: money,
  status: v.picklist(membersOf<FlowStatus>({ pending: true, succeeded: true, failed: true, closed: true, refunded: true })),
  channel_trade_no: nullableText, created_at: time, completed_at: nullableTime,
}));

export const action = named('Action', v.strictObject({
  type: v.picklist(membersOf<FlowAction['type']>({ qr_code: true, redirect: true, none: true })),
  qr_code: nullableText, pay_url: nullableText,
  params: v.optional(v.record(v.string(), v.string())),
}), 'What the payer is shown: a QR code\'s content, a page to send the browser to (params: what that page hands the provider\'s script), or nothing to do.');

const risk = named('RiskDecision', v.strictObject({
  decision: v.picklist(membersOf<RiskVerdict['decision']>({ allow: true, review: true })),
  score: count,
  rules: v.array(text),
}), 'The risk center\'s decision: the codes of the rules that hit, never internal detail beyond the score.');

/** What the merchant gave paycenter for itself: never shown to the payer (the cashier's answers). */
const merchantOnly = { notify_url: nullableText, metadata: v.record(v.string(), v.unknown()), risk };

const paymentShown = {
  id: idOf('pay'), merchant_id: text, merchant_order_no: text, amount: money, currency: v.picklist(currencies),
  subject: text, body: nullableText, status: v.picklist(paymentStatuses), paid_amount: money, refunded_amount: money,
  flows: v.array(flow), cashier_url: text, return_url: nullableText,
  expires_at: time, created_at: time, updated_at: time, paid_at: nullableTime, closed_at: nullableTime,
  close_reason: v.nullable(v.picklist(membersOf<CloseReason>({ timeout: true, merchant: true, failed: true }))),
};

export const payment = named('Payment', v.strictObject({ ...paymentShown, ...merchantOnly }));
export const paymentWithAction = named('PaymentWithAction', v.strictObject({ ...paymentShown, ...merchantOnly, action }), 'The payment and what the payer is shown for the attempt just started.');
export const createdPayment = named(
  'CreatedPayment', v.union([paymentWithAction, payment]),
  'The payment; with action when the create carried method and started an attempt (a retry that finds the order paid, closed or paying another way has none).',
);

export const refund = named('Refund', v.strictObject({
  id: idOf('rfd'), payment_id: idOf('pay'),
  refund_no: v.pipe(nullableText, v.metadata({ description: 'the merchant\'s number; null for an automatic refund of money that arrived twice or late' })),
  amount: money, reason: nullableText,
  status: v.picklist(membersOf<RefundStatus>({ pending: true, succeeded: true, failed: true })),
  created_at: time, completed_at: nullableTime,
}));
export const refundList = listOf('RefundList', refund);

/** The object each notification carries as its data. */
const event_data = {
  'payment.succeeded': 'payment', 'payment.closed': 'payment', 'refund.succeeded': 'refund', 'refund.failed': 'refund',
} as const satisfies Record<NotifyType, 'payment' | 'refund'>;
const event_types = Object.keys(event_data) as NotifyType[];
const typesCarrying = (data: 'payment' | 'refund') => v.picklist(event_types.filter((type) => event_data[type] === data));

const eventBase = { id: idOf('evt'), created_at: time };
export const event = named('Event', v.variant('type', [
  v.strictObject({ ...eventBase, type: typesCarrying('payment'), data: payment }),
  v.strictObject({ ...eventBase, type: typesCarrying('refund'), data: refund }),
]), 'A notification as it was sent: data is the payment object for payment.*, the refund object for refund.*.');
export const eventPage = pageOf('EventPage', event);

export const redelivery = named('Redelivery', v.strictObject({ id: idOf('evt'), type: v.picklist(event_types), status: v.literal('pending') }), 'Queued for delivery now, with a fresh retry schedule.');

// ——— Payer balances (API.md v1.1) ———

const balanceFields = { user_id: text, currency: v.literal('CNY'), available: money, frozen: money, updated_at: nullableTime };
export const balance = named('Balance', v.strictObject(balanceFields), 'A payer\'s balance; a payer never seen has zeros and updated_at null.');
export const balanceEntry = named('BalanceEntry', v.strictObject({
  id: idOf('bal'), user_id: text, kind: v.picklist(entry_kinds), amount: money, available_after: money, frozen_after: money,
  payment_id: v.nullable(idOf('pay')), refund_id: v.nullable(idOf('rfd')), reference: nullableText, created_at: time,
}));
export const balanceEntryPage = pageOf('BalanceEntryPage', balanceEntry);
export const payerAccount = named('PayerAccount', v.strictObject({ merchant_id: text, ...balanceFields, entries: v.array(balanceEntry), has_more: v.boolean() }),
  'A payer\'s balance and its entries, oldest first (after and limit page on).');

// ——— The cashier ———

export const cashierPayment = named('CashierPayment', v.strictObject({ ...paymentShown, action, qr_svg: v.optional(text) }),
  'The payment as the payer\'s browser sees it (no notify_url, metadata or risk), its action, and the QR code drawn as SVG.');
export const cashierStatus = named('CashierStatus', v.strictObject({ status: v.picklist(paymentStatuses), expires_in: count, methods: v.array(text) }));
export const cashierCheck = named('CashierCheck', v.strictObject({ status: v.picklist(paymentStatuses) }));

// ——— Operators: merchants and channels ———

const merchantFields = {
  merchant_id: text, name: text, notify_url: nullableText, methods: v.array(text), status: enabled, routing: v.picklist(routingStrategies),
  created_at: time, updated_at: time,
};
export const merchant = named('Merchant', v.strictObject(merchantFields));
export const newMerchant = named('NewMerchant', v.strictObject({ ...merchantFields, secret: text }), 'The new merchant and its signing secret, shown in this answer only.');
export const merchantPage = pageOf('MerchantPage', merchant);

const breakerState = v.picklist(membersOf<BreakerStateName>({ closed: true, open: true, half_open: true }));
const healthFields = {
  breaker: breakerState, success_rate: v.pipe(v.number(), v.minValue(0), v.maxValue(1)), calls: count, failures: count,
  p50_ms: v.nullable(v.number()), p99_ms: v.nullable(v.number()), window_s: count, opened_at: nullableTime, hidden_in_cashier: v.boolean(),
};
export const health = named('Health', v.strictObject(healthFields), 'A channel\'s health over its sliding window; read-only.');
export const healthReport = named('HealthReport', v.strictObject({
  ...healthFields,
  transitions: v.array(v.strictObject({ at: time, from: breakerState, to: breakerState, reason: text })),
}), 'The health object and the breaker\'s last transitions, newest first, with their reasons.');

export const channel = named('Channel', v.strictObject({
  code: text, provider: text, methods: v.array(text), currencies: v.array(v.picklist(currencies)), weight: count,
  single_limit: v.nullable(money), daily_limit: v.nullable(money), status: enabled,
  config: v.pipe(v.nullable(v.record(v.string(), v.unknown())), v.metadata({ description: 'as given, secrets shown as [redacted]; null when its provider no longer reads the stored one' })),
  fee_rate: text, created_at: time, updated_at: time, health,
}));
export const channelList = listOf('ChannelList', channel);

// ——— Risk (API.md v1.1 "Risk") ———

const ruleBase = {
  code: text, action: v.picklist(['reject', 'review']), score: count, status: enabled, created_at: time, updated_at: time,
};
export const rule = named('Rule', v.variant('kind', rule_kinds.map((kind) => v.strictObject({ ...ruleBase, kind: v.literal(kind), params: paramsByKind[kind] }))),
  'A risk rule; its params are those of its kind.');
export const ruleList = listOf('RuleList', rule);
export const listEntry = named('ListEntry', v.strictObject({ id: idOf('rsk'), subject: v.picklist(list_subjects), value: text, reason: nullableText, created_at: time }));
export const listEntryList = listOf('ListEntryList', listEntry);
export const riskSettings = named('RiskSettings', v.strictObject({ review_at: count, reject_at: count }));
export const riskOverview = named('RiskOverview', v.strictObject({ settings: riskSettings, rules: v.array(rule), lists: v.array(listEntry), lists_total: count }),
  'The thresholds, every rule, the newest list entries and how many there are.');

// ——— Reconciliation and alerts ———

export const reconDiff = named('ReconDiff', v.strictObject({
  id: idOf('dif'), kind: v.picklist(diff_kinds), flow_id: v.nullable(idOf('flw')), refund_id: v.nullable(idOf('rfd')), channel_trade_no: nullableText,
  local: v.nullable(v.record(v.string(), v.unknown())), channel: v.pipe(v.unknown(), v.metadata({ description: 'the statement line as read; null when the statement lacks it' })),
  resolution: v.picklist(['open', 'repaired', 'ignored']), note: nullableText, resolved_by: nullableText, resolved_at: nullableTime,
}));
const runFields = {
  id: idOf('rcn'), channel: text, date: v.pipe(v.string(), v.isoDate()),
  status: v.picklist(membersOf<ReconRunRow['status']>({ running: true, done: true, failed: true })),
  source: v.picklist(membersOf<ReconRunRow['source']>({ download: true, upload: true, schedule: true })), error: nullableText,
  counts: v.record(v.picklist(count_keys), count),
  totals: v.pipe(v.strictObject({
    channel_amount: v.optional(signedMoney), local_amount: v.optional(signedMoney), channel_fee: v.optional(signedMoney), currency: v.optional(v.picklist(currencies)),
  }), v.metadata({ description: 'net amounts in currency; empty until the run is done, and without currency for runs made before runs kept it' })),
  created_at: time, finished_at: nullableTime,
};
export const reconRun = named('ReconRun', v.strictObject({ ...runFields, diffs: v.array(reconDiff) }), 'A reconciliation run with its differences.');
export const reconRunPage = pageOf('ReconRunPage', named('ReconRunSummary', v.strictObject(runFields)));

export const alert = named('Alert', v.strictObject({
  id: idOf('alr'), kind: v.picklist(alertKinds), message: text, payment_id: v.nullable(idOf('pay')), channel: nullableText, created_at: time, acked_at: nullableTime,
}));
export const alertPage = pageOf('AlertPage', alert);

// ——— The operators' other views ———

const unknownList = v.array(v.unknown());
export const timeline = named('Timeline', v.strictObject({
  payment_id: idOf('pay'), status: v.picklist(paymentStatuses), version: count, next_after_seq: v.nullable(count),
  events: v.array(v.strictObject({ seq: count, at: time, event: v.unknown(), state_before: v.unknown(), state_after: v.unknown(), effects: unknownList })),
  callbacks: v.array(v.strictObject({
    id: idOf('cbk'), received_at: time, provider: text, channel: text, verified: v.nullable(v.boolean()), flow_id: nullableText, outcome: nullableText,
    headers: v.record(v.string(), v.string()), body: text,
  })),
}), 'The events the order\'s actor took, with the states before and after and the effects, and the callbacks recorded for it.');
export const memory = named('Memory', v.strictObject({ rss_bytes: count, heap_used_bytes: count, heap_total_bytes: count, external_bytes: count }));
export const audit = pageOf('AuditPage', v.strictObject({ id: idOf('aud'), at: time, actor: text, action: text, target: text, detail: v.unknown() }));
export const parkedList = named('ParkedList', v.strictObject({
  data: v.array(v.strictObject({
    source: v.picklist(['outbox', 'timer']), payment_id: idOf('pay'), ref: text, kind: text, error: text, parked_at: time, detail: v.unknown(), retry: text,
  })),
  limit_each: count,
}));
export const parkedOutboxRetry = named('ParkedOutboxRetry', v.strictObject({ source: v.literal('outbox'), ref: text, status: v.literal('pending') }));
export const parkedTimerRetry = named('ParkedTimerRetry', v.strictObject({ source: v.literal('timer'), payment_id: text, ref: text, status: v.literal('armed') }));

const channelLine = v.strictObject({ code: text, provider: text, status: enabled, methods: v.array(text), currencies: v.array(text), weight: count, health });
export const consoleHome = named('ConsoleHome', v.strictObject({
  today: v.strictObject({
    date: v.pipe(v.string(), v.isoDate()),
    currencies: v.array(v.strictObject({
      currency: text, orders: count, attempted: count, paid: count, success_rate: v.nullable(v.number()), paid_amount: text, refunded_amount: text,
    })),
  }),
  channels: v.array(channelLine), open_alerts: count, parked: count, alerts: v.array(alert), open_diffs: count,
}), 'Today (China time), by currency, of the orders created today: how many, attempted (with a flow), paid, success rate (paid ÷ attempted), paid on them before refunds and refunded since; the channels\' health, open alerts and differences, parked rows.');
export const paymentPage = pageOf('PaymentPage', payment);

export const machineList = listOf('MachineList', v.strictObject({ name: text, version: count }));
export const machineGraph = named('MachineGraph', v.strictObject({ name: text, version: count, states: unknownList, transitions: unknownList }));
export const simulation = named('Simulation', v.strictObject({ initial: v.unknown(), steps: unknownList }));

/** A callback refused: WeChat Pay's format, which every provider reads as "not taken". */
export const providerRefusal = named('ProviderRefusal', v.strictObject({ code: v.literal('FAIL'), message: text }));

// ——— Operations ———

const checks = v.record(v.string(), v.picklist(['ok', 'down']));
export const liveness = named('Liveness', v.strictObject({ status: v.literal('ok') }));
export const readiness = named('Readiness', v.strictObject({ status: v.literal('ready'), checks }), 'Every dependency answered: the store, and Redis when configured.');
export const notReady = named('NotReady', v.strictObject({ error: errorDetail, status: v.literal('unavailable'), checks }), 'The error body (unavailable) with the checks beside it.');
