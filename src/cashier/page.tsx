/** @jsxImportSource hono/jsx */
/**
 * The cashier page (Hono JSX, no external assets): amount, order, the merchant's methods, a QR
 * code rendered here as SVG or a redirect, a countdown, status polling and the "check now"
 * button. The inline script only calls the cashier's own JSON routes.
 */
import QRCode from 'qrcode';
import type { OrderState } from '../../actors/engine.ts';
import { type Flow, type PaymentStatus, isPaidStatus } from '../../machines/payment.model.ts';
import type { Merchant } from '../merchants/directory.ts';
import { methodLabel } from '../channels/plugins.ts';
import { formatAmount } from '../money.ts';
import { httpLinkOf } from '../net/outbound.ts';

/** How often the page asks its status route. */
const poll_ms = 2_000;

/** The methods a payer can pick here, with their labels: those whose plug-in gives them one. */
const offeredMethods = (methods: readonly string[]) =>
  methods.flatMap((name) => {
    const label = methodLabel(name);
    return label ? [{ name, label }] : [];
  });

export type View = 'pay' | 'success' | 'expired';


export function viewOf(status: PaymentStatus, expiresInSeconds: number): View {
  if (isPaidStatus(status)) return 'success';
  if (status === 'closed' || expiresInSeconds <= 0) return 'expired';
  return 'pay';
}

/** Seconds left to pay: none once the order is paid or closed, whose deadline no longer counts. */
export const expiresIn = (order: OrderState, now: number) =>
  isOpenStatus(order.row.status) ? Math.max(0, Math.ceil((order.context.expiresAt - now) / 1000)) : 0;

/** Not final: the order may still be paid (also past its deadline, until it is closed). */
const isOpenStatus = (status: PaymentStatus) => status === 'created' || status === 'paying';

export async function qrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
}

const css = `
*{box-sizing:border-box}body{margin:0;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;background:#f4f5f7;color:#222}
main{max-width:440px;margin:0 auto;padding:16px}
.card{background:#fff;border-radius:12px;padding:20px;margin-bottom:12px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.merchant{color:#666;font-size:14px}.subject{margin:6px 0 12px;font-size:16px;word-break:break-word}
.amount{font-size:34px;font-weight:600}.amount small{font-size:16px;margin-left:4px;color:#666}
.timer{color:#c0392b;font-size:14px;margin-top:8px}
.methods{display:flex;flex-direction:column;gap:8px}
.balance{display:block;margin-bottom:10px}
button,.button{display:block;width:100%;padding:12px;font-size:16px;border:1px solid #d0d4da;border-radius:8px;background:#fff;color:#222;text-align:center;text-decoration:none;cursor:pointer}
button.method[aria-pressed=true]{border-color:#1677ff;background:#eef5ff}
.primary{background:#1677ff;border-color:#1677ff;color:#fff}
.en{color:#888;font-size:13px;margin-left:6px}.primary .en{color:#e6f0ff}
#action{text-align:center}#action svg{width:220px;height:220px;max-width:100%}
.hint{color:#666;font-size:13px;margin:8px 0}.error{color:#c0392b;font-size:14px;min-height:1em}
.state{text-align:center}.state h1{font-size:22px;margin:8px 0}.check{margin-top:8px;font-size:14px;background:transparent}
`;

/** The page's one script; a constant, so that the page's policy allows it by its hash. */
export const page_script = `
(function(){
  var root=document.getElementById('cashier');if(!root)return;
  var base=root.getAttribute('data-base'),token=root.getAttribute('data-token'),view=root.getAttribute('data-view');
  var left=Number(root.getAttribute('data-expires-in'))||0,status=root.getAttribute('data-status');
  var checkGapMs=Number(root.getAttribute('data-check-gap-ms'))||0;
  var q='?t='+encodeURIComponent(token);
  var timer=document.getElementById('timer'),action=document.getElementById('action'),err=document.getElementById('error');
  function viewOf(s,e){if(s==='succeeded'||s==='partially_refunded'||s==='refunded')return 'success';if(s==='closed'||e<=0)return 'expired';return 'pay';}
  function two(n){return (n<10?'0':'')+n;}
  function tick(){if(!timer)return;if(left<=0){timer.textContent='已超时 / Expired';return;}
    var h=Math.floor(left/3600),m=Math.floor(left%3600/60),s=left%60;
    timer.textContent='剩余时间 / Time left: '+(h>0?h+':'+two(m):m)+':'+two(s);}
  tick();setInterval(function(){if(left>0){left--;tick();}},1000);
  function apply(s,e){status=s;left=e;if(viewOf(s,e)!==view)location.reload();}
  function offer(shown){Array.prototype.forEach.call(document.querySelectorAll('button.method'),function(x){x.hidden=shown.indexOf(x.getAttribute('data-method'))<0;});}
  function poll(){fetch(base+'/status'+q,{cache:'no-store'}).then(function(r){return r.ok?r.json():null;})
    .then(function(b){if(b){if(b.methods)offer(b.methods);apply(b.status,b.expires_in);}}).catch(function(){});}
  if(view==='pay'||(view==='expired'&&status!=='closed'))setInterval(poll,${poll_ms});
  function show(b){
    if(!action)return;var a=b.action||{};action.textContent='';
    if(a.type==='qr_code'&&b.qr_svg){var d=document.createElement('div');d.innerHTML=b.qr_svg;action.appendChild(d);
      var p=document.createElement('p');p.className='hint';p.textContent='请使用手机扫码支付 / Scan with your phone to pay';action.appendChild(p);
      if(/^https?:/.test(a.qr_code||'')){var o=document.createElement('a');o.id='qr-link';o.className='hint';o.href=a.qr_code;o.target='_blank';o.textContent='无法扫码？在本设备打开 / Can\u2019t scan? Open on this device';action.appendChild(o);}}
    else if(a.type==='redirect'&&a.pay_url){var l=document.createElement('a');l.className='button primary';l.href=a.pay_url;
      l.textContent='前往支付 / Continue to pay';action.appendChild(l);}
    else if(a.params&&window.WeixinJSBridge){window.WeixinJSBridge.invoke('getBrandWCPayRequest',a.params,function(){poll();});}
    else{var t=document.createElement('p');t.className='hint';t.textContent='请在微信内打开此页面 / Open this page in WeChat';action.appendChild(t);}
  }
  var buttons=document.querySelectorAll('button.method');var useBalance=document.getElementById('use-balance');
  Array.prototype.forEach.call(buttons,function(btn){btn.addEventListener('click',function(){
    Array.prototype.forEach.call(buttons,function(b){b.setAttribute('aria-pressed',b===btn?'true':'false');b.disabled=true;});
    if(err)err.textContent='';if(action)action.textContent='…';
    fetch(base+'/pay'+q,{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({method:btn.getAttribute('data-method'),use_balance:!!(useBalance&&useBalance.checked)})})
      .then(function(r){return r.json().then(function(b){return {ok:r.ok,status:r.status,b:b};});})
      .then(function(x){if(x.ok)show(x.b);else{if(action)action.textContent='';if(err)err.textContent=x.status===429?'请稍后再选择 / Please wait a few seconds before choosing again':(x.b&&x.b.error&&x.b.error.message)||'支付失败 / Payment failed';poll();}})
      .catch(function(){if(action)action.textContent='';if(err)err.textContent='网络错误，请重试 / Network error, try again';})
      .then(function(){Array.prototype.forEach.call(buttons,function(b){b.disabled=false;});});
  });});
  var check=document.getElementById('check');
  if(check)check.addEventListener('click',function(){check.disabled=true;
    fetch(base+'/check'+q,{method:'POST'}).then(function(r){
      if(r.status===429){if(err)err.textContent='请稍后再查询 / Please wait a few seconds before checking again';return null;}
      return r.ok?r.json():null;}).then(function(b){if(b)poll();}).catch(function(){})
      .then(function(){setTimeout(function(){check.disabled=false;},checkGapMs);});});
})();
`;

export type PageProps = {
  id: string;
  token: string;
  view: View;
  order: OrderState;
  merchant: Merchant;
  expiresInSeconds: number;
  current: { flow: Flow; svg: string | null } | null;
  /** The methods offered now (a method whose every channel is unwell is hidden until it recovers). */
  shown: readonly string[];
  /** The payer's available balance in minor units, where the balance is offered; else null. */
  balance: number | null;
  /** The server's gap between two checks of one payment: "check now" stays disabled this long after a click. */
  checkGapMs: number;
};

/** The head every cashier page shares: phone-sized, never indexed, no referrer, styles inline. */
function Head(props: { title: string }) {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width,initial-scale=1" />
      <meta name="robots" content="noindex" />
      <meta name="referrer" content="no-referrer" />
      <title>{props.title}</title>
      <style dangerouslySetInnerHTML={{ __html: css }} />
    </head>
  );
}

/** What a wrong, expired or unknown link shows: the same page for all, so it tells nothing about any payment. */
export function NotFoundPage() {
  return (
    <html lang="zh-CN">
      <Head title="链接无效 / Link not valid" />
      <body>
        <main>
          <section class="card state" id="not-found">
            <h1>链接无效或已过期 / This payment link is not valid or has expired</h1>
            <p class="hint">请返回商户重新打开支付链接 / Please go back to the merchant and open the payment link again</p>
          </section>
        </main>
      </body>
    </html>
  );
}

/** Asks the server to ask the channel (the script binds it by id). */
function CheckNow() {
  return <button type="button" class="check" id="check">已支付但页面未跳转？立即查询 / Paid but the page did not move? Check now</button>;
}

export function Page(props: PageProps) {
  const { order, merchant, view } = props;
  const ctx = order.context;
  const returnUrl = httpLinkOf(ctx.details.returnUrl);
  const methods = offeredMethods(merchant.methods);
  const title = view === 'success' ? '支付成功 / Paid' : view === 'expired' ? '订单已关闭 / Expired' : '收银台 / Checkout';
  const action = props.current?.flow.action ?? null;
  return (
    <html lang="zh-CN">
      <Head title={title} />
      <body>
        <main
          id="cashier"
          data-base={`./${props.id}`}
          data-token={props.token}
          data-view={view}
          data-status={order.row.status}
          data-expires-in={String(props.expiresInSeconds)}
          data-check-gap-ms={String(props.checkGapMs)}
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
              {/* Past its deadline but not closed yet: a payment made at the last second may still be found. */}
              {isOpenStatus(order.row.status) ? <CheckNow /> : null}
            </section>
          ) : (
            <>
              <section class="card">
                {props.balance !== null ? (
                  <label class="balance" id="balance">
                    <input type="checkbox" id="use-balance" checked={props.balance > 0} disabled={props.balance === 0} />
                    使用余额 / Use balance <strong>{formatAmount(props.balance, ctx.currency)}</strong>
                    <span class="en">{props.balance >= ctx.amount ? '' : '不足部分用下方方式支付 / the rest with a method below'}</span>
                  </label>
                ) : null}
                <div class="methods">
                  {props.balance !== null && props.balance >= ctx.amount ? (
                    <button type="button" class="method" data-method="balance" aria-pressed="false">余额支付<span class="en">Pay with balance</span></button>
                  ) : null}
                  {methods.map((m) => (
                    <button
                      type="button"
                      class="method"
                      data-method={m.name}
                      hidden={!props.shown.includes(m.name)}
                      aria-pressed={props.current?.flow.method === m.name ? 'true' : 'false'}
                    >
                      {m.label.zh}<span class="en">{m.label.en}</span>
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
                        <a id="qr-link" class="hint" href={action.qrCode} target="_blank">无法扫码？在本设备打开 / Can’t scan? Open on this device</a>
                      ) : null}
                    </>
                  ) : action?.type === 'redirect' && action.payUrl ? (
                    <a class="button primary" href={action.payUrl}>前往支付 / Continue to pay</a>
                  ) : null}
                </div>
              </section>
              <section class="card state">
                <CheckNow />
              </section>
            </>
          )}
        </main>
        <script dangerouslySetInnerHTML={{ __html: page_script }} />
      </body>
    </html>
  );
}
