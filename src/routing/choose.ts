/**
 * Which channel serves a flow. For now the simplest rule that is still correct: an enabled
 * channel of a provider paycenter can talk to, serving the method and currency, within its
 * single-payment limit and what is left of its daily limit; the highest weight wins, ties by
 * code so the choice is stable.
 */
import { routable } from '../channels/plugins.ts';
import type { ChannelRow } from '../store/store.ts';

export type PayNeed = { method: string; currency: string; amount: number };

/** Minor units each channel with a daily limit collected today (see DailyVolumes). */
export type CollectedToday = ReadonlyMap<string, number>;

export function servesNeed(channel: ChannelRow, need: PayNeed, collectedToday: CollectedToday): boolean {
  return channel.status === 'enabled'
    && routable(channel.provider)
    && channel.methods.includes(need.method)
    && channel.currencies.includes(need.currency)
    && (channel.singleLimit === null || need.amount <= channel.singleLimit)
    && (channel.dailyLimit === null || (collectedToday.get(channel.code) ?? 0) + need.amount <= channel.dailyLimit);
}

export function chooseChannel(channels: readonly ChannelRow[], need: PayNeed, collectedToday: CollectedToday): ChannelRow | null {
  const serving = channels.filter((c) => servesNeed(c, need, collectedToday));
  serving.sort((a, b) => b.weight - a.weight || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  return serving[0] ?? null;
}
