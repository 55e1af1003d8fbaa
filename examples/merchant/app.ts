/**
 * A merchant's shop in a few dozen lines, built on paycenter/client: "Buy" creates an order and
 * sends the browser to paycenter's cashier; paycenter's notifications arrive at /notify, are
 * verified and de-duplicated by event id; the order's page shows what they said.
 */
import { PaycenterClient, type NotificationEvent, verifyNotification } from 'paycenter/client';

export type MerchantShop = { fetch: (request: Request) => Promise<Response>; events: NotificationEvent[] };

const page = (title: string, body: string, refreshS?: number) => new Response(
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${refreshS ? `<meta http-equiv="refresh" content="${refreshS}">` : ''}
<style>body{font:16px system-ui;max-width:36em;margin:3em auto}button{font-size:1em;padding:.4em 1em}</style></head><body>${body}</body></html>`,
  { headers: { 'content-type': 'text/html; charset=utf-8' } },
);

const escape = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function merchantShop(options: { client: PaycenterClient; secret: string; selfUrl: string }): MerchantShop {
  const { client, secret, selfUrl } = options;
  const events: NotificationEvent[] = [];
  const statusOf = new Map<string, string>(); // merchant_order_no → what the notifications said

  async function buy(): Promise<Response> {
    const no = `SHOP-${Date.now()}`;
    statusOf.set(no, 'waiting for payment');
    const payment = await client.createPayment({
      merchant_order_no: no, amount: '0.01', subject: 'A cup of tea 一杯茶',
      return_url: `${selfUrl}/orders/${no}`, notify_url: `${selfUrl}/notify`,
    });
    return Response.redirect(payment.cashier_url, 303);
  }

  async function notify(request: Request): Promise<Response> {
    const verified = verifyNotification(await request.text(), request.headers.get('paycenter-signature'), secret);
    if (!verified.ok) return new Response(verified.reason, { status: 400 });
    const { event } = verified;
    if (events.some((e) => e.id === event.id)) return new Response('ok'); // delivered before: acknowledge again
    events.push(event);
    if (event.type === 'payment.succeeded' || event.type === 'payment.closed') statusOf.set(event.data.merchant_order_no, event.data.status);
    return new Response('ok');
  }

  function order(no: string): Response {
    const status = statusOf.get(no) ?? 'unknown order';
    const done = status === 'succeeded' || status === 'closed';
    return page(`Order ${no}`, `<h1>Order ${escape(no)}</h1><p>Status: <b id="status">${escape(status)}</b></p>
<p>${done ? '' : 'This page refreshes until paycenter’s notification arrives.'}</p><p><a href="/">Back to the shop</a></p>`, done ? undefined : 2);
  }

  return {
    events,
    async fetch(request) {
      const { pathname } = new URL(request.url);
      if (request.method === 'POST' && pathname === '/orders') return buy();
      if (request.method === 'POST' && pathname === '/notify') return notify(request);
      if (request.method === 'GET' && pathname.startsWith('/orders/')) return order(decodeURIComponent(pathname.slice('/orders/'.length)));
      if (request.method === 'GET' && pathname === '/') {
        return page('Demo shop', '<h1>Demo shop</h1><form method="post" action="/orders"><button>Buy a cup of tea for ¥0.01</button></form>');
      }
      return new Response('not found', { status: 404 });
    },
  };
}
