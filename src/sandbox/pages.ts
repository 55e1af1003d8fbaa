// The payer's side: the page a QR code / pay link opens, and the Pay / Fail buttons.
//
// Outcomes, as the providers show them:
// - pay  → trade SUCCESS, notify sent (Alipay TRADE_SUCCESS, WeChat TRANSACTION.SUCCESS).
// - pay  → UnionPay: signed back notify (respCode 00); a web payer is then posted to frontUrl.
// - fail → WeChat: trade_state PAYERROR, no notify (WeChat only notifies success).
//          UnionPay: the card is declined (query: origRespCode 60), no back notify; a web payer
//          is posted to frontUrl with that result. Another card may still pay before payTimeout.
//          Alipay: a failed attempt leaves the trade WAIT_BUYER_PAY and sends nothing — the
//          payer can try again until it expires; Alipay only notifies TRADE_CLOSED for a
//          trade it closes itself, which the sandbox does not do on a failed attempt.
// A closed or expired trade cannot be paid (409) unless a JSON body says `"force": true`:
// the test hook for a payment that lands after the merchant closed the order.
import { Hono, type Context } from 'hono';
import { alipayStatus, sendAlipayNotify } from './alipay.ts';
import { type SandboxContext, isExpired } from './context.ts';
import { type Trade, isProvider } from './state.ts';
import { sendUnionpayNotify, unionpayFrontReturn, unionpayStatus } from './unionpay.ts';
import { escapeHtml, fenToYuan } from './util.ts';
import { sendWechatNotify, wechatState } from './wechatpay.ts';

function status(ctx: SandboxContext, t: Trade): string {
  switch (t.provider) {
    case 'alipay':
      return alipayStatus(t, ctx.now());
    case 'wechatpay':
      return wechatState(t, ctx.now());
    case 'unionpay':
      return unionpayStatus(t, ctx.now());
  }
}

const BRANDS = {
  alipay: '支付宝 Alipay (sandbox)',
  wechatpay: '微信支付 WeChat Pay (sandbox)',
  unionpay: '银联在线支付 UnionPay (sandbox)',
} satisfies Record<Trade['provider'], string>;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,"PingFang SC",sans-serif;margin:0;background:#f5f5f5;color:#222}
main{max-width:420px;margin:0 auto;padding:24px 16px}
.card{background:#fff;border-radius:12px;padding:24px;box-shadow:0 1px 3px rgba(0,0,0,.08);text-align:center}
.amount{font-size:40px;font-weight:600;margin:12px 0}
.muted{color:#888;font-size:14px;word-break:break-all}
button{display:block;width:100%;padding:14px;margin-top:12px;border:0;border-radius:8px;font-size:17px;cursor:pointer}
.pay{background:#1677ff;color:#fff}.wechatpay .pay{background:#07c160}.unionpay .pay{background:#d7000f}.fail{background:#eee;color:#c00}
.state{font-size:18px;margin-top:16px}
</style></head><body><main>${body}</main></body></html>`;
}

function payPage(ctx: SandboxContext, t: Trade, action: string): string {
  const brand = BRANDS[t.provider];
  const s = status(ctx, t);
  const payable = (t.state === 'WAIT' || t.state === 'PAYERROR') && !isExpired(t, ctx.now());
  const note = payable
    ? `<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="outcome" value="pay"><button class="pay" type="submit">Pay 确认付款</button></form>
<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="outcome" value="fail"><button class="fail" type="submit">Fail 支付失败</button></form>`
    : `<p class="state">${t.state === 'SUCCESS' ? 'Already paid 已支付' : isExpired(t, ctx.now()) ? 'Expired 订单已过期' : 'Closed 订单已关闭'}</p>`;
  return layout(brand, `<div class="card ${t.provider}"><div class="muted">${escapeHtml(brand)}</div>
<h1>${escapeHtml(t.subject)}</h1><div class="amount">¥${fenToYuan(t.totalFen)}</div>
<div class="muted">商户单号 out_trade_no ${escapeHtml(t.outTradeNo)}<br>状态 ${escapeHtml(s)}</div>${note}</div>`);
}

/** Where the payer goes after deciding: the merchant's return_url when the trade has one, else back to the tab they came from. */
function afterwards(t: Trade, status: string): string {
  const returnLink = httpLinkOf(t.returnUrl);
  if (returnLink && status !== 'WAIT_BUYER_PAY') return `<p><a href="${escapeHtml(returnLink)}">返回商户 Return to merchant</a></p>`;
  return `<p class="muted">关闭此页，返回收银台 / Close this tab: the cashier you came from shows the result.</p>
<button class="fail" type="button" onclick="window.close()">关闭 Close</button>`;
}

const trades_listed_max = 20;

/** `/sandbox`: what the sandbox plays and its latest trades, each linked to its pay page. */
export function indexPage(ctx: SandboxContext): string {
  const accounts = [
    ...[...ctx.store.alipayApps.keys()].map((a) => ['alipay', a] as const),
    ...[...ctx.store.wechatMerchants.keys()].map((a) => ['wechatpay', a] as const),
    ...[...ctx.store.unionpayMerchants.keys()].map((a) => ['unionpay', a] as const),
  ];
  const trades = accounts.flatMap(([p, a]) => ctx.store.tradesOf(p, a)).sort((x, y) => y.createdAt - x.createdAt).slice(0, trades_listed_max);
  const rows = trades.map((t) => `<tr><td>${escapeHtml(BRANDS[t.provider])}</td><td><a href="${escapeHtml(`${ctx.baseUrl}/pay/${t.provider}/${encodeURIComponent(t.account)}/${encodeURIComponent(t.outTradeNo)}`)}">${escapeHtml(t.subject)}</a></td>
<td>¥${fenToYuan(t.totalFen)}</td><td>${escapeHtml(status(ctx, t))}</td></tr>`).join('');
  return layout('Channel sandbox', `<div class="card" style="text-align:left"><h1>Channel sandbox 渠道沙箱</h1>
<p>Plays Alipay (<code>/alipay/gateway.do</code>), WeChat Pay v3 (<code>/wechatpay/v3/…</code>) and UnionPay ACP 5.1.0 (<code>/unionpay/…</code>)
on their wire protocols. A QR code or pay link opens a trade's pay page, where Pay and Fail play the payer.</p>
<h2>Latest trades</h2>${rows ? `<table>${rows}</table>` : '<p class="muted">None yet: create an order and pick a method at its cashier.</p>'}</div>`);
}

type Outcome = { http: number; status: string; message: string };

function applyOutcome(ctx: SandboxContext, t: Trade, outcome: string, force: boolean): Outcome {
  const now = ctx.now();
  if (outcome !== 'pay' && outcome !== 'fail') return { http: 400, status: status(ctx, t), message: 'outcome must be "pay" or "fail"' };
  if (t.state === 'SUCCESS') return { http: 409, status: status(ctx, t), message: 'trade already paid' };
  const closed = t.state === 'CLOSED' || isExpired(t, now);
  if (closed && !force) return { http: 409, status: status(ctx, t), message: t.state === 'CLOSED' ? 'trade is closed' : 'trade has expired' };
  if (outcome === 'fail') {
    if (t.provider !== 'alipay') t.state = 'PAYERROR';
    ctx.store.changed();
    return { http: 200, status: status(ctx, t), message: 'payment failed' };
  }
  t.state = 'SUCCESS';
  t.paidAt = now;
  // A provider that collected another amount than the trade asked: everything it says since (notify,
  // query, bill, refund limits) is of what it took.
  if (ctx.faults.get(t.provider, t.account).wrong_amount) t.totalFen += 1;
  ctx.store.changed();
  switch (t.provider) {
    case 'alipay':
      sendAlipayNotify(ctx, t);
      break;
    case 'wechatpay':
      sendWechatNotify(ctx, t);
      break;
    case 'unionpay':
      sendUnionpayNotify(ctx, t);
      break;
  }
  return { http: 200, status: status(ctx, t), message: 'paid' };
}


/**
 * A merchant's return_url as a link only when it is http(s): a `javascript:` one would run on the
 * page's origin. (The sandbox imports nothing of paycenter, so it has its own check.)
 */
function httpLinkOf(url: string | undefined): string | null {
  if (!url || !URL.canParse(url)) return null;
  const { protocol, href } = new URL(url);
  return protocol === 'http:' || protocol === 'https:' ? href : null;
}
export function payerRoutes(ctx: SandboxContext): Hono {
  const app = new Hono();
  const lookup = (c: Context): Trade | undefined => {
    const provider = c.req.param('provider');
    if (!provider || !isProvider(provider)) return undefined;
    return ctx.store.getTrade(provider, c.req.param('account') ?? '', c.req.param('outTradeNo') ?? '');
  };

  app.get('/:provider/:account/:outTradeNo', (c) => {
    const t = lookup(c);
    if (!t) return c.html(layout('Not found', '<div class="card"><h1>订单不存在</h1></div>'), 404);
    return c.html(payPage(ctx, t, new URL(c.req.url).pathname));
  });

  app.post('/:provider/:account/:outTradeNo', async (c) => {
    const isJson = (c.req.header('content-type') ?? '').includes('application/json');
    let outcome = '';
    let force = false;
    if (isJson) {
      const body: unknown = await c.req.json().catch(() => undefined);
      if (typeof body === 'object' && body !== null) {
        const b = body as Record<string, unknown>;
        outcome = typeof b.outcome === 'string' ? b.outcome : '';
        force = b.force === true;
      }
    } else {
      const form = await c.req.parseBody();
      outcome = typeof form.outcome === 'string' ? form.outcome : '';
    }
    const t = lookup(c);
    if (!t) return isJson ? c.json({ status: 'NOT_FOUND', message: 'trade not found' }, 404) : c.html(layout('Not found', '<div class="card"><h1>订单不存在</h1></div>'), 404);
    const r = applyOutcome(ctx, t, outcome, force);
    if (isJson) return c.json({ status: r.status, message: r.message }, r.http as 200);
    // UnionPay's cashier hands the browser back to the merchant's frontUrl with the signed result.
    const frontReturn = t.provider === 'unionpay' && r.http === 200 ? unionpayFrontReturn(ctx, t) : undefined;
    if (frontReturn) return c.html(frontReturn);
    return c.html(layout(r.message, `<div class="card ${t.provider}"><h1>${escapeHtml(r.message)}</h1><div class="muted">${escapeHtml(t.subject)}</div>
<div class="amount">¥${fenToYuan(t.totalFen)}</div><p class="state">${escapeHtml(r.status)}</p>${afterwards(t, r.status)}</div>`), r.http as 200);
  });

  return app;
}
