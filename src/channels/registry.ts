/**
 * Channels as configured by operators, with their adapters: the config is unsealed and an
 * adapter built once per channel version (its `updatedAt`), and the list is cached briefly so
 * that paying, executing an effect or taking a callback does not read the channels table each
 * time (it was about three reads a payment). An operator's change reaches every instance within
 * the cache's life (operations.md "Channels"), and the instance that made it at once.
 */
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { unseal } from '../secrets.ts';
import type { ChannelRow, Store } from '../store/store.ts';
import type { ChannelAdapter } from './adapter.ts';
import type { ChannelPlugin } from './plugin.ts';
import { pluginOf } from './plugins.ts';

export type Channel = { row: ChannelRow; adapter: ChannelAdapter; plugin: ChannelPlugin };

export type RegistryOptions = { cacheMs: number; requestTimeoutMs: number };
export const default_registry_options: RegistryOptions = { cacheMs: 2_000, requestTimeoutMs: 10_000 };

/** Where a provider's callbacks for one channel arrive (API.md "Routes for channels"). */
export const callbackUrl = (publicUrl: string, provider: string, code: string) =>
  `${publicUrl.replace(/\/$/, '')}/callbacks/${provider}/${code}`;

/** Where a provider plug-in's own pages for one channel are served (see app.ts). */
export const pagesUrl = (publicUrl: string, provider: string, code: string) =>
  `${publicUrl.replace(/\/$/, '')}/channels/${provider}/${code}`;

/** Where adapters run: paycenter's public URL, the call timeout, and whom to tell of a channel's connection resets. */
export type AdapterContext = { publicUrl: string; timeoutMs: number; log?: Logger; onConnectionReset?: (code: string) => void };

/**
 * The adapter of a channel, from its stored config; null for a provider paycenter serves itself,
 * and for a stored config its plug-in no longer reads (logged: an operator must fix it).
 */
export function adapterFor(row: ChannelRow, config: unknown, context: AdapterContext): ChannelAdapter | null {
  const reading = pluginOf(row.provider)?.readConfig(config);
  if (!reading?.ok) {
    context.log?.error('channel config cannot be read', { channel: row.code, provider: row.provider, field: reading?.field, problem: reading?.message ?? 'unknown provider' });
    return null;
  }
  const { publicUrl, timeoutMs, onConnectionReset } = context;
  return reading.build?.({
    notifyUrl: callbackUrl(publicUrl, row.provider, row.code), pagesUrl: pagesUrl(publicUrl, row.provider, row.code), timeoutMs,
    onConnectionReset: onConnectionReset && (() => onConnectionReset(row.code)),
  }) ?? null;
}

export class ChannelRegistry {
  private list: { at: number; rows: ChannelRow[] } | null = null;
  private readonly adapters = new Map<string, { updatedAt: number; adapter: ChannelAdapter | null; own: ChannelAdapter | null }>();

  constructor(
    private readonly deps: {
      store: Store; secretKey: Uint8Array; clock: Clock; publicUrl: string; log?: Logger;
      /** Wraps every adapter built (routing's health recording: every call to a channel passes there). */
      observe?: (adapter: ChannelAdapter, code: string) => ChannelAdapter;
      /** Told of each call to a channel sent again because its connection was reset (FetchOptions). */
      onConnectionReset?: (code: string) => void;
    },
    private readonly options: RegistryOptions = default_registry_options,
  ) {}

  /** Every channel, as of at most cacheMs ago. */
  async all(): Promise<ChannelRow[]> {
    const now = this.deps.clock.now();
    if (!this.list || now - this.list.at >= this.options.cacheMs) this.list = { at: now, rows: await this.deps.store.listChannels() };
    return this.list.rows;
  }

  /** Forgets the cached list: the next read sees this process's own change. */
  forget(): void {
    this.list = null;
  }

  private async row(code: string): Promise<ChannelRow | null> {
    return (await this.all()).find((row) => row.code === code) ?? null;
  }

  /** A channel and its adapter, as of at most cacheMs ago. */
  async get(code: string): Promise<Channel | null> {
    const row = await this.row(code);
    const adapter = row && this.adapterOf(row);
    const plugin = row && pluginOf(row.provider);
    return row && adapter && plugin ? { row, adapter, plugin } : null;
  }

  /**
   * A channel's adapter as its plug-in built it, not wrapped for health: for the plug-in's own pages
   * (a payer's browser or a provider's notify reaching paycenter is no call to the channel).
   */
  async own(code: string): Promise<{ provider: string; adapter: ChannelAdapter } | null> {
    const row = await this.row(code);
    const built = row && this.builtOf(row).own;
    return row && built ? { provider: row.provider, adapter: built } : null;
  }

  private adapterOf(row: ChannelRow): ChannelAdapter | null {
    return this.builtOf(row).adapter;
  }

  private builtOf(row: ChannelRow): { adapter: ChannelAdapter | null; own: ChannelAdapter | null } {
    const cached = this.adapters.get(row.code);
    if (cached && cached.updatedAt === row.updatedAt) return cached;
    const config: unknown = JSON.parse(unseal(this.deps.secretKey, row.configEnc));
    const { publicUrl, log, onConnectionReset } = this.deps;
    const own = adapterFor(row, config, { publicUrl, timeoutMs: this.options.requestTimeoutMs, log, onConnectionReset });
    const adapter = own && this.deps.observe ? this.deps.observe(own, row.code) : own;
    const built = { updatedAt: row.updatedAt, adapter, own };
    this.adapters.set(row.code, built);
    return built;
  }
}
