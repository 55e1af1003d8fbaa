/**
 * `bun examples/merchant/server.ts` — the demo shop on its own (`bun dev` also starts it beside
 * paycenter). PAYCENTER_URL (default http://localhost:3000), MERCHANT_ID and MERCHANT_SECRET
 * (default: the `bun dev` demo merchant from data/demo-merchant.json), MERCHANT_PORT (3001).
 */
import { readFileSync } from 'node:fs';
import { PaycenterClient } from 'paycenter/client';
import { merchantShop } from './app.ts';

const demo = process.env.MERCHANT_SECRET ? null : JSON.parse(readFileSync('data/demo-merchant.json', 'utf8')) as { merchant_id: string; secret: string };
const secret = process.env.MERCHANT_SECRET ?? demo!.secret;
const port = Number(process.env.MERCHANT_PORT ?? 3001);
const selfUrl = `http://localhost:${port}`;
const client = new PaycenterClient({
  baseUrl: process.env.PAYCENTER_URL ?? 'http://localhost:3000', merchantId: process.env.MERCHANT_ID ?? demo!.merchant_id, secret,
});
Bun.serve({ port, fetch: merchantShop({ client, secret, selfUrl }).fetch });
console.log(`demo shop on ${selfUrl}`);
