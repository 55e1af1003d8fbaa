/**
 * The breaker's rules, one sentence a case: when a closed breaker opens, when an open one lets a
 * probe through, what a probe's outcome does (BREAKER_HALF_OPEN_PROBES answered in a row close
 * it, one failure re-opens it), and what an operator's forced open means.
 */
import { describe, expect, test } from 'bun:test';
import { afterCall, answerMayTrip, default_breaker_settings as settings, halfOpenDue, hiddenInCashier, moved, probeAnswered, tripReason } from '../../src/routing/breaker.ts';
import { emptyTotals } from '../../src/routing/window.ts';
import { closedBreaker } from '../../src/store/rows.ts';

const t0 = 1_764_547_200_000;
const windowOf = (calls: number, failures: number, row = 0) => ({ totals: { ...emptyTotals(), calls, failures }, consecutiveFailures: row });
const failedWith = (window: ReturnType<typeof windowOf>) => ({ outcome: 'failed', window }) as const;
const answeredWith = (window: ReturnType<typeof windowOf>) => ({ outcome: 'answered', window }) as const;
const answered = answeredWith(windowOf(1, 0));
const closed = closedBreaker('c');
const open = moved(closed, 'open', t0);

describe('breaker transitions', () => {
  test.each([
    ['fewer than BREAKER_MIN_CALLS calls never trip on the share', 9, 9, 4, null],
    ['BREAKER_MIN_CALLS calls with exactly BREAKER_FAILURE_RATIO failed trip', 10, 5, 1, '5 of 10 calls failed in the window'],
    ['just under the ratio does not trip', 10, 4, 1, null],
    ['BREAKER_CONSECUTIVE failures in a row trip whatever the share', 100, 5, 5, '5 calls failed in a row'],
    ['one fewer in a row does not', 100, 4, 4, null],
  ] as const)('%s', (_, calls, failures, row, reason) => {
    expect(tripReason(settings, windowOf(calls, failures, row))).toBe(reason);
  });

  test('a closed breaker is judged on every call: an answer that brings the window to BREAKER_MIN_CALLS with the share reached opens it', () => {
    expect(afterCall(settings, closed, answered)).toBeNull();
    expect(afterCall(settings, closed, failedWith(windowOf(10, 9, 1)))).toEqual({ to: 'open', reason: '9 of 10 calls failed in the window' });
    // F F F F A F A A F, then this answer: 10 calls, 6 failed, never 5 in a row.
    expect(afterCall(settings, closed, answeredWith(windowOf(10, 6, 0)))).toEqual({ to: 'open', reason: '6 of 10 calls failed in the window' });
    expect(afterCall(settings, closed, answeredWith(windowOf(10, 4, 0)))).toBeNull();
    // An answer whose window was not read back (it could not trip) is judged on nothing.
    expect(afterCall(settings, closed, { outcome: 'answered', window: null })).toBeNull();
  });

  test('an answer may trip only where it brings the window to BREAKER_MIN_CALLS with the share reached: only then is the window read back', () => {
    expect(answerMayTrip(settings, windowOf(9, 6))).toBe(true);
    expect(answerMayTrip(settings, windowOf(9, 4))).toBe(false);
    expect(answerMayTrip(settings, windowOf(3, 3))).toBe(false);
    expect(answerMayTrip(settings, windowOf(100, 2))).toBe(false);
  });

  test('open → half_open only after BREAKER_OPEN_S, and never when forced', () => {
    expect(halfOpenDue(settings, open, t0 + settings.openMs - 1)).toBeNull();
    expect(halfOpenDue(settings, open, t0 + settings.openMs)?.to).toBe('half_open');
    expect(halfOpenDue(settings, moved(closed, 'open', t0, true), t0 + 10 * settings.openMs)).toBeNull();
    expect(halfOpenDue(settings, closed, t0 + 10 * settings.openMs)).toBeNull();
  });

  test('half_open: a failed probe, or any failed call, re-opens; an answer is left to the probe count; open ignores calls', () => {
    const half = moved(open, 'half_open', t0 + settings.openMs);
    expect(afterCall(settings, half, failedWith(windowOf(20, 16)), true)).toEqual({ to: 'open', reason: 'a half-open probe failed' });
    expect(afterCall(settings, half, failedWith(windowOf(20, 16)))).toEqual({ to: 'open', reason: 'a call failed while half-open' });
    expect(afterCall(settings, half, answered, true)).toBeNull();
    expect(afterCall(settings, half, answered)).toBeNull();
    expect(afterCall(settings, open, failedWith(windowOf(20, 16)))).toBeNull();
  });

  test.each([
    ['the first of three answered probes keeps it half-open', 3, 0, { to: 'half_open', reason: 'half-open probe 1 of 3 answered' }],
    ['the second keeps it half-open', 3, 1, { to: 'half_open', reason: 'half-open probe 2 of 3 answered' }],
    ['the third closes it', 3, 2, { to: 'closed', reason: '3 half-open probes answered in a row' }],
    ['BREAKER_HALF_OPEN_PROBES=1: the first closes it', 1, 0, { to: 'closed', reason: '1 half-open probes answered in a row' }],
  ] as const)('%s', (_, halfOpenProbes, passedBefore, transition) => {
    expect(probeAnswered({ ...settings, halfOpenProbes }, passedBefore)).toEqual(transition);
  });

  test('a probe counted keeps the half-open period: same since and opened_at, next version, gate released', () => {
    const half = { ...moved(open, 'half_open', t0 + settings.openMs), probeUntil: t0 + settings.openMs + 15_000 };
    const counted = moved(half, 'half_open', t0 + settings.openMs + 700);
    expect(counted).toMatchObject({ state: 'half_open', since: half.since, openedAt: t0, version: half.version + 1, probeUntil: 0 });
    expect(moved(counted, 'closed', t0 + settings.openMs + 900)).toMatchObject({ state: 'closed', since: t0 + settings.openMs + 900, openedAt: null });
  });

  test('every move bumps the version and releases the probe gate; opened_at is the open time', () => {
    const half = moved(open, 'half_open', t0 + 5);
    expect(half).toMatchObject({ state: 'half_open', version: open.version + 1, openedAt: t0, probeUntil: 0 });
    expect(moved(half, 'open', t0 + 9)).toMatchObject({ state: 'open', openedAt: t0 + 9, forced: false });
    expect(moved(half, 'closed', t0 + 9)).toMatchObject({ state: 'closed', openedAt: null });
    expect(moved(closed, 'closed', t0, true).forced).toBe(false);
  });

  test('the cashier hides an open channel, or one under CASHIER_HIDE_BELOW over at least BREAKER_MIN_CALLS calls', () => {
    expect(hiddenInCashier(settings, 'open', windowOf(0, 0))).toBe(true);
    expect(hiddenInCashier(settings, 'closed', windowOf(9, 9))).toBe(false);
    expect(hiddenInCashier(settings, 'closed', windowOf(10, 3))).toBe(true);
    expect(hiddenInCashier(settings, 'closed', windowOf(10, 2))).toBe(false);
    expect(hiddenInCashier(settings, 'half_open', windowOf(10, 2))).toBe(false);
  });
});
