/**
 * `bun dev` only: a demo merchant, created once and remembered under the data directory (file
 * mode 0600), so every start can print a ready id and secret. Production (`bun run start`)
 * seeds nothing.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MerchantDirectory } from '../merchants/directory.ts';

export const demo_merchant_id = 'M100001';

export type DemoMerchant = { id: string; secret: string | null };

export async function seedDemoMerchant(merchants: MerchantDirectory, dataDir: string): Promise<DemoMerchant> {
  const file = join(dataDir, 'demo-merchant.json');
  if (await merchants.find(demo_merchant_id)) {
    // The secret exists only in this file; without it the demo merchant is still there, unsigned for.
    const kept = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { secret: string }) : null;
    return { id: demo_merchant_id, secret: kept?.secret ?? null };
  }
  const created = await merchants.create({ merchantId: demo_merchant_id, name: 'Demo merchant' });
  if (!created.ok) throw new Error('assertion failed: the demo merchant appeared meanwhile');
  const secret = created.merchant.secret.reveal();
  writeFileSync(file, JSON.stringify({ merchant_id: demo_merchant_id, secret }), { mode: 0o600 });
  return { id: demo_merchant_id, secret };
}
