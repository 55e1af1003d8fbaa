/**
 * Background work (the ticker's timers, the effect runner's channel calls) comes in batches: a
 * tick claims everything due at once. Started together, a batch's synchronous parts (snapshot
 * restores, transitions, RSA signatures) run back to back as one block, and every request that
 * arrives meanwhile waits behind it: under load those blocks, not the work itself, set the
 * requests' slowest percentile. Started one event-loop turn apart, the batch interleaves with
 * the requests instead. Nothing waits for a slot: every item is in flight a turn after the one
 * before, however slow its I/O, so a channel's latency never caps background throughput; only
 * a busy loop (longer turns) slows the starts down, which is the point.
 */

/** Resolves on the next turn of the event loop, after the I/O that is ready now has been handled. */
const nextLoopTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Starts `run` for each item one loop turn after the previous one; resolves with their results in order. */
export async function startPaced<T, R>(items: readonly T[], run: (item: T) => Promise<R>): Promise<R[]> {
  const started: Promise<R>[] = [];
  for (const item of items) {
    await nextLoopTurn();
    const result = run(item);
    // Promise.all below handles a failure; until then it is not an unhandled rejection.
    result.catch(() => {});
    started.push(result);
  }
  return Promise.all(started);
}
