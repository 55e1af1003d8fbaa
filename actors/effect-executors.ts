/**
 * Which background loop executes each effect kind. A kind added to the machine's one list
 * (effectKinds) fails to compile here until it is given a loop, and then the loop's own
 * `Record<Kind, …>` tables (the runner's retry schedules, its exhaustive switch) ask for it.
 */
import { type EffectKind, effectKinds } from '../machines/payment.rules.ts';

export type Executor = 'effect runner' | 'notification delivery';

export const effectExecutor = {
  'channel.prepay': 'effect runner',
  'channel.query': 'effect runner',
  'channel.close': 'effect runner',
  'channel.capture': 'effect runner',
  'channel.refund': 'effect runner',
  'channel.refund_query': 'effect runner',
  'operator.alert': 'effect runner',
  'merchant.notify': 'notification delivery',
} as const satisfies Record<EffectKind, Executor>;

/** The kinds one loop executes. */
export type KindsOf<E extends Executor> = { [K in EffectKind]: (typeof effectExecutor)[K] extends E ? K : never }[EffectKind];

export function kindsOf<E extends Executor>(executor: E): KindsOf<E>[] {
  return effectKinds.filter((kind): kind is KindsOf<E> => effectExecutor[kind] === executor);
}
