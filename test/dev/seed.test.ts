/** `bun dev`'s demo merchant can pay with every method the demo offers: the sandbox's providers' and the payer's balance. */
import { afterAll, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../src/clock.ts';
import { demo_merchant_id, demo_methods, seedDemoMerchant } from '../../src/dev/seed.ts';
import { MerchantDirectory } from '../../src/merchants/directory.ts';
import { freshStoreFor } from '../store/stores.ts';

const store = freshStoreFor('sqlite');
mkdirSync(join(import.meta.dir, '..', '..', '.test-tmp'), { recursive: true });
const dataDir = mkdtempSync(join(import.meta.dir, '..', '..', '.test-tmp', 'seed-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test('the demo merchant pays from a balance beside the sandbox channels, and one seeded before gains it', async () => {
  expect(demo_methods).toContain('balance');
  const merchants = new MerchantDirectory(store, new Uint8Array(32).fill(7), systemClock);
  // A dev database from before: the demo merchant with the sandbox's methods only.
  await merchants.create({ merchantId: demo_merchant_id, name: 'Demo merchant', methods: ['alipay_qr', 'wechat_native'] });
  await seedDemoMerchant(merchants, dataDir);
  const methods = (await merchants.find(demo_merchant_id))!.methods;
  expect(methods).toContain('balance');
  expect(methods).toContain('unionpay_qr');
});
