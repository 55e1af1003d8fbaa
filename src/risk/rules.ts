/**
 * Risk rules, lists and settings as data (API.md "Risk"). Every rule an operator sends and
 * every row read back is parsed with these schemas; nothing else decides what a rule may say.
 */
import { toJsonSchema } from '@valibot/to-json-schema';
import * as v from 'valibot';
import { parseAmount } from '../money.ts';

export const rule_kinds = ['blacklist', 'limit', 'velocity', 'amount_anomaly', 'location_anomaly'] as const;
export type RuleKind = (typeof rule_kinds)[number];

export const list_subjects = ['user', 'device', 'ip', 'merchant'] as const;
export type ListSubject = (typeof list_subjects)[number];

/** Earlier paid orders an anomaly rule may ask for at most (the history read is bounded). */
export const history_orders_max = 100;
/** The longest sliding window a velocity rule may have: one China-time day. */
export const velocity_window_s_max = 86_400;

/** Limits' amounts are in CNY: rules name no currency, and orders in another are not counted in an amount. */
export const limit_currency = 'CNY';

const count = v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1'), v.maxValue(1_000_000, 'must be at most 1000000'));
const amount_rule = 'an amount in CNY with 2 decimals, e.g. "5000.00"';
const amountText = v.pipe(
  v.string(),
  v.check((s) => parseAmount(s, limit_currency).ok, `must be ${amount_rule}`),
  v.metadata({ description: amount_rule }),
);

export const paramsByKind = {
  blacklist: v.strictObject({ subjects: v.pipe(v.array(v.picklist(list_subjects)), v.minLength(1), v.maxLength(list_subjects.length)) }),
  limit: v.pipe(
    v.strictObject({ subject: v.picklist(['user', 'device', 'merchant']), period: v.picklist(['single', 'day', 'month']), amount: v.optional(amountText), count: v.optional(count) }),
    v.check((p) => p.amount !== undefined || p.count !== undefined, 'must have amount or count'),
  ),
  velocity: v.strictObject({
    subject: v.picklist(['user', 'device', 'ip']), count,
    window_s: v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1'), v.maxValue(velocity_window_s_max, `must be at most ${velocity_window_s_max}`)),
  }),
  amount_anomaly: v.strictObject({
    factor: v.pipe(v.number(), v.minValue(1, 'must be at least 1'), v.maxValue(1_000, 'must be at most 1000')),
    min_history: v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(1), v.maxValue(history_orders_max)),
  }),
  location_anomaly: v.strictObject({ min_history: v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(1), v.maxValue(history_orders_max)) }),
} satisfies Record<RuleKind, v.GenericSchema>;

export type ParamsOf<K extends RuleKind> = v.InferOutput<(typeof paramsByKind)[K]>;

const ruleCode = v.pipe(v.string(), v.regex(/^[a-z0-9_]{1,64}$/, 'must be 1–64 characters of a-z 0-9 _'));
const action = v.picklist(['reject', 'review']);
const score = v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(0, 'must be at least 0'), v.maxValue(1_000, 'must be at most 1000'));
const status = v.picklist(['enabled', 'disabled']);

/** What a rule says besides its params; the params are checked against its kind (ruleOf). */
const ruleFields = { code: ruleCode, action, score: v.optional(score, 0), status: v.optional(status, 'enabled') };

/** A kind's params as the OpenAPI document shows them (a check the converter cannot show, limit's "amount or count", is in API.md). */
function paramsDocument(kind: RuleKind) {
  const { $schema: _, ...schema } = toJsonSchema(paramsByKind[kind], { errorMode: 'ignore' });
  return schema;
}

/**
 * The bodies read params as any object and parse them for the kind afterwards (ruleOf), naming the
 * field inside params; the document shows each kind's params all the same — keyed on kind where the
 * body names it, as the params of the rule's kind where it does not (a change).
 */
const paramsOfKind = v.record(v.string(), v.unknown());
const params_keyed_on_kind = rule_kinds.map((kind) => ({ properties: { kind: { const: kind }, params: paramsDocument(kind) }, required: ['kind', 'params'] }));

export const createRuleBody = v.pipe(v.strictObject({ ...ruleFields, kind: v.picklist(rule_kinds), params: paramsOfKind }), v.metadata({ oneOf: params_keyed_on_kind }));
export const updateRuleBody = v.strictObject({
  action: v.optional(action), score: v.optional(score), status: v.optional(status),
  params: v.optional(v.pipe(paramsOfKind, v.metadata({ description: 'the params of the rule\'s kind', anyOf: rule_kinds.map(paramsDocument) }))),
});

type RuleBase = { code: string; action: 'reject' | 'review'; score: number; status: 'enabled' | 'disabled'; createdAt: number; updatedAt: number };
export type Rule = { [K in RuleKind]: RuleBase & { kind: K; params: ParamsOf<K> } }[RuleKind];

export type RuleIssue = { field: string; message: string };

/** A rule from its parts, its params parsed for its kind; the issue names the first bad field. */
export function ruleOf(base: RuleBase & { kind: RuleKind; params: unknown }): { ok: true; rule: Rule } | { ok: false; issue: RuleIssue } {
  const parsed = v.safeParse(paramsByKind[base.kind], base.params);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.');
    return { ok: false, issue: { field: path ? `params.${path}` : 'params', message: issue.message } };
  }
  return { ok: true, rule: { ...base, params: parsed.output } as Rule };
}

export type ListEntry = { id: string; subject: ListSubject; value: string; reason: string | null; createdAt: number };

export type Settings = { reviewAt: number; rejectAt: number };
export const default_settings: Settings = { reviewAt: 50, rejectAt: 80 };

const threshold = v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1'), v.maxValue(100_000));
export const settingsBody = v.pipe(
  v.strictObject({ review_at: threshold, reject_at: threshold }),
  v.check((s) => s.review_at <= s.reject_at, 'review_at must not be above reject_at'),
);

/** How long a list entry's reason may be. */
export const list_entry_reason_chars_max = 256;

export const listEntryBody = v.strictObject({
  subject: v.picklist(list_subjects), value: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  reason: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(list_entry_reason_chars_max))), null),
});
