/**
 * Outbox rows typed by their kind. The write set produces them from a transition's effects, and
 * adds the rows of work a commit owes that is not the machine's (ownRowKinds); a row read back
 * from the database is only a stored row (`kind` a string, `payload` JSON) until `readOutboxRow`
 * has parsed its payload with the schema of its kind. The schemas are one per kind, checked
 * complete at compile time against the machine's one list and this one.
 */
import * as v from 'valibot';
import type { FlagReason } from '../../machines/payment.model.ts';
import { type EffectKind, type EffectOf, type NotifyType, effectKinds } from '../../machines/payment.rules.ts';
import { AssertionError, assert } from '../failures.ts';

/**
 * Kinds of rows a commit writes that are not the machine's effects, each executed by a loop of
 * its owner: `risk.release` gives a closed order's limit shares back (src/risk/releases.ts).
 */
const ownRowKinds = ['risk.release'] as const;
export type OutboxKind = EffectKind | (typeof ownRowKinds)[number];

/** A counter by the parts of its name (src/risk/evaluate.ts CounterRef). */
type CounterParts = { prefix: string; key: string; period: string };

/** What a row of kind K carries: its effect's params (a notification also names the event it delivers), or its own. */
export type OutboxPayload<K extends OutboxKind> = K extends 'risk.release' ? { counters: CounterParts[] }
  : K extends 'merchant.notify' ? EffectOf<K>['params'] & { eventId: string }
  : K extends EffectKind ? EffectOf<K>['params'] : never;

type RowBase = { id: string; orderId: string; createdAt: number; dueAt: number };

export type OutboxRowOf<K extends OutboxKind> = RowBase & { kind: K; payload: OutboxPayload<K> };

/** A side effect waiting to be executed, discriminated by its kind. */
export type OutboxRow = { [K in OutboxKind]: OutboxRowOf<K> }[OutboxKind];

/** An outbox row as the database hands it back, before its payload is parsed. */
export type StoredOutboxRow = RowBase & { kind: string; payload: unknown };

const flagReasons = { amount_mismatch: true, unknown_flow: true, query_exhausted: true, refund_part_failed: true, auto_refund: true } satisfies Record<FlagReason, true>;
const notifyTypes = { 'payment.succeeded': true, 'payment.closed': true, 'refund.succeeded': true, 'refund.failed': true } satisfies Record<NotifyType, true>;
const keysOf = <K extends string>(set: Record<K, true>) => Object.keys(set) as K[];

const flowAtChannel = v.strictObject({ flowId: v.string(), channel: v.string() });
const minorUnits = v.pipe(v.number(), v.safeInteger());

const payloadSchemas = {
  'channel.prepay': v.strictObject({
    flowId: v.string(), channel: v.string(), method: v.string(), amount: minorUnits, currency: v.string(), subject: v.string(), expiresAt: minorUnits,
  }),
  'channel.query': flowAtChannel,
  'channel.close': flowAtChannel,
  'channel.capture': flowAtChannel,
  'channel.refund': v.strictObject({ refundId: v.string(), flowId: v.string(), channel: v.string(), amount: minorUnits, currency: v.string() }),
  'channel.refund_query': v.strictObject({ refundId: v.string(), flowId: v.string(), channel: v.string() }),
  'merchant.notify': v.strictObject({ event: v.picklist(keysOf(notifyTypes)), refundId: v.nullable(v.string()), eventId: v.string() }),
  'operator.alert': v.strictObject({ at: minorUnits, flowId: v.nullable(v.string()), reason: v.picklist(keysOf(flagReasons)), detail: v.string() }),
  'risk.release': v.strictObject({ counters: v.array(v.strictObject({ prefix: v.string(), key: v.string(), period: v.string() })) }),
} satisfies { [K in OutboxKind]: v.GenericSchema<unknown, OutboxPayload<K>> };

const isEffectKind = (kind: string): kind is EffectKind => (effectKinds as readonly string[]).includes(kind);
const isOutboxKind = (kind: string): kind is OutboxKind => isEffectKind(kind) || (ownRowKinds as readonly string[]).includes(kind);

/**
 * A stored row as the typed row it was written as. We wrote every row ourselves, so one that
 * does not parse (an unknown kind, a payload of the wrong shape) is a bug: an AssertionError,
 * which parks that row rather than failing its neighbours.
 */
export function readOutboxRow<R extends StoredOutboxRow>(row: R): Omit<R, 'kind' | 'payload'> & OutboxRow {
  if (!isOutboxKind(row.kind)) throw new AssertionError(`outbox row ${row.id} has an unknown kind ${row.kind}`);
  const parsed = v.safeParse(payloadSchemas[row.kind], row.payload);
  if (!parsed.success) {
    throw new AssertionError(`outbox row ${row.id} (${row.kind}): payload ${v.getDotPath(parsed.issues[0]) ?? ''} ${parsed.issues[0].message}`);
  }
  return { ...row, kind: row.kind, payload: parsed.output } as Omit<R, 'kind' | 'payload'> & OutboxRow;
}

/** The effect a typed row executes (a notification's payload also names its event); a row of our own kinds executes none. */
export function effectOfRow(row: OutboxRow): EffectOf<EffectKind> {
  assert(isEffectKind(row.kind), `outbox row ${row.id} of kind ${row.kind} is no effect of the machine`);
  return { type: row.kind, params: row.payload } as EffectOf<EffectKind>;
}
