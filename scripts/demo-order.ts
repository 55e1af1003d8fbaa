/**
 * `bun run demo:order [amount] [method]`: creates a signed demo order as the `bun dev` demo
 * merchant and prints its cashier URL. Reads the merchant's secret from data/demo-merchant.json
 * and the service's address from PUBLIC_URL (default http://localhost:3000).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { requestSignature } from '../src/http/signature.ts';

const baseUrl = (process.env.PUBLIC_URL ?? `http://localhost:${process.env.PORT ?? 3000}`).replace(/\/$/, '');
const [amount = '0.01', method] = process.argv.slice(2);

let merchant: { merchant_id: string; secret: string };
try {
  merchant = JSON.parse(readFileSync('data/demo-merchant.json', 'utf8'));
} catch {
  console.error('demo:order: no data/demo-merchant.json here; start `bun dev` in this directory first');
  process.exit(2);
}

const body = JSON.stringify({
  merchant_order_no: `DEMO-${Date.now()}-${randomBytes(3).toString('hex')}`, amount, subject: 'Demo order 演示订单',
  return_url: `${baseUrl}/healthz`, ...(method ? { method } : {}),
});
const timestamp = String(Math.floor(Date.now() / 1000));
const nonce = randomBytes(12).toString('hex');
const signature = requestSignature(merchant.secret, 'POST', '/v1/payments', timestamp, nonce, body);
const response = await fetch(`${baseUrl}/v1/payments`, {
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    authorization: `PAYC-HMAC-SHA256 merchant_id="${merchant.merchant_id}",timestamp="${timestamp}",nonce="${nonce}",signature="${signature}"`,
  },
  body,
}).catch((error: unknown) => {
  console.error(`demo:order: ${baseUrl} does not answer (${String(error)}); is \`bun dev\` running?`);
  process.exit(2);
});
const payment = (await response.json()) as Record<string, any>;
if (!response.ok) {
  console.error(`demo:order: HTTP ${response.status} ${JSON.stringify(payment)}`);
  process.exit(1);
}
console.log(`payment ${payment.id}  ${payment.amount} ${payment.currency}  ${payment.status}`);
if (payment.action) console.log(`action: ${JSON.stringify(payment.action)}`);
console.log(`cashier: ${payment.cashier_url}`);
console.log(`timeline: ${baseUrl}/admin/payments/${payment.id}/timeline`);
