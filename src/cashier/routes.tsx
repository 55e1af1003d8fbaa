/** @jsxImportSource hono/jsx */
/**
 * The cashier (收银台): the page a payer's browser opens from a payment's cashier_url, and the
 * few JSON routes its inline script calls. Every route needs the payment's signed token; a
 * missing or wrong one answers the same plain 404 as an unknown payment.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { html } from 'hono/html';
import QRCode from 'qrcode';
import { tradeEvent } from '../../actors/effect-runner.ts';
import type { Engine, OrderState } from '../../actors/engine.ts';
import type { Flow, FlowAction, PaymentStatus } from '../../machines/payment.model.ts';
import type { ChannelRegistry } from '../channels/registry.ts';
import type { Clock } from '../clock.ts';
import { type ErrorCode, errorStatus } from '../http/errors.ts';
import type { Merchant, MerchantDirectory } from '../merchants/directory.ts';
import { formatAmount } from '../money.ts';
import type { Payments } from '../payments/service.ts';
import { cashierTokenValid } from './token.ts';

export type CashierDeps = {
  payments: Payments;
  engine: Engine;
  merchants: MerchantDirectory;
  channels: ChannelRegistry;
  clock: Clock;
  secretKey: Uint8Array;
  /** One check per payment per this gap (default 5 s). */
  checkGapMs?: number;
};

const default_check_gap_ms = 5_000;
const check_entries_max = 10_000;
const poll_ms = 2_000;

/** Labels of the methods a payer can pick here (balance is not offered: it needs the payer's own authorization). */
const method_labels: Record<string, { zh: string; en: string }> = {
  alipay_qr: { zh: '支付宝扫码', en: 'Alipay QR' },
  alipay_page: { zh: '支付宝网页支付', en: 'Alipay web' },
  wechat_native: { zh: '微信扫码', en: 'WeChat Pay QR' },
  wechat_jsapi: { zh: '微信内支付', en: 'WeChat Pay (in WeChat)' },
};

type View = 'pay' | 'success' | 'expired';

const succeeded_statuses: PaymentStatus[] = ['succeeded', 'partially_refunded', 'refunded'];

function viewOf(status: PaymentStatus, expiresInSeconds: number): View {
  if (succeeded_statuses.includes(status)) return 'success';
  if (status === 'closed' || expiresInSeconds <= 0) return 'expired';
  return 'pay';
}

const expiresIn = (order: OrderState, now: number) => Math.max(0, Math.ceil((order.context.expiresAt - now) / 1000));

/** Only plain web links go into the return button (never javascript: or data:). */
function safeReturnUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

export async function qrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
}

function actionJson(action: FlowAction | null) {
  const a = action ?? { type: 'none' as const };
  return { type: a.type, qr_code: a.qrCode ?? null, pay_url: a.payUrl ?? null, ...(a.params ? { params: a.params } : {}) };
}

const errorJson = (c: Context, code: ErrorCode, message: string) => c.json({ error: { code, message } }, errorStatus[code]);

/** Remembers the last check per payment; bounded, dropping stale and then oldest entries. */
class CheckGate {
  private readonly last = new Map<string, number>();
  constructor(private readonly gapMs: number, private readonly max: number) {}

  /** null when a check may go now (and records it), else the milliseconds to wait. */
  claim(id: string, now: number): number | null {
    const previous = this.last.get(id);
    if (previous !== undefined && now - previous < this.gapMs) return this.gapMs - (now - previous);
    this.last.delete(id);
    if (this.last.size >= this.max) {
      for (const [key, at] of this.last) if (now - at >= this.gapMs) this.last.delete(key);
      while (this.last.size >= this.max) {
        const oldest = this.last.keys().next();
        if (oldest.done) break;
        this.last.delete(oldest.value);
      }
    }
    this.last.set(id, now);
    return null;
  }
}

const css = `
*{box-sizing:border-box}body{margin:0;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;background:#f4f5f7;color:#222}
main{max-width:440px;margin:0 auto;padding:16px}
.card{background:#fff;border-radius:12px;padding:20px;margin-bottom:12px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.merchant{color:#666;font-size:14px}.subject{margin:6px 0 12px;font-size:16px;word-break:break-word}
.amount{font-size:34px;font-weight:600}.amount small{font-size:16px;margin-left:4px;color:#666}
.timer{color:#c0392b;font-size:14px;margin-top:8px}
.methods{display:flex;flex-direction:column;gap:8px}
button,.button{display:block;width:100%;padding:12px;font-size:16px;border:1px solid #d0d4da;border-radius:8px;background:#fff;color:#222;text-align:center;text-decoration:none;cursor:pointer}
button.method[aria-pressed=true]{border-color:#1677ff;background:#eef5ff}
.primary{background:#1677ff;border-color:#1677ff;color:#fff}
.en{color:#888;font-size:13px;margin-left:6px}.primary .en{color:#e6f0ff}
#action{text-align:center}#action svg{width:220px;height:220px;max-width:100%}
.hint{color:#666;font-size:13px;margin:8px 0}.error{color:#c0392b;font-size:14px;min-height:1em}
.state{text-align:center}.state h1{font-size:22px;margin:8px 0}.check{margin-top:8px;font-size:14px;background:transparent}
`;

const script = `
(function(){
  var root=document.getElementById('cashier');if(!root)return;
  var base=root.getAttribute('data-base'),token=root.getAttribute('data-token'),view=root.getAttribute('data-view');
  var left=Number(root.getAttribute('data-expires-in'))||0,status=root.getAttribute('data-status');
  var q='?t='+encodeURIComponent(token);
  var timer=document.getElementById('timer'),action=document.getElementById('action'),err=document.getElementById('error');
  function viewOf(s,e){if(s==='succeeded'||s==='partially_refunded'||s==='refunded')return 'success';if(s==='closed'||e<=0)return 'expired';return 'pay';}
  function two(n){return (n<10?'0':'')+n;}
  function tick(){if(!timer)return;if(left<=0){timer.textContent='已超时 / Expired';return;}
    var h=Math.floor(left/3600),m=Math.floor(left%3600/60),s=left%60;
    timer.textContent='剩余时间 / Time left: '+(h>0?h+':'+two(m):m)+':'+two(s);}
  tick();setInterval(function(){if(left>0){left--;tick();}},1000);
  function apply(s,e){status=s;left=e;if(viewOf(s,e)!==view)location.reload();}
  function poll(){fetch(base+'/status'+q,{cache:'no-store'}).then(function(r){return r.ok?r.json():null;})
    .then(function(b){if(b)apply(b.status,b.expires_in);}).catch(function(){});}
  if(view==='pay'||(view==='expired'&&status!=='closed'))setInterval(poll,${poll_ms});
  function show(b){
    if(!action)return;var a=b.action||{};action.textContent='';
    if(a.type==='qr_code'&&b.qr_svg){var d=document.createElement('div');d.innerHTML=b.qr_svg;action.appendChild(d);
      var p=document.createElement('p');p.className='hint';p.textContent='请使用手机扫码支付 / Scan with your phone to pay';action.appendChild(p);
      if(/^https?:/.test(a.qr_code||'')){var o=document.createElement('a');o.id='qr-link';o.className='hint';o.href=a.qr_code;o.textContent='无法扫码？在本设备打开 / Can\u2019t scan? Open on this device';action.appendChild(o);}}
    else if(a.type==='redirect'&&a.pay_url){var l=document.createElement('a');l.className='button primary';l.href=a.pay_url;
      l.textContent='前往支付 / Continue to pay';action.appendChild(l);}
    else if(a.params&&window.WeixinJSBridge){window.WeixinJSBridge.invoke('getBrandWCPayRequest',a.params,function(){poll();});}
    else{var t=document.createElement('p');t.className='hint';t.textContent='请在微信内打开此页面 / Open this page in WeChat';action.appendChild(t);}
  }
  var buttons=document.querySelectorAll('button.method');
  Array.prototype.forEach.call(buttons,function(btn){btn.addEventListener('click',function(){
    Array.prototype.forEach.call(buttons,function(b){b.setAttribute('aria-pressed',b===btn?'true':'false');b.disabled=true;});
    if(err)err.textContent='';if(action)action.textContent='…';
    fetch(base+'/pay'+q,{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({method:btn.getAttribute('data-method')})})
      .then(function(r){return r.json().then(function(b){return {ok:r.ok,b:b};});})
      .then(function(x){if(x.ok)show(x.b);else{if(action)action.textContent='';if(err)err.textContent=(x.b&&x.b.error&&x.b.error.message)||'支付失败 / Payment failed';poll();}})
      .catch(function(){if(action)action.textContent='';if(err)err.textContent='网络错误，请重试 / Network error, try again';})
      .then(function(){Array.prototype.forEach.call(buttons,function(b){b.disabled=false;});});
  });});
  var check=document.getElementById('check');
  if(check)check.addEventListener('click',function(){check.disabled=true;
    fetch(base+'/check'+q,{method:'POST'}).then(function(r){
      if(r.status===429){if(err)err.textContent='请稍后再查询 / Please wait a few seconds before checking again';return null;}
      return r.ok?r.json():null;}).then(function(b){if(b)poll();}).catch(function(){})
      .then(function(){setTimeout(function(){check.disabled=false;},3000);});});
})();
`;

type PageProps = {
  id: string;
  token: string;
  view: View;
  order: OrderState;
  merchant: Merchant;
  expiresInSeconds: number;
  current: { flow: Flow; svg: string | null } | null;
};

function Page(props: PageProps) {
  const { order, merchant, view } = props;
  const ctx = order.context;
  const returnUrl = safeReturnUrl(ctx.details.returnUrl);
  const methods = merchant.methods.filter((m) => m in method_labels);
  const title = view === 'success' ? '支付成功 / Paid' : view === 'expired' ? '订单已关闭 / Expired' : '收银台 / Checkout';
  const action = props.current?.flow.action ?? null;
  return (
    <html lang="zh-CN">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <meta name="robots" content="noindex" />
        <meta name="referrer" content="no-referrer" />
        <title>{title}</title>
        <style dangerouslySetInnerHTML={{ __html: css }} />
      </head>
      <body>
        <main
          id="cashier"
          data-base={`./${props.id}`}
          data-token={props.token}
          data-view={view}
          data-status={order.row.status}
          data-expires-in={String(props.expiresInSeconds)}
        >
          <section class="card">
            <div class="merchant">{merchant.name}</div>
            <div class="subject">{ctx.subject}</div>
            <div class="amount" id="amount">{formatAmount(ctx.amount, ctx.currency)}<small>{ctx.currency}</small></div>
            {view === 'pay' ? <div class="timer" id="timer" /> : null}
          </section>
          {view === 'success' ? (
            <section class="card state" id="success">
              <h1>✅ 支付成功 / Payment succeeded</h1>
              {returnUrl ? <a class="button primary" id="return" href={returnUrl}>返回商户 / Back to merchant</a> : null}
            </section>
          ) : view === 'expired' ? (
            <section class="card state" id="expired">
              <h1>订单已关闭 / This order has expired</h1>
              <p class="hint">如需支付，请返回商户重新下单 / Please return to the merchant and order again</p>
              {returnUrl ? <a class="button" href={returnUrl}>返回商户 / Back to merchant</a> : null}
            </section>
          ) : (
            <>
              <section class="card">
                <div class="methods">
                  {methods.map((m) => (
                    <button
                      type="button"
                      class="method"
                      data-method={m}
                      aria-pressed={props.current?.flow.method === m ? 'true' : 'false'}
                    >
                      {method_labels[m]!.zh}<span class="en">{method_labels[m]!.en}</span>
                    </button>
                  ))}
                </div>
                <div class="error" id="error" role="alert" />
                <div id="action">
                  {action?.type === 'qr_code' && props.current?.svg ? (
                    <>
                      <div dangerouslySetInnerHTML={{ __html: props.current.svg }} />
                      <p class="hint">请使用手机扫码支付 / Scan with your phone to pay</p>
                      {action.qrCode && /^https?:/.test(action.qrCode) ? (
                        <a id="qr-link" class="hint" href={action.qrCode}>无法扫码？在本设备打开 / Can’t scan? Open on this device</a>
                      ) : null}
                    </>
                  ) : action?.type === 'redirect' && action.payUrl ? (
                    <a class="button primary" href={action.payUrl}>前往支付 / Continue to pay</a>
                  ) : null}
                </div>
              </section>
              <section class="card state">
                <button type="button" class="check" id="check">已支付但页面未跳转？立即查询 / Paid but the page did not move? Check now</button>
              </section>
            </>
          )}
        </main>
        <script dangerouslySetInnerHTML={{ __html: script }} />
      </body>
    </html>
  );
}

/**
 * A cashier link works until a day after its order's deadline — long enough for a payer to see
 * the outcome, then it expires like the order: the token is bound to the payment, its life to
 * the payment's deadline, so the link a merchant stored never changes.
 */
export const cashier_link_life_after_expiry_ms = 24 * 3_600_000;

export function cashierRoutes(deps: CashierDeps): Hono {
  const app = new Hono();
  const gate = new CheckGate(deps.checkGapMs ?? default_check_gap_ms, check_entries_max);
  const notFound = (c: Context) => c.text('Not Found', 404);

  /** The order and its merchant when the token is this payment's, else null (→ 404). */
  async function authorized(c: Context): Promise<{ id: string; token: string; order: OrderState; merchant: Merchant } | null> {
    const id = c.req.param('id');
    const token = c.req.query('t');
    if (!id || !token || !cashierTokenValid(deps.secretKey, id, token)) return null;
    const order = await deps.engine.load(id);
    if (!order || deps.clock.now() > order.context.expiresAt + cashier_link_life_after_expiry_ms) return null;
    const merchant = await deps.merchants.find(order.context.merchantId);
    return merchant ? { id, token, order, merchant } : null;
  }

  const noStore = (c: Context) => {
    c.header('cache-control', 'no-store');
    c.header('x-robots-tag', 'noindex');
  };

  app.get('/:id', async (c) => {
    const found = await authorized(c);
    if (!found) return notFound(c);
    const { order } = found;
    const left = expiresIn(order, deps.clock.now());
    const view = viewOf(order.row.status, left);
    let current: PageProps['current'] = null;
    if (view === 'pay' && order.context.closeReason === null) {
      // A refreshed page shows the trade the payer already started instead of opening another.
      const flow = [...order.context.flows].reverse().find((f) => f.status === 'pending' && f.prepared && f.action);
      if (flow) current = { flow, svg: flow.action?.type === 'qr_code' && flow.action.qrCode ? await qrSvg(flow.action.qrCode) : null };
    }
    noStore(c);
    c.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'");
    return c.html(html`<!DOCTYPE html>${<Page {...found} view={view} expiresInSeconds={left} current={current} />}`);
  });

  app.get('/:id/status', async (c) => {
    const found = await authorized(c);
    if (!found) return notFound(c);
    noStore(c);
    return c.json({ status: found.order.row.status, expires_in: expiresIn(found.order, deps.clock.now()) });
  });

  app.post('/:id/pay', async (c) => {
    const found = await authorized(c);
    if (!found) return notFound(c);
    noStore(c);
    let method: unknown;
    try {
      method = ((await c.req.json()) as { method?: unknown } | null)?.method;
    } catch {
      return errorJson(c, 'invalid_request', 'the body must be JSON {"method": "…"}');
    }
    if (typeof method !== 'string' || method === '') return errorJson(c, 'invalid_request', 'method is required');
    if (!(method in method_labels)) return errorJson(c, 'unsupported_method', `method ${method} cannot be paid at the cashier`);
    if (found.merchant.status !== 'enabled') return errorJson(c, 'merchant_disabled', 'this merchant cannot take payments now');
    const paid = await deps.payments.pay(found.merchant, found.id, [{ method, amount: found.order.context.amount }]);
    if (!paid.ok) return errorJson(c, paid.error, paid.message);
    const action = actionJson(paid.flow.action);
    const svg = action.type === 'qr_code' && action.qr_code ? await qrSvg(action.qr_code) : null;
    return c.json({ status: paid.order.row.status, action, ...(svg ? { qr_svg: svg } : {}) });
  });

  app.post('/:id/check', async (c) => {
    const found = await authorized(c);
    if (!found) return notFound(c);
    noStore(c);
    const now = deps.clock.now();
    const wait = gate.claim(found.id, now);
    if (wait !== null) {
      c.header('retry-after', String(Math.max(1, Math.ceil(wait / 1000))));
      return errorJson(c, 'rate_limited', 'checked a moment ago; try again shortly');
    }
    let order = found.order;
    for (const flow of order.context.flows.filter((f) => f.status === 'pending')) {
      const channel = await deps.channels.get(flow.channel);
      if (!channel) continue;
      const answer = await channel.adapter.query(flow.id, now);
      // "Still pending" changes nothing; the order's own query schedule keeps asking.
      if (!answer.ok || !answer.trade || answer.trade.status === 'pending') continue;
      const result = await deps.engine.dispatch(found.id, tradeEvent(answer.trade, deps.clock.now(), 'query'));
      if (result.outcome !== 'not_found') order = result.order;
    }
    return c.json({ status: order.row.status });
  });

  return app;
}
