import { describe, expect, test } from 'bun:test';
import { startPaced } from '../../src/paced-start.ts';

describe('startPaced', () => {
  test('work queued on the event loop runs between one start and the next', async () => {
    const log: string[] = [];
    // Stands for requests arriving while the batch starts: each turn of the loop, one more.
    let requests = 0;
    const request = () => {
      log.push('request');
      if (++requests < 50) setImmediate(request);
    };
    setImmediate(request);
    await startPaced(['a', 'b', 'c'], async (item) => void log.push(item));
    const at = (item: string) => log.indexOf(item);
    expect(log.slice(at('a'), at('b'))).toContain('request');
    expect(log.slice(at('b'), at('c'))).toContain('request');
  });

  test('an item starts without waiting for the ones before it to finish, and results keep the items\' order', async () => {
    const releases: (() => void)[] = [];
    const started: number[] = [];
    const all = startPaced([1, 2, 3], (n) => {
      started.push(n);
      return new Promise<number>((resolve) => releases.push(() => resolve(n * 10)));
    });
    while (started.length < 3) await new Promise((r) => setImmediate(r));
    for (const release of releases.reverse()) release();
    expect(await all).toEqual([10, 20, 30]);
  });

  test('a failure rejects the whole once every item has started, and is not reported as unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const started: number[] = [];
      const all = startPaced([1, 2, 3], async (n) => {
        started.push(n);
        if (n === 1) throw new Error('first item failed');
        return n;
      });
      await expect(all).rejects.toThrow('first item failed');
      expect(started).toEqual([1, 2, 3]);
      await new Promise((r) => setTimeout(r, 10));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
