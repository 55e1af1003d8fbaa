/**
 * Picks the channel for a pay part (API.md "Routing"): among the channels that serve the method,
 * currency and amount (limits included), are enabled and whose breaker is not open, in the order
 * the merchant's strategy prefers. A half-open channel is tried first when this instance takes
 * its probe gate. The decision says what was considered and what was skipped, and why: it goes on
 * the order's timeline with the pay event.
 */
import { signedHere } from '../channels/plugins.ts';
import type { ChannelRegistry } from '../channels/registry.ts';
import type { Currency } from '../money.ts';
import type { ChannelRow } from '../store/store.ts';
import type { ChannelHealth, ChannelState } from './channel-health.ts';
import { type PayNeed, skipReason } from './choose.ts';
import type { DailyVolumes } from './daily-volume.ts';
import { type Candidate, type RoutingStrategy, rank } from './strategies.ts';
import { successRate } from './window.ts';

/**
 * What the order's timeline shows of one pay part's routing decision (snake_case: it is read as
 * JSON). A pay event carries one a routed part; balance parts are not routed.
 */
export type RoutingNote = {
  /** The part this decision routed: its method and the flow it started. */
  method: string;
  flow_id: string;
  strategy: RoutingStrategy;
  chosen: string;
  /** The chosen channel is half-open and this pay is its probe. */
  probe: boolean;
  /** smart sent this pay to a channel not ranked first (exploration). */
  explored: boolean;
  considered: Array<{ channel: string; success_rate: number; calls: number; weight: number; fee_rate: string }>;
  skipped: Array<{ channel: string; reason: string }>;
  /** Set when an earlier channel of the same pay request failed. */
  failover_from?: { channel: string; flow_id: string; reason: string };
};

export type Decision = { order: string[]; note: Omit<RoutingNote, 'method' | 'flow_id' | 'chosen'> };

/** What a pay request knows of the channel it moves on from. */
export type FailoverFrom = NonNullable<RoutingNote['failover_from']> & { method: string };

/**
 * The timeline's notes of one attempt: one a routed part (`decisions[i]` null for a part that is
 * not routed), each naming its flow and the channel it got; the part that moves on from a failed
 * channel says so.
 */
export function routingNotes(
  parts: ReadonlyArray<{ flowId: string; method: string; channel: string }>, decisions: ReadonlyArray<Decision | null>, failover: FailoverFrom | null,
): RoutingNote[] {
  return parts.flatMap((part, i) => {
    const decision = decisions[i];
    if (!decision) return [];
    const moved = failover && failover.method === part.method ? { failover_from: { channel: failover.channel, flow_id: failover.flow_id, reason: failover.reason } } : {};
    return [{ method: part.method, flow_id: part.flowId, ...decision.note, chosen: part.channel, ...moved }];
  });
}

export class Router {
  constructor(private readonly deps: { channels: ChannelRegistry; volumes: DailyVolumes; health: ChannelHealth; random: () => number }) {}

  /**
   * The channels to try, best first (empty: none can serve it now). `tried` are channels this
   * pay request already failed at; they are skipped.
   */
  async decide(need: PayNeed, strategy: RoutingStrategy, tried: readonly string[] = []): Promise<Decision> {
    const rows = await this.deps.channels.all();
    const collected = await this.deps.volumes.of(rows);
    const serving = rows.filter((row) => row.methods.includes(need.method) && row.currencies.includes(need.currency));
    const skipped: RoutingNote['skipped'] = [];
    const eligible = serving.filter((row) => {
      const reason = tried.includes(row.code) ? 'failed in this request' : skipReason(row, need, collected);
      if (reason) skipped.push({ channel: row.code, reason });
      return reason === null;
    });
    const states = await this.deps.health.states(eligible.map((row) => row.code));
    const { routable, probe } = await this.byBreaker(eligible, states, skipped, signedHere(need.method));
    const ranking = rank(strategy, routable.map((row) => candidateOf(row, states.get(row.code)!)), this.deps.random);
    const order = probe ? [probe.code, ...ranking.order] : ranking.order;
    const considered = [...(probe ? [probe] : []), ...routable].map((row) => {
      const { totals } = states.get(row.code)!.window;
      return { channel: row.code, success_rate: successRate(totals), calls: totals.calls, weight: row.weight, fee_rate: row.feeRate };
    });
    return { order, note: { strategy, probe: probe !== null, explored: probe === null && ranking.explored, considered, skipped } };
  }

  /**
   * Open breakers are skipped; of the half-open ones, at most one is taken as this pay's probe —
   * unless the method's prepay calls nobody (`signedHere`): it cannot probe, and goes as if closed.
   */
  private async byBreaker(eligible: ChannelRow[], states: Map<string, ChannelState>, skipped: RoutingNote['skipped'], callsNobody: boolean) {
    const routable: ChannelRow[] = [];
    let probe: ChannelRow | null = null;
    for (const row of eligible) {
      const { breaker } = states.get(row.code)!;
      if (breaker.state === 'closed' || (callsNobody && breaker.state === 'half_open')) routable.push(row);
      else if (breaker.state === 'open') skipped.push({ channel: row.code, reason: 'breaker open' });
      else if (probe === null && (await this.deps.health.claimProbe(breaker))) probe = row;
      else skipped.push({ channel: row.code, reason: 'breaker half-open, a probe is in flight' });
    }
    return { routable, probe };
  }

  /**
   * The methods the cashier offers: those with a channel that can serve them now and is not
   * hidden (open, or a success rate under CASHIER_HIDE_BELOW over enough calls).
   */
  shownMethods(methods: readonly string[], currency: Currency, amount: number): Promise<string[]> {
    return this.methodsServed(methods, currency, amount, (state) => !this.deps.health.hidden(state));
  }

  /**
   * The methods a pay could be routed for now: a channel serves them whose breaker is not open (a
   * create that pays at once checks this first — the cashier's stricter hiding is the cashier's).
   */
  routableMethods(methods: readonly string[], currency: Currency, amount: number): Promise<string[]> {
    return this.methodsServed(methods, currency, amount, (state) => state.breaker.state !== 'open');
  }

  private async methodsServed(methods: readonly string[], currency: Currency, amount: number, usable: (state: ChannelState) => boolean): Promise<string[]> {
    const rows = await this.deps.channels.all();
    const collected = await this.deps.volumes.of(rows);
    const serving = (method: string) => rows.filter((row) => skipReason(row, { method, currency, amount }, collected) === null);
    const codes = [...new Set(methods.flatMap((method) => serving(method).map((row) => row.code)))];
    const states = await this.deps.health.states(codes);
    return methods.filter((method) => serving(method).some((row) => usable(states.get(row.code)!)));
  }
}

function candidateOf(row: ChannelRow, state: ChannelState): Candidate {
  return { code: row.code, weight: row.weight, feeRate: row.feeRate, calls: state.window.totals.calls, failures: state.window.totals.failures };
}

