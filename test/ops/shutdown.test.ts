/**
 * Stopping an instance (a deploy, a signal): a request in flight is answered before the server
 * closes — it used to be cut (`server.stop(true)`) while its work went on, so the merchant lost
 * the answer to an order that was created and paid — and new connections are refused meanwhile.
 * A second stop is the same stop. Over HTTP, against the sandbox holding the channel's answer.
 */
import { describe, expect, test } from 'bun:test';
import { bootWorld, tradeOpenings } from '../channels/world.ts';

/** How long the sandbox holds a trade's opening: the request is in flight while the stop begins. */
const hold_ms = 800;

describe('stopping an instance', () => {
  test('answers the request in flight, refuses new ones, and stops once', async () => {
    const openings = tradeOpenings(hold_ms);
    const world = await bootWorld('sqlite', {}, {}, openings.gate);
    try {
      const creating = world.merchant.createPayment({ method: 'wechat_native' });
      for (let waited = 0; openings.count() === 0 && waited < 5_000; waited += 10) await Bun.sleep(10);
      expect(openings.count()).toBe(1);
      const stopping = world.booted.paycenter.stop();
      const created = await creating;
      expect(created.status).toBe(201);
      expect(created.body.action.type).toBe('qr_code');
      const refused = await fetch(`${world.url}/healthz`).then((r) => r.status, () => 'refused');
      expect(refused).toBe('refused');
      expect(world.booted.paycenter.stop()).toBe(stopping);
      await stopping;
    } finally {
      await world.stop();
    }
  }, 30_000);
});
