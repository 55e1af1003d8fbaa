/**
 * The breakers of all channels as this instance sees them: read from the shared board and kept
 * for at most breaker_cache_ms (so every instance sees a move within 2 s), moved by compare-and-
 * set, with probe tickets for the half-open gate. Every call's outcome comes here (see
 * observed-adapter.ts), and so does an operator's forced state.
 */
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import type { Logger } from '../log.ts';
import type { BreakerRow, BreakerStateName, BreakerTransitionRow, Store } from '../store/store.ts';
import { type BreakerSettings, type CallReport, type Transition, afterCall, halfOpenDue, moved, probeAnswered } from './breaker.ts';
import type { BreakerBoard } from './breaker-board.ts';
import type { HealthWindows } from './health.ts';
import { ReadsInFlight } from './reads-in-flight.ts';

/** How long a breaker read from the board is trusted: instances see each other's moves within twice this. */
export const breaker_cache_ms = 1_000;
/** How long a half-open probe holds the gate: longer than a provider call may take, so probes never overlap. */
export const probe_gate_ms = 15_000;
/** Tries of an operator's forced move, or of counting an answered probe, against concurrent moves. */
const move_attempts_max = 3;

/** Whether a prepay goes out: `probe` when it is the half-open breaker's one probe. */
export type Admission = 'refused' | 'admitted' | 'probe';

/** Told of every move this instance won (an opened breaker raises an operator alert). */
export type BreakerObserver = { moved(transition: BreakerTransitionRow): Promise<void> };

export class Breakers {
  private readonly cached = new Map<string, { row: BreakerRow; at: number }>();
  /**
   * Probe gates this instance holds — for which half-open period (the breaker's version) and
   * until when: routing took one for the prepay that follows.
   */
  private readonly tickets = new Map<string, { version: number; until: number }>();
  private readonly reading = new ReadsInFlight();

  constructor(
    private readonly deps: { board: BreakerBoard; store: Store; health: HealthWindows; clock: Clock; log: Logger; observer?: BreakerObserver },
    readonly settings: BreakerSettings,
  ) {}

  /**
   * Each channel's breaker, an open one past its pause moved to half_open on the way. A breaker
   * past breaker_cache_ms that another request of this instance already reads again is taken as
   * cached until that read lands; one marked stale (a fresh read is wanted) is always read.
   */
  async states(codes: readonly string[]): Promise<Map<string, BreakerRow>> {
    const now = this.deps.clock.now();
    await this.refresh(codes.filter((code) => {
      const hit = this.cached.get(code);
      return !hit || hit.at === Number.NEGATIVE_INFINITY || (now - hit.at >= breaker_cache_ms && !this.reading.has(code));
    }), now);
    const rows = new Map(codes.map((code) => [code, this.cached.get(code)!.row]));
    for (const [code, row] of rows) {
      const due = halfOpenDue(this.settings, row, now);
      if (!due) continue;
      const next = await this.move(row, due.to, due.reason);
      // Lost to another instance: read what it wrote.
      if (!next) await this.refresh([code], now);
      rows.set(code, next ?? this.cached.get(code)!.row);
    }
    return rows;
  }

  /** Entries are replaced, never removed: concurrent readers of this instance rely on finding them. */
  private markStale(code: string): void {
    const hit = this.cached.get(code);
    if (hit) this.cached.set(code, { row: hit.row, at: Number.NEGATIVE_INFINITY });
  }

  private async refresh(codes: readonly string[], now: number): Promise<void> {
    if (codes.length === 0) return;
    await this.reading.run(codes, async () => {
      for (const [code, row] of await this.deps.board.read(codes, now)) {
        // Concurrent reads of this instance may answer out of order: a fresh entry only moves forward.
        const hit = this.cached.get(code);
        if (!hit || row.version >= hit.row.version || now - hit.at >= breaker_cache_ms) this.cached.set(code, { row, at: now });
        // A closed period this instance did not start (its own moves are cached as they are made).
        if (hit && row.version > hit.row.version && row.state === 'closed' && row.since !== hit.row.since) await this.deps.health.closedElsewhere(code, now);
      }
    });
  }

  /**
   * What one call does to its channel's breaker: the state it moved to, or null.
   * `probe`: the call was the prepay admitted as the half-open probe.
   */
  async observe(code: string, call: CallReport, probe = false): Promise<BreakerStateName | null> {
    if (probe && call.outcome === 'answered') return this.countProbe(code);
    const row = (await this.states([code])).get(code)!;
    const transition = afterCall(this.settings, row, call, probe);
    return transition && (await this.move(row, transition.to, transition.reason)) ? transition.to : null;
  }

  /**
   * Counts an answered probe against the breaker as it is now (read past the cache: a probe
   * another instance counted moved it): closed at BREAKER_HALF_OPEN_PROBES, else one probe further.
   * A breaker no longer half-open (a failure re-opened it, an operator moved it) ignores it.
   */
  private async countProbe(code: string): Promise<BreakerStateName | null> {
    for (let attempt = 0; attempt < move_attempts_max; attempt++) {
      this.markStale(code);
      const row = (await this.states([code])).get(code)!;
      if (row.state !== 'half_open') return null;
      const transition: Transition = probeAnswered(this.settings, await this.deps.board.probesPassed(row, this.settings.halfOpenProbes));
      if (await this.move(row, transition.to, transition.reason)) return transition.to;
    }
    this.deps.log.warn('half-open probe not counted: the breaker kept moving', { channel: code });
    return null;
  }

  /**
   * Whether a prepay may go to this channel now: never while open, while half-open only as the
   * one probe (the gate routing took for it, or one taken now).
   */
  async admitPrepay(code: string): Promise<Admission> {
    const row = (await this.states([code])).get(code)!;
    if (row.state !== 'half_open') return row.state === 'closed' ? 'admitted' : 'refused';
    const ticket = this.tickets.get(code);
    this.tickets.delete(code);
    const held = ticket !== undefined && ticket.version === row.version && ticket.until > this.deps.clock.now();
    return held || (await this.claimProbe(row)) ? 'probe' : 'refused';
  }

  /**
   * Takes the half-open probe gate of this breaker for a prepay this instance is about to make.
   * The breaker is read past the cache first: the ticket names the version the gate is taken at
   * (every later move releases the gate), not an older one another instance's counted probe
   * already moved on from — such a ticket would refuse its own prepay and hold the gate idle.
   */
  async claimProbe(breaker: BreakerRow): Promise<boolean> {
    this.markStale(breaker.code);
    const row = (await this.states([breaker.code])).get(breaker.code)!;
    if (row.state !== 'half_open') return false;
    const now = this.deps.clock.now();
    if (!(await this.deps.board.claimProbe(row.code, now, probe_gate_ms))) return false;
    this.tickets.set(row.code, { version: row.version, until: now + probe_gate_ms });
    return true;
  }

  /** An operator's move: a forced open stays open until an operator closes it; a forced close starts a fresh window. */
  async force(code: string, to: 'open' | 'closed', reason: string): Promise<BreakerRow> {
    for (let attempt = 0; attempt < move_attempts_max; attempt++) {
      this.markStale(code);
      const row = (await this.states([code])).get(code)!;
      const next = await this.move(row, to, `operator: ${reason}`, to === 'open');
      if (next) return next;
    }
    throw new Error(`breaker ${code} kept moving under an operator's forced ${to}`);
  }

  /** Moves a breaker from the state read; null when another instance moved it first. */
  private async move(row: BreakerRow, to: BreakerStateName, reason: string, forced = false): Promise<BreakerRow | null> {
    const at = this.deps.clock.now();
    const next = moved(row, to, at, forced);
    const transition: BreakerTransitionRow = { id: newId('brk', at), code: row.code, at, from: row.state, to, reason };
    const won = await this.deps.board.swap(next, transition);
    if (!won) {
      this.markStale(row.code);
      return null;
    }
    this.cached.set(row.code, { row: next, at });
    if (to === 'closed') await this.deps.health.reset(row.code, at);
    this.deps.log[to === 'open' ? 'warn' : 'info']('channel breaker moved', { channel: row.code, from: row.state, to, reason });
    await this.deps.observer?.moved(transition);
    return next;
  }
}
