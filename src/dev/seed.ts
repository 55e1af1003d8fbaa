/**
 * `bun dev` only: a demo merchant and one sandbox-backed channel per provider, created once.
 * The merchant's secret is remembered under the data directory (file mode 0600), so every start
 * can print a ready id and secret; the channels' keys are the ones the sandbox issued, which it
 * keeps in its own state file beside them; default risk rules. Production (`bun run start`) seeds nothing.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { channel_plugins } from '../channels/plugins.ts';
import type { MerchantDirectory } from '../merchants/directory.ts';
import type { RiskCenter } from '../risk/center.ts';
import type { RiskRepo } from '../risk/repo.ts';
import { ruleOf } from '../risk/rules.ts';
import { seal, unseal } from '../secrets.ts';
import type { ChannelRow, Store } from '../store/store.ts';

export const demo_merchant_id = 'M100001';
/**
 * The demo merchant pays with every method a sandbox-played provider has, and with what paycenter
 * serves itself (the payer's balance, which the cashier offers beside the channels).
 */
export const demo_methods = channel_plugins.filter((p) => p.sandbox || !p.external).flatMap((p) => p.methods.map((m) => m.name));

export type DemoMerchant = { id: string; secret: string | null };

export async function seedDemoMerchant(merchants: MerchantDirectory, dataDir: string): Promise<DemoMerchant> {
  const file = join(dataDir, 'demo-merchant.json');
  const existing = await merchants.find(demo_merchant_id);
  if (existing) {
    // A provider the sandbox has started to play since, or the balance: the demo merchant gets its methods too.
    const missing = demo_methods.filter((m) => !existing.methods.includes(m));
    if (missing.length > 0) await merchants.update(demo_merchant_id, { methods: [...existing.methods, ...missing] });
    // The secret exists only in this file; without it the demo merchant is still there, unsigned for.
    const kept = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { secret: string }) : null;
    return { id: demo_merchant_id, secret: kept?.secret ?? null };
  }
  const created = await merchants.create({ merchantId: demo_merchant_id, name: 'Demo merchant', methods: demo_methods });
  if (!created.ok) throw new Error('assertion failed: the demo merchant appeared meanwhile');
  const secret = created.merchant.secret.reveal();
  writeFileSync(file, JSON.stringify({ merchant_id: demo_merchant_id, secret }), { mode: 0o600 });
  return { id: demo_merchant_id, secret };
}

/** One channel per provider the sandbox plays (its plug-in says how), with all of the provider's methods. */
const sandbox_channels = channel_plugins.flatMap((p) => (p.sandbox ? [{ ...p.sandbox, provider: p.provider, methods: p.methods.map((m) => m.name) }] : []));

/**
 * One channel per provider whose gateway is the mounted sandbox, with credentials the sandbox
 * issues (asked in-process, as a developer would ask a provider's sandbox console). Returns the
 * codes created now.
 */
export async function seedSandboxChannels(store: Store, sandbox: Hono, sandboxUrl: string, secretKey: Uint8Array, now: number): Promise<string[]> {
  const created: string[] = [];
  for (const channel of sandbox_channels) {
    const existing = await store.loadChannel(channel.code);
    if (existing) {
      await repointAtSandbox(store, existing, channel.urlField, `${sandboxUrl}${channel.urlPath}`, secretKey, now);
      continue;
    }
    const answer = await sandbox.request(channel.provision, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    if (answer.status !== 201) throw new Error(`the sandbox refused ${channel.provision}: HTTP ${answer.status}`);
    const config = (await answer.json()) as Record<string, string>;
    const row: ChannelRow = {
      code: channel.code, provider: channel.provider, methods: [...channel.methods], currencies: ['CNY'], weight: 100,
      singleLimit: null, dailyLimit: null, status: 'enabled', configEnc: seal(secretKey, JSON.stringify(config)), feeRate: '0', createdAt: now, updatedAt: now,
    };
    if ((await store.insertChannel(row)) === 'inserted') created.push(channel.code);
  }
  return created;
}

/** A later start on another port or host: the seeded channel follows the sandbox it was issued by. */
async function repointAtSandbox(store: Store, row: ChannelRow, field: string, url: string, secretKey: Uint8Array, now: number): Promise<void> {
  const config = JSON.parse(unseal(secretKey, row.configEnc)) as Record<string, string>;
  if (config[field] === url) return;
  await store.updateChannel({ ...row, configEnc: seal(secretKey, JSON.stringify({ ...config, [field]: url })), updatedAt: now });
}

/**
 * Default risk rules for development, created once (an operator's later change or deletion
 * stands): what the old fixed payer-velocity rule did (30 new orders a minute per user, device
 * or IP), a daily CNY limit per user, and the blacklist. Production starts with no rules.
 */
export const dev_risk_rules = [
  { code: 'user_velocity', kind: 'velocity', action: 'reject', score: 0, params: { subject: 'user', count: 30, window_s: 60 } },
  { code: 'device_velocity', kind: 'velocity', action: 'reject', score: 0, params: { subject: 'device', count: 30, window_s: 60 } },
  { code: 'ip_velocity', kind: 'velocity', action: 'reject', score: 0, params: { subject: 'ip', count: 30, window_s: 60 } },
  { code: 'user_daily_cny', kind: 'limit', action: 'reject', score: 0, params: { subject: 'user', period: 'day', amount: '50000.00' } },
  { code: 'blacklist', kind: 'blacklist', action: 'reject', score: 0, params: { subjects: ['user', 'device', 'ip', 'merchant'] } },
  { code: 'large_for_payer', kind: 'amount_anomaly', action: 'review', score: 50, params: { factor: 5, min_history: 3 } },
] as const;

export async function seedRiskRules(repo: RiskRepo, center: RiskCenter, now: number): Promise<string[]> {
  if ((await repo.countRules()) > 0) return [];
  const created: string[] = [];
  for (const spec of dev_risk_rules) {
    const parsed = ruleOf({ ...spec, status: 'enabled', createdAt: now, updatedAt: now });
    if (!parsed.ok) throw new Error(`assertion failed: dev risk rule ${spec.code} is invalid: ${parsed.issue.field} ${parsed.issue.message}`);
    if (await repo.insertRule(parsed.rule)) created.push(spec.code);
  }
  await center.changed();
  return created;
}
