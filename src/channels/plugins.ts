/**
 * The providers paycenter knows: one plug-in each (see plugin.ts). This list is the only place
 * that names them; routing, the cashier, the admin API, callbacks and the registry ask it.
 */
import { alipay } from './alipay/index.ts';
import { balance } from './balance/index.ts';
import type { ChannelPlugin, PayMethod } from './plugin.ts';
import { unionpay } from './unionpay/index.ts';
import { wechatpay } from './wechatpay/index.ts';

export const channel_plugins: readonly ChannelPlugin[] = [alipay, wechatpay, unionpay, balance];

export const provider_names: readonly string[] = channel_plugins.map((p) => p.provider);

const byName = new Map(channel_plugins.map((p) => [p.provider, p]));
if (byName.size !== channel_plugins.length) throw new Error('assertion failed: two plug-ins share a provider name');

export const pluginOf = (provider: string): ChannelPlugin | null => byName.get(provider) ?? null;

/** Every pay method of every provider, in the list's order (a new merchant's default methods). */
export const pay_methods: readonly PayMethod[] = channel_plugins.flatMap((p) => p.methods);
if (new Set(pay_methods.map((m) => m.name)).size !== pay_methods.length) throw new Error('assertion failed: two plug-ins share a pay method');

/** The cashier's label of a method, or null where the cashier does not offer it. */
export const methodLabel = (method: string): PayMethod['label'] => pay_methods.find((m) => m.name === method)?.label ?? null;

/** Whether a method's prepay calls nobody: a link signed here, taken to the provider by the payer's browser (see PayMethod). */
export const signedHere = (method: string): boolean => pay_methods.find((m) => m.name === method)?.signedHere === true;

/** Whether channels of this provider are paid through an adapter (paycenter serves the others itself). */
export const routable = (provider: string): boolean => pluginOf(provider)?.external ?? false;
