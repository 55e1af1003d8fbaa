/**
 * Whether a channel can serve a pay part at all, before health counts: enabled, of a provider
 * paycenter can talk to, serving the method and currency, within its single-payment limit and
 * what is left of its daily limit. Routing (router.ts) ranks the channels that pass.
 */
import { routable } from '../channels/plugins.ts';
import type { ChannelRow } from '../store/store.ts';

export type PayNeed = { method: string; currency: string; amount: number };

/** Minor units each channel with a daily limit collected today (see DailyVolumes). */
export type CollectedToday = ReadonlyMap<string, number>;

/** Why this channel cannot take this part, in words for the timeline; null when it can. */
export function skipReason(channel: ChannelRow, need: PayNeed, collectedToday: CollectedToday): string | null {
  if (channel.status !== 'enabled') return 'disabled';
  if (!routable(channel.provider)) return `no adapter for provider ${channel.provider}`;
  if (!channel.methods.includes(need.method)) return `does not serve ${need.method}`;
  if (!channel.currencies.includes(need.currency)) return `does not serve ${need.currency}`;
  if (channel.singleLimit !== null && need.amount > channel.singleLimit) return 'over its single-payment limit';
  if (channel.dailyLimit !== null && (collectedToday.get(channel.code) ?? 0) + need.amount > channel.dailyLimit) return 'over what is left of its daily limit';
  return null;
}
