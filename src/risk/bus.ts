/**
 * Risk changes heard across instances: an operator's change publishes on a Redis channel and
 * every instance subscribed reloads its rules at once. A subscriber needs its own connection.
 */
import type Redis from 'ioredis';
import type { ChangeBus } from './center.ts';

const channel = 'paycenter:risk:changed';

export function redisChangeBus(redis: Redis): ChangeBus {
  const subscriber = redis.duplicate();
  const listeners: Array<() => void> = [];
  void subscriber.subscribe(channel);
  subscriber.on('message', (from: string) => {
    if (from === channel) for (const listener of listeners) listener();
  });
  // A reconnect may have missed messages: reload then too.
  subscriber.on('ready', () => listeners.forEach((listener) => listener()));
  return {
    publish: async () => void (await redis.publish(channel, '1')),
    onChange: (listener) => void listeners.push(listener),
    close: async () => void subscriber.disconnect(),
  };
}
