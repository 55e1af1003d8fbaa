/**
 * Counts the round trips a Redis client makes, for tests and benches that pin down what a code
 * path costs in Redis: each command sent on its own is one (scripts defined through this client
 * included), each pipeline's `exec` is one (however many commands it carries). The client still
 * talks to the real server.
 */
import type Redis from 'ioredis';

export type CountedRedis = { client: Redis; trips(): number };

export function countedRedis(redis: Redis): CountedRedis {
  let trips = 0;
  const commands = new Set(redis.getBuiltinCommands());
  const client = new Proxy(redis, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      if (key === 'defineCommand') {
        return (name: string, ...more: unknown[]) => {
          commands.add(name);
          return value.apply(target, [name, ...more]);
        };
      }
      if (key === 'pipeline') {
        return (...args: unknown[]) => {
          const pipeline = value.apply(target, args);
          const exec = pipeline.exec.bind(pipeline);
          pipeline.exec = (...more: unknown[]) => {
            trips += 1;
            return exec(...more);
          };
          return pipeline;
        };
      }
      if (!commands.has(key)) return value;
      return (...args: unknown[]) => {
        trips += 1;
        return value.apply(target, args);
      };
    },
  });
  return { client, trips: () => trips };
}
