/**
 * Operator alerts (DESIGN.md "Alerts are rows with a kind"): raised once per id, listed newest
 * first, acknowledged by an operator. Raising is idempotent so that work which may run twice
 * (an effect retried after a crash, a delivery re-claimed) can derive the alert's id from its
 * own and never raise the same alert twice.
 */
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import type { AlertRow, Store } from '../store/store.ts';
import type { AlertKind } from './kinds.ts';

export type AlertInput = {
  kind: AlertKind;
  message: string;
  paymentId?: string | null;
  channel?: string | null;
  /** A stable id for work that may raise twice; a fresh one otherwise. */
  id?: string;
};

export type AlertListing = { open?: boolean; kind?: AlertKind; paymentId?: string; beforeId?: string; limit: number };

/** Longest message kept; the rest is cut (a message is a sentence for an operator, not a dump). */
export const alert_message_chars_max = 2_000;
/** Most alerts one listing returns. */
export const alerts_page_max = 200;

export class Alerts {
  constructor(private readonly deps: { store: Store; clock: Clock; onRaised?: (kind: AlertKind) => void }) {}

  /** Records the alert; true when it is new (false: an alert with this id was raised before). */
  async raise(input: AlertInput): Promise<boolean> {
    const now = this.deps.clock.now();
    const row: AlertRow = {
      id: input.id ?? newId('alr', now), kind: input.kind, message: input.message.slice(0, alert_message_chars_max),
      paymentId: input.paymentId ?? null, channel: input.channel ?? null, createdAt: now, ackedAt: null, ackedBy: null,
    };
    const inserted = (await this.deps.store.insertAlert(row)) === 'inserted';
    if (inserted) this.deps.onRaised?.(input.kind);
    return inserted;
  }

  /** One page, newest first, and whether more follow. */
  async list(query: AlertListing): Promise<{ data: AlertRow[]; hasMore: boolean }> {
    const limit = Math.min(query.limit, alerts_page_max);
    const rows = await this.deps.store.listAlerts({ ...query, limit: limit + 1 });
    return { data: rows.slice(0, limit), hasMore: rows.length > limit };
  }

  /** Acknowledges an alert once; `acked: false` when it had been acknowledged before (the first acknowledgement stays). */
  ack(alertId: string, by: string): Promise<{ alert: AlertRow; acked: boolean } | null> {
    return this.deps.store.ackAlert(alertId, this.deps.clock.now(), by);
  }
}

/** The alert id that belongs to another row's id (`obx_…`, `evt_…`): same time order, raised once. */
export const alertIdFor = (rowId: string): string => `alr_${rowId.slice(rowId.indexOf('_') + 1)}`;
