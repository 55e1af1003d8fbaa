/**
 * Effect kinds live in one list (machines/payment.rules.ts effectKinds): the machine's actions,
 * the loops that execute them and the outbox payload schemas are derived from it and checked
 * complete when compiled; the write set refuses an action it does not know rather than drop it;
 * outbox rows are typed when written and parsed when read back.
 */
import { describe, expect, test } from 'bun:test';
import { initialTransition, transition } from 'xstate';
import { type Executor, effectExecutor, kindsOf } from '../../actors/effect-executors.ts';
import { effectsOf, writeSetOf } from '../../actors/write-set.ts';
import { paymentMachine } from '../../machines/payment.machine.ts';
import { type EffectKind, effectKinds } from '../../machines/payment.rules.ts';
import { AssertionError } from '../../src/failures.ts';
import { readOutboxRow } from '../../src/store/outbox.ts';
import { orderInput, payWith, paidReport, renderForTests } from './fixtures.ts';

describe('effect kinds', () => {
  test('every kind is a machine action and is executed by exactly one loop', () => {
    const actions = Object.keys(paymentMachine.implementations.actions);
    expect(effectKinds.filter((kind) => !actions.includes(kind))).toEqual([]);
    expect([...kindsOf('effect runner'), ...kindsOf('notification delivery')].sort()).toEqual([...effectKinds].sort());
    // A table that misses a kind does not compile (the check `bun run typecheck` runs).
    // @ts-expect-error 'merchant.notify' and others are missing
    const incomplete = { 'channel.prepay': 'effect runner' } satisfies Record<EffectKind, Executor>;
    expect(Object.keys(incomplete).length).toBeLessThan(Object.keys(effectExecutor).length);
  });

  test('the write set refuses an action that is neither an effect kind nor a timer, instead of dropping it', () => {
    expect(() => effectsOf([{ type: 'merchant.notify', params: { event: 'payment.closed', refundId: null } }, { type: 'channel.teleport', params: {} }]))
      .toThrow(AssertionError);
    expect(() => effectsOf([{ type: 'channel.teleport', params: {} }])).toThrow('channel.teleport, which is neither an effect kind (effectKinds) nor a timer');
  });

  test('the outbox rows a transition writes are typed, and read back through their kind\'s schema', () => {
    const input = orderInput();
    const [created] = initialTransition(paymentMachine, input);
    const [paying, payActions] = transition(paymentMachine, created, payWith(`flw_${input.id.slice(4)}`));
    const [paid, paidActions] = transition(paymentMachine, paying, paidReport(`flw_${input.id.slice(4)}`));
    const rows = [
      ...writeSetOf({ before: created, after: paying, actions: payActions, event: payWith('x'), at: input.createdAt + 1, expectedVersion: 1 }, renderForTests).outbox,
      ...writeSetOf({ before: paying, after: paid, actions: paidActions, event: paidReport('x'), at: input.createdAt + 2, expectedVersion: 2 }, renderForTests).outbox,
    ];
    expect(rows.map((r) => r.kind)).toEqual(expect.arrayContaining(['channel.prepay', 'merchant.notify']));
    // What the store hands back is JSON: parsed again, it is the same typed row.
    for (const row of rows) expect(readOutboxRow(JSON.parse(JSON.stringify(row)))).toEqual(row);
    const notify = rows.find((r) => r.kind === 'merchant.notify')!;
    expect(() => readOutboxRow({ ...notify, payload: { event: 'payment.closed', refundId: null } })).toThrow('payload eventId');
    expect(() => readOutboxRow({ ...notify, kind: 'channel.teleport' })).toThrow('unknown kind channel.teleport');
  });
});
