/**
 * Risk news heard across instances, over Redis pub/sub: an operator's change (every instance
 * reloads its rules at once) and a payer's recorded payment (every instance drops its copy of that
 * payer's history). A subscriber needs its own connection.
 */
import type Redis from 'ioredis';
import type { RiskBus } from './center.ts';

const changed_channel = 'paycenter:risk:changed';
const paid_channel = 'paycenter:risk:paid';

export function redisRiskBus(redis: Redis): RiskBus {
  const subscriber = redis.duplicate();
  const changeListeners: Array<() => void> = [];
  const paidListeners: Array<(payer: string | null) => void> = [];
  void subscriber.subscribe(changed_channel, paid_channel);
  subscriber.on('message', (from: string, message: string) => {
    if (from === changed_channel) for (const listener of changeListeners) listener();
    if (from === paid_channel) for (const listener of paidListeners) listener(message);
  });
  // A reconnect may have missed messages: reload then too, and forget every payer's copy.
  subscriber.on('ready', () => {
    for (const listener of changeListeners) listener();
    for (const listener of paidListeners) listener(null);
  });
  return {
    publish: async () => void (await redis.publish(changed_channel, '1')),
    onChange: (listener) => void changeListeners.push(listener),
    publishPaid: async (payer) => void (await redis.publish(paid_channel, payer)),
    onPaid: (listener) => void paidListeners.push(listener),
    close: async () => void subscriber.disconnect(),
  };
}
