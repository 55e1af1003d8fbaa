/**
 * Channels as configured by operators, with their adapters: the config is unsealed and an
 * adapter built once per channel version (its `updatedAt`), and the list is cached briefly so
 * paying does not read the channels table on every request.
 */
import type { Clock } from '../clock.ts';
import { unseal } from '../secrets.ts';
import type { ChannelRow, Store } from '../store/store.ts';
import type { ChannelAdapter } from './adapter.ts';
import { AlipayAdapter, type AlipayConfig } from './alipay/adapter.ts';
import { WechatpayAdapter, type WechatpayConfig } from './wechatpay/adapter.ts';

export type Channel = { row: ChannelRow; adapter: ChannelAdapter };

export type RegistryOptions = { cacheMs: number; requestTimeoutMs: number };
export const default_registry_options: RegistryOptions = { cacheMs: 2_000, requestTimeoutMs: 10_000 };

/** Where a provider's callbacks for one channel arrive (API.md "Routes for channels"). */
export const callbackUrl = (publicUrl: string, provider: string, code: string) =>
  `${publicUrl.replace(/\/$/, '')}/callbacks/${provider}/${code}`;

type AdapterOptions = { notifyUrl: string; timeoutMs: number };

/** One adapter per external provider; providers paycenter runs itself (balance) have none. */
const adapterFactories: Record<string, (config: Record<string, unknown>, options: AdapterOptions) => ChannelAdapter> = {
  alipay: (config, options) => new AlipayAdapter(config as AlipayConfig, options),
  wechatpay: (config, options) => new WechatpayAdapter(config as WechatpayConfig, options),
};

/** Providers a channel can be routed to: those with an adapter. */
export const externalProviders: readonly string[] = Object.keys(adapterFactories);

export function adapterFor(row: ChannelRow, config: Record<string, unknown>, publicUrl: string, timeoutMs: number): ChannelAdapter | null {
  const factory = adapterFactories[row.provider];
  return factory ? factory(config, { notifyUrl: callbackUrl(publicUrl, row.provider, row.code), timeoutMs }) : null;
}

export class ChannelRegistry {
  private list: { at: number; rows: ChannelRow[] } | null = null;
  private readonly adapters = new Map<string, { updatedAt: number; adapter: ChannelAdapter | null }>();

  constructor(
    private readonly deps: {
      store: Store; secretKey: Uint8Array; clock: Clock; publicUrl: string;
      /** Wraps every adapter built (routing's health recording: every call to a channel passes there). */
      observe?: (adapter: ChannelAdapter, code: string) => ChannelAdapter;
    },
    private readonly options: RegistryOptions = default_registry_options,
  ) {}

  /** Every channel, as of at most cacheMs ago. */
  async all(): Promise<ChannelRow[]> {
    const now = this.deps.clock.now();
    if (!this.list || now - this.list.at >= this.options.cacheMs) this.list = { at: now, rows: await this.deps.store.listChannels() };
    return this.list.rows;
  }

  /** A channel and its adapter, read fresh (effects and callbacks must see the current keys). */
  async get(code: string): Promise<Channel | null> {
    const row = await this.deps.store.loadChannel(code);
    const adapter = row && this.adapterOf(row);
    return row && adapter ? { row, adapter } : null;
  }

  private adapterOf(row: ChannelRow): ChannelAdapter | null {
    const cached = this.adapters.get(row.code);
    if (cached && cached.updatedAt === row.updatedAt) return cached.adapter;
    const config = JSON.parse(unseal(this.deps.secretKey, row.configEnc)) as Record<string, unknown>;
    const built = adapterFor(row, config, this.deps.publicUrl, this.options.requestTimeoutMs);
    const adapter = built && this.deps.observe ? this.deps.observe(built, row.code) : built;
    this.adapters.set(row.code, { updatedAt: row.updatedAt, adapter });
    return adapter;
  }
}
