/** The timeline shows why a notification has not been delivered: each event's last error. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { ManualClock } from '../../src/clock.ts';
import { startReceiver } from '../sandbox/helpers.ts';
import { type Booted, MerchantClient, admin_token, bootPaycenter } from './harness.ts';

const clock = new ManualClock(Date.now());
let booted: Booted;
beforeAll(async () => {
  booted = await bootPaycenter('sqlite', {}, { clock, manualTicker: true });
});
afterAll(() => booted?.stop());

test('a notification the merchant answers 500 to shows "HTTP 500" on the timeline (and in the event row it is read from)', async () => {
  const receiver = startReceiver(() => new Response('nope', { status: 500 }));
  const merchant = await MerchantClient.create(booted.url, { notify_url: receiver.url });
  const payment = await merchant.createPayment();
  await merchant.call('POST', `/v1/payments/${payment.body.id}/close`);
  expect(await booted.paycenter.delivery.tick()).toBe(1);
  receiver.stop();
  const [event] = (await merchant.call('GET', '/v1/events')).body.data;
  expect(await booted.paycenter.store.loadMerchantEvent(event.id)).toMatchObject({ status: 'pending', attempts: 1, lastError: 'HTTP 500' });
  const page = await fetch(`${booted.url}/admin/payments/${payment.body.id}/timeline`, {
    headers: { accept: 'text/html', authorization: `Bearer ${admin_token}` },
  });
  const html = await page.text();
  expect(html).toContain('<th>last error</th>');
  expect(html).toContain('<td>HTTP 500</td>');
});
