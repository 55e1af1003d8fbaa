/**
 * A channel's circuit breaker as pure rules (API.md "Routing, channel health and failover"):
 * closed → open when the window shows too many failures, open → half_open after a pause,
 * half_open → closed after enough answered probes in a row (each one counted by a half_open →
 * half_open move), or open at the first failure. Operators may force open (it then stays open) or
 * closed. Where the state lives and who may move it is `breakers.ts`; here only what
 * the next state is, and why.
 */
import type { BreakerRow, BreakerStateName } from '../store/store.ts';
import { type ChannelWindow, successRate } from './window.ts';

export type BreakerSettings = {
  /** BREAKER_MIN_CALLS: calls in the window before the failure share counts (and before the cashier hides). */
  minCalls: number;
  /** BREAKER_FAILURE_RATIO: the failure share that opens the breaker. */
  failureRatio: number;
  /** BREAKER_CONSECUTIVE: failures in a row that open the breaker whatever the share. */
  consecutive: number;
  /** BREAKER_OPEN_S, in ms: how long an open breaker waits before letting a probe through. */
  openMs: number;
  /** CASHIER_HIDE_BELOW: a success rate under which the cashier stops offering the channel. */
  hideBelow: number;
  /** BREAKER_HALF_OPEN_PROBES: answered half-open probes, one at a time across instances, that close the breaker. */
  halfOpenProbes: number;
};

export const default_breaker_settings: BreakerSettings = { minCalls: 10, failureRatio: 0.5, consecutive: 5, openMs: 30_000, hideBelow: 0.8, halfOpenProbes: 3 };

export type Transition = { to: BreakerStateName; reason: string };

/**
 * A call as its breaker judges it, with the window after it: an answer can trip a breaker too —
 * the one that brings the window to BREAKER_MIN_CALLS finds the failure share the calls before it
 * made — but an answer whose window was not read back (answerMayTrip said it could not) has none.
 */
export type CallReport = { outcome: 'failed'; window: ChannelWindow } | { outcome: 'answered'; window: ChannelWindow | null };

/**
 * Whether an answer could trip a closed breaker whose window was `seen` a moment ago: an answer
 * lowers the failure share, so only one that brings the window to BREAKER_MIN_CALLS with the share
 * already at BREAKER_FAILURE_RATIO can (or old buckets sliding out, which the next failure sees).
 */
export const answerMayTrip = (settings: BreakerSettings, seen: ChannelWindow): boolean =>
  tripReason(settings, { totals: { ...seen.totals, calls: seen.totals.calls + 1 }, consecutiveFailures: 0 }) !== null;

/** Why the window opens a closed breaker, or null while it stays closed. */
export function tripReason(settings: BreakerSettings, window: ChannelWindow): string | null {
  const { calls, failures } = window.totals;
  if (window.consecutiveFailures >= settings.consecutive) return `${window.consecutiveFailures} calls failed in a row`;
  if (calls >= settings.minCalls && failures / calls >= settings.failureRatio) return `${failures} of ${calls} calls failed in the window`;
  return null;
}

/**
 * What one call does to the breaker; null when nothing. `probe`: the call was a prepay let
 * through the half-open gate. An answered probe is counted by probeAnswered (it needs the count
 * so far); any other answer while half-open proves nothing the gate controlled, but any failure
 * re-opens.
 */
export function afterCall(settings: BreakerSettings, breaker: BreakerRow, call: CallReport, probe = false): Transition | null {
  switch (breaker.state) {
    case 'closed': {
      const reason = call.window === null ? null : tripReason(settings, call.window);
      return reason === null ? null : { to: 'open', reason };
    }
    case 'half_open':
      if (call.outcome === 'answered') return null;
      return { to: 'open', reason: probe ? 'a half-open probe failed' : 'a call failed while half-open' };
    case 'open':
      return null;
  }
}

/**
 * A half-open probe was answered, after `passedBefore` answered probes of this half-open period:
 * the breaker closes at BREAKER_HALF_OPEN_PROBES, otherwise it stays half-open one probe further
 * (a move of its own, which releases the gate for the next probe and records the progress).
 */
export function probeAnswered(settings: BreakerSettings, passedBefore: number): Transition {
  const passed = passedBefore + 1;
  return passed >= settings.halfOpenProbes
    ? { to: 'closed', reason: `${passed} half-open probes answered in a row` }
    : { to: 'half_open', reason: `half-open probe ${passed} of ${settings.halfOpenProbes} answered` };
}

/** An open breaker the operator did not force lets a probe through once it has been open long enough. */
export function halfOpenDue(settings: BreakerSettings, breaker: BreakerRow, now: number): Transition | null {
  if (breaker.state !== 'open' || breaker.forced || breaker.openedAt === null || now < breaker.openedAt + settings.openMs) return null;
  return { to: 'half_open', reason: `open for ${Math.round(settings.openMs / 1000)} s: letting a probe through` };
}

/**
 * The breaker after a transition; `forced` only for an operator's open. The probe gate is
 * released. `since` is when the state began: a half-open breaker counting a probe keeps it (the
 * store counts the period's probes from it, breaker-board.ts).
 */
export function moved(breaker: BreakerRow, to: BreakerStateName, at: number, forced = false): BreakerRow {
  const stays = to === 'half_open' && breaker.state === 'half_open';
  return {
    code: breaker.code, state: to, forced: forced && to === 'open', openedAt: to === 'open' ? at : to === 'half_open' ? breaker.openedAt : null,
    since: stays ? breaker.since : at, version: breaker.version + 1, probeUntil: 0,
  };
}

/**
 * The cashier stops offering a channel whose breaker is open, or whose success rate is under
 * hideBelow over enough calls to mean something.
 */
export function hiddenInCashier(settings: BreakerSettings, state: BreakerStateName, window: ChannelWindow): boolean {
  return state === 'open' || (window.totals.calls >= settings.minCalls && successRate(window.totals) < settings.hideBelow);
}
