/**
 * The admission door on its own (src/http/admission-gate.ts) and which class each request is in
 * (src/http/admission.ts). Over real HTTP: admission.test.ts.
 */
import { describe, expect, test } from 'bun:test';
import { Gate } from '../../src/http/admission-gate.ts';
import { admissionClassOf } from '../../src/http/admission.ts';

/** Long enough that no waiter of a test that does not expect it expires. */
const wait_long_ms = 60_000;

describe('a gate', () => {
  test('admits up to its bound, queues up to its queue, refuses the rest at once', async () => {
    const gate = new Gate({ inFlightMax: 2, queueMax: 1, waitMs: wait_long_ms });
    expect([gate.enter(), gate.enter()]).toEqual(['admitted', 'admitted']);
    const waiting = gate.enter();
    expect(waiting).toBeInstanceOf(Promise);
    expect(gate.enter()).toBe('queue_full');
    expect({ inFlight: gate.inFlight, queued: gate.queued }).toEqual({ inFlight: 2, queued: 1 });
    gate.leave();
    expect(await waiting).toBe('admitted');
    expect({ inFlight: gate.inFlight, queued: gate.queued }).toEqual({ inFlight: 2, queued: 0 });
    gate.leave();
    gate.leave();
    expect(gate.inFlight).toBe(0);
  });

  test('a freed place goes to the longest waiter, never to a newcomer', async () => {
    const gate = new Gate({ inFlightMax: 1, queueMax: 3, waitMs: wait_long_ms });
    expect(gate.enter()).toBe('admitted');
    const order: string[] = [];
    const waiters = ['first', 'second', 'third'].map((name) => Promise.resolve(gate.enter()).then((entry) => order.push(`${name}:${entry}`)));
    gate.leave();
    // The place went to the first waiter: a newcomer finds the gate full and queues behind the others.
    expect(gate.inFlight).toBe(1);
    const newcomer = Promise.resolve(gate.enter()).then((entry) => order.push(`newcomer:${entry}`));
    gate.leave();
    gate.leave();
    gate.leave();
    await Promise.all([...waiters, newcomer]);
    expect(order).toEqual(['first:admitted', 'second:admitted', 'third:admitted', 'newcomer:admitted']);
    gate.leave();
    expect({ inFlight: gate.inFlight, queued: gate.queued }).toEqual({ inFlight: 0, queued: 0 });
  });

  test('a waiter turned away after its wait leaves the queue; a later one still gets the place', async () => {
    const gate = new Gate({ inFlightMax: 1, queueMax: 1, waitMs: 1 });
    expect(gate.enter()).toBe('admitted');
    expect(await gate.enter()).toBe('wait_expired');
    expect(gate.queued).toBe(0);
    const next = gate.enter();
    gate.leave();
    expect(await next).toBe('admitted');
    expect(gate.inFlight).toBe(1);
  });

  test('an arrival turns away the waiters whose wait is over before it looks for room (their timers may be late in a flood)', async () => {
    const gate = new Gate({ inFlightMax: 1, queueMax: 1, waitMs: 0 });
    expect(gate.enter()).toBe('admitted');
    const overdue = gate.enter();
    // No turn of the event loop in between: the overdue waiter's timer cannot have fired yet.
    const next = gate.enter();
    expect(next).toBeInstanceOf(Promise);
    expect(await overdue).toBe('wait_expired');
    expect(await next).toBe('wait_expired');
    expect({ inFlight: gate.inFlight, queued: gate.queued }).toEqual({ inFlight: 1, queued: 0 });
  });

  test('with no queue, a full gate refuses at once', () => {
    const gate = new Gate({ inFlightMax: 1, queueMax: 0, waitMs: wait_long_ms });
    expect(gate.enter()).toBe('admitted');
    expect(gate.enter()).toBe('queue_full');
  });

  test('leaving a gate nobody entered is a bug', () => {
    expect(() => new Gate({ inFlightMax: 1, queueMax: 0, waitMs: 0 }).leave()).toThrow('assertion failed');
  });
});

describe('request classes', () => {
  test.each([
    ['POST', '/v1/payments', 'merchant_write'],
    ['POST', '/v1/payments/pay_1/refunds', 'merchant_write'],
    ['POST', '/v1/balances/u1/credits', 'merchant_write'],
    ['GET', '/v1/payments/pay_1', 'merchant_read'],
    ['HEAD', '/v1/events', 'merchant_read'],
    ['POST', '/callbacks/alipay/alipay_main', 'callback'],
    ['POST', '/channels/unionpay/up_main/refund-notify', 'callback'],
    ['GET', '/cashier/pay_1', 'cashier'],
    ['POST', '/cashier/pay_1/pay', 'cashier'],
    ['GET', '/admin/console', 'admin'],
    ['GET', '/openapi.json', 'admin'],
    ['GET', '/nowhere', 'admin'],
    ['GET', '/v1x', 'admin'],
    ['GET', '/healthz', null],
    ['GET', '/readyz', null],
    ['GET', '/metrics', null],
  ] as const)('%s %s: %s', (method, path, expected) => {
    expect(admissionClassOf(method, path)).toBe(expected);
  });
});
