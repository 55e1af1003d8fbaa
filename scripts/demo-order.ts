/**
 * `bun run demo:order [amount] [method]`: creates an order as the `bun dev` demo merchant through
 * paycenter/client and says what it did: without a method the order waits at its cashier; with
 * one, paying has started and the payer still has to pay. Reads the merchant's secret from
 * data/demo-merchant.json, paycenter's address from PUBLIC_URL (default http://localhost:PORT, PORT
 * defaulting as for `bun dev`) and the demo shop's from MERCHANT_URL (default the next port), where
 * "Back to merchant" goes.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PaycenterClient, PaycenterError, PaycenterTransportError, type Action, type Payment } from '../src/client/index.ts';
import { default_port } from '../src/config.ts';

// Empty is unset, as for paycenter.
const port = Number(process.env.PORT || default_port);
const baseUrl = (process.env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/$/, '');
const shopUrl = (process.env.MERCHANT_URL || `http://localhost:${port + 1}`).replace(/\/$/, '');
const [amount = '0.01', method] = process.argv.slice(2);

let merchant: { merchant_id: string; secret: string };
try {
  merchant = JSON.parse(readFileSync('data/demo-merchant.json', 'utf8'));
} catch {
  console.error('demo:order: no data/demo-merchant.json here; start `bun dev` in this directory first');
  process.exit(2);
}

const client = new PaycenterClient({ baseUrl, merchantId: merchant.merchant_id, secret: merchant.secret, retry: { attemptsMax: 2 } });
const orderNo = `DEMO-${Date.now()}-${randomBytes(3).toString('hex')}`;
const request = { merchant_order_no: orderNo, amount, subject: 'Demo order 演示订单', return_url: `${shopUrl}/orders/${orderNo}` };

let payment: Payment;
let action: Action | null = null;
try {
  if (method) ({ action = null, ...payment } = await client.createPayment({ ...request, method }));
  else payment = await client.createPayment(request);
} catch (error) {
  if (error instanceof PaycenterTransportError) console.error(`demo:order: ${baseUrl} does not answer (${error.message}); is \`bun dev\` running?`);
  else if (error instanceof PaycenterError) console.error(`demo:order: paycenter refused the order: HTTP ${error.status} ${error.code}: ${error.message}`);
  else throw error;
  process.exit(1);
}

console.log(`payment ${payment.id}  ${payment.amount} ${payment.currency}  ${payment.status}`);
console.log(`Created order ${orderNo} (${payment.id}) for ${payment.amount} ${payment.currency} as merchant ${merchant.merchant_id}.`);
if (action) {
  console.log(`action: ${JSON.stringify(action)}`);
  console.log(`Started paying with ${method}: the order is ${payment.status}, NOT paid yet. The payer still has to pay:`);
  if (action.qr_code) console.log(`  scan (or open: it is the sandbox's pay page) ${action.qr_code}`);
  if (action.pay_url) console.log(`  open ${action.pay_url}`);
} else {
  console.log('It waits for the payer at the cashier, where they pick a method and pay:');
}
console.log(`cashier: ${payment.cashier_url}`);
console.log(`timeline: ${baseUrl}/admin/payments/${payment.id}/timeline`);
console.log(`The demo shop shows what paycenter notifies about it: ${shopUrl}/orders/${orderNo}`);
