/**
 * What each channel with a daily limit has collected today, for routing. Providers count their
 * daily limits by the China Standard Time day. Read from the flows table and kept for a short
 * while: routing a payment must not scan today's flows each time, and a few seconds of lag
 * against a limit the provider enforces anyway only means a refusal there instead of here.
 */
import { chinaDayStart } from '../channels/china-time.ts';
import type { Clock } from '../clock.ts';
import type { ChannelRow, Store } from '../store/store.ts';

/** How long a channel's collected amount is reused before it is read again. */
export const daily_volume_cache_ms = 2_000;

export class DailyVolumes {
  private readonly cached = new Map<string, { at: number; dayStart: number; collected: number }>();

  constructor(private readonly deps: { store: Store; clock: Clock }) {}

  /** Collected today, in minor units, by each of these channels that has a daily limit. */
  async of(channels: readonly ChannelRow[]): Promise<Map<string, number>> {
    const now = this.deps.clock.now();
    const dayStart = chinaDayStart(now);
    const limited = channels.filter((c) => c.dailyLimit !== null);
    const amounts = await Promise.all(limited.map(async (channel) => {
      const hit = this.cached.get(channel.code);
      if (hit && hit.dayStart === dayStart && now - hit.at < daily_volume_cache_ms) return hit.collected;
      const collected = await this.deps.store.collectedSince(channel.code, dayStart);
      this.cached.set(channel.code, { at: now, dayStart, collected });
      return collected;
    }));
    return new Map(limited.map((channel, i) => [channel.code, amounts[i]!]));
  }
}
