/**
 * `bun dev` only: the example merchant (examples/merchant/) served beside paycenter, signing as
 * the demo merchant, which gets the shop's /notify as its notify_url, so the demo's
 * notifications are delivered and verified rather than retried into the void.
 */
import { PaycenterClient } from '../client/index.ts';
import { merchantShop } from '../../examples/merchant/app.ts';
import type { MerchantDirectory } from '../merchants/directory.ts';

export type DemoShop = { url: string; stop: () => Promise<void> };

/** `port` 0 takes any free port; the shop's address keeps paycenter's host name. */
export async function startDemoShop(merchants: MerchantDirectory, o: { publicUrl: string; host: string; port: number; merchantId: string; secret: string }): Promise<DemoShop> {
  // Bound first, so that port 0 tells the shop its own address before it serves anything.
  const server = Bun.serve({ port: o.port, hostname: o.host, fetch: () => new Response('starting', { status: 503 }) });
  const url = new URL(o.publicUrl);
  url.port = String(server.port);
  const selfUrl = url.origin;
  const client = new PaycenterClient({ baseUrl: o.publicUrl, merchantId: o.merchantId, secret: o.secret });
  server.reload({ fetch: merchantShop({ client, secret: o.secret, selfUrl }).fetch });
  const notifyUrl = `${selfUrl}/notify`;
  if ((await merchants.find(o.merchantId))?.notifyUrl !== notifyUrl) await merchants.update(o.merchantId, { notifyUrl });
  return { url: selfUrl, stop: () => server.stop(true) };
}
