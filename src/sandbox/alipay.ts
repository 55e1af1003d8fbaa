// Alipay open platform gateway (RSA2), from the alipay.trade.* API documentation.
// Requests: params sorted by key, `k=v` joined with `&`, empty values and `sign` excluded,
// SHA256withRSA with the app key. Responses: `{"<method>_response":{...},"sign":"..."}` where
// sign covers the exact JSON text of the response member, so the text is assembled by hand.
import { Hono, type Context } from 'hono';
import { generateRsaKeyPair, randomDigits, rsaSign, rsaVerify } from './crypto.ts';
import { type SandboxContext, DEFAULT_EXPIRY_MS, isExpired, refundedFen } from './context.ts';
import { type AlipayApp, type Trade, newNotifyRecord } from './state.ts';
import { alipayTime, billDay, escapeHtml, fenToYuan, parseAlipayTime, yuanToFen } from './util.ts';

type Params = Record<string, string>;
type Biz = Record<string, unknown>;
type Answer = Record<string, unknown>;

/** The string both sides sign: sorted `k=v&…`, skipping empty values and the excluded keys. */
export function alipaySignContent(params: Params, exclude: string[]): string {
  return Object.keys(params)
    .filter((k) => !exclude.includes(k) && params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

const ok = (fields: Answer): Answer => ({ code: '10000', msg: 'Success', ...fields });
const bizFail = (sub_code: string, sub_msg: string): Answer => ({ code: '40004', msg: 'Business Failed', sub_code, sub_msg });
const invalid = (sub_code: string, sub_msg: string): Answer => ({ code: '40002', msg: 'Invalid Arguments', sub_code, sub_msg });
const missing = (sub_code: string, sub_msg: string): Answer => ({ code: '40001', msg: 'Missing Required Arguments', sub_code, sub_msg });

/** `{"x_response":<exact text>,"sign":"<RSA2 over that text>"}`; unsigned when no app is known. */
function responseText(responseKey: string, answer: Answer, app: AlipayApp | undefined): string {
  const inner = JSON.stringify(answer);
  if (!app) return `{"${responseKey}":${inner}}`;
  return `{"${responseKey}":${inner},"sign":"${rsaSign(inner, app.alipayPrivateKey)}"}`;
}

/** What Alipay reports for a trade; a fully refunded trade is TRADE_CLOSED, as documented. */
export function alipayStatus(trade: Trade, now: number): string {
  if (trade.state === 'SUCCESS') return refundedFen(trade) >= trade.totalFen ? 'TRADE_CLOSED' : 'TRADE_SUCCESS';
  if (trade.state === 'CLOSED' || isExpired(trade, now)) return 'TRADE_CLOSED';
  return 'WAIT_BUYER_PAY';
}

function newTradeNo(now: number): string {
  return `${alipayTime(now).slice(0, 10).replaceAll('-', '')}22001${randomDigits(15)}`; // 28 digits like real ones
}

export function provisionAlipayApp(ctx: SandboxContext): Record<string, string> {
  const appKeys = generateRsaKeyPair();
  const alipayKeys = generateRsaKeyPair();
  const app: AlipayApp = {
    appId: `90${randomDigits(14)}`,
    sellerId: `2088${randomDigits(12)}`,
    appPublicKey: appKeys.publicKey,
    appPrivateKey: appKeys.privateKey,
    alipayPrivateKey: alipayKeys.privateKey,
    alipayPublicKey: alipayKeys.publicKey,
  };
  ctx.store.alipayApps.set(app.appId, app);
  ctx.store.changed();
  return {
    app_id: app.appId,
    private_key: app.appPrivateKey,
    alipay_public_key: app.alipayPublicKey,
    gateway_url: `${ctx.baseUrl}/alipay/gateway.do`,
    seller_id: app.sellerId,
  };
}

/** Sends trade_status_sync for the trade's current status to its notify_url, if any. */
export function sendAlipayNotify(ctx: SandboxContext, trade: Trade): void {
  const app = ctx.store.alipayApps.get(trade.account);
  if (!trade.notifyUrl || !app || ctx.statements.hides(trade)) return;
  const notifyId = `${randomDigits(20)}`;
  ctx.notifier.enqueue({
    provider: 'alipay',
    account: trade.account,
    url: trade.notifyUrl,
    contentType: 'application/x-www-form-urlencoded; charset=utf-8',
    trade,
    onChange: () => ctx.store.changed(),
    // A merchant acknowledges with the plain text "success"; anything else is retried.
    accepted: (_status, text) => text.trim() === 'success',
    build: () => {
      const now = ctx.now();
      const total = fenToYuan(trade.totalFen);
      const status = alipayStatus(trade, now);
      const params: Params = {
        notify_time: alipayTime(now),
        notify_type: 'trade_status_sync',
        notify_id: notifyId,
        app_id: app.appId,
        charset: 'utf-8',
        version: '1.0',
        sign_type: 'RSA2',
        trade_no: trade.tradeNo,
        out_trade_no: trade.outTradeNo,
        trade_status: status,
        total_amount: total,
        seller_id: app.sellerId,
        subject: trade.subject,
        gmt_create: alipayTime(trade.createdAt),
      };
      if (trade.paidAt !== undefined) {
        Object.assign(params, {
          receipt_amount: total,
          buyer_pay_amount: total,
          invoice_amount: total,
          gmt_payment: alipayTime(trade.paidAt),
          buyer_id: '2088102000000001',
        });
      }
      if (trade.closedAt !== undefined) params.gmt_close = alipayTime(trade.closedAt);
      // Notifies are signed without sign and sign_type (unlike requests).
      params.sign = rsaSign(alipaySignContent(params, ['sign', 'sign_type']), app.alipayPrivateKey);
      return { body: new URLSearchParams(params).toString(), headers: {} };
    },
  });
}

async function readParams(c: Context): Promise<Params> {
  const params: Params = {};
  for (const [k, v] of Object.entries(c.req.query())) params[k] = v;
  if (c.req.method === 'POST') {
    const ct = c.req.header('content-type') ?? '';
    if (ct.includes('application/x-www-form-urlencoded') || ct.includes('multipart/form-data')) {
      const body = await c.req.parseBody();
      for (const [k, v] of Object.entries(body)) if (typeof v === 'string') params[k] = v;
    }
  }
  return params;
}

function str(biz: Biz, key: string): string | undefined {
  const v = biz[key];
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

type Handled = { answer: Answer } | { redirect: string } | { page: string; status: number };

function findTrade(ctx: SandboxContext, app: AlipayApp, biz: Biz): Trade | undefined {
  const out = str(biz, 'out_trade_no');
  if (out) return ctx.store.getTrade('alipay', app.appId, out);
  const no = str(biz, 'trade_no');
  return no ? ctx.store.findTradeByTradeNo('alipay', app.appId, no) : undefined;
}

function createTrade(ctx: SandboxContext, app: AlipayApp, params: Params, biz: Biz, tradeType: string): { trade: Trade } | { answer: Answer } {
  const outTradeNo = str(biz, 'out_trade_no');
  const subject = str(biz, 'subject');
  const totalText = str(biz, 'total_amount');
  if (!outTradeNo || !subject || !totalText) return { answer: missing('isv.missing-biz-param', 'out_trade_no, total_amount and subject are required') };
  if (outTradeNo.length > 64) return { answer: invalid('isv.invalid-parameter', 'out_trade_no too long') };
  const totalFen = yuanToFen(totalText);
  if (totalFen === undefined || totalFen > 10_000_000_000) return { answer: invalid('isv.invalid-parameter', 'total_amount 参数非法') };
  const now = ctx.now();
  let expireAt = now + DEFAULT_EXPIRY_MS;
  const te = str(biz, 'time_expire');
  if (te) {
    const parsed = parseAlipayTime(te);
    if (parsed === undefined) return { answer: invalid('isv.invalid-parameter', 'time_expire 格式错误') };
    expireAt = parsed;
  }
  const existing = ctx.store.getTrade('alipay', app.appId, outTradeNo);
  if (existing) {
    if (existing.state === 'SUCCESS') return { answer: bizFail('ACQ.TRADE_HAS_SUCCESS', '交易已被支付') };
    if (alipayStatus(existing, now) === 'TRADE_CLOSED') return { answer: bizFail('ACQ.TRADE_HAS_CLOSE', '交易已经关闭') };
    // Same out_trade_no with other content: Alipay's "交易信息被篡改".
    if (existing.totalFen !== totalFen) return { answer: bizFail('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改') };
    return { trade: existing };
  }
  const trade: Trade = {
    provider: 'alipay',
    account: app.appId,
    outTradeNo,
    tradeNo: newTradeNo(now),
    totalFen,
    subject,
    tradeType,
    state: 'WAIT',
    createdAt: now,
    expireAt,
    refunds: [],
    notify: newNotifyRecord(),
    ...(params.notify_url ? { notifyUrl: params.notify_url } : {}),
    ...(params.return_url ? { returnUrl: params.return_url } : {}),
  };
  ctx.store.putTrade(trade);
  return { trade };
}

function handle(ctx: SandboxContext, app: AlipayApp, method: string, params: Params, biz: Biz): Handled {
  const now = ctx.now();
  switch (method) {
    case 'alipay.trade.precreate': {
      const r = createTrade(ctx, app, params, biz, 'precreate');
      if ('answer' in r) return r;
      return { answer: ok({ out_trade_no: r.trade.outTradeNo, qr_code: payUrl(ctx, r.trade) }) };
    }
    case 'alipay.trade.page.pay': {
      const r = createTrade(ctx, app, params, biz, 'page');
      if ('answer' in r) return { page: errorPage(r.answer), status: 400 };
      return { redirect: payUrl(ctx, r.trade) };
    }
    case 'alipay.trade.query': {
      const t = findTrade(ctx, app, biz);
      if (!t) return { answer: bizFail('ACQ.TRADE_NOT_EXIST', '交易不存在') };
      if (ctx.statements.hides(t)) return { answer: unavailable };
      const total = fenToYuan(t.totalFen);
      const paid = t.paidAt !== undefined;
      return {
        answer: ok({
          trade_no: t.tradeNo,
          out_trade_no: t.outTradeNo,
          buyer_logon_id: paid ? 'sandbox***@alipay.com' : undefined,
          trade_status: alipayStatus(t, now),
          total_amount: total,
          buyer_pay_amount: paid ? total : '0.00',
          receipt_amount: paid ? total : '0.00',
          send_pay_date: paid ? alipayTime(t.paidAt as number) : undefined,
        }),
      };
    }
    case 'alipay.trade.close': {
      const t = findTrade(ctx, app, biz);
      if (!t) return { answer: bizFail('ACQ.TRADE_NOT_EXIST', '交易不存在') };
      if (ctx.statements.hides(t)) return { answer: unavailable };
      if (t.state === 'SUCCESS') return { answer: bizFail('ACQ.TRADE_STATUS_ERROR', '交易状态不合法') };
      if (t.state !== 'CLOSED') {
        t.state = 'CLOSED';
        t.closedAt = now;
        ctx.store.changed();
      }
      return { answer: ok({ trade_no: t.tradeNo, out_trade_no: t.outTradeNo }) };
    }
    case 'alipay.trade.refund': {
      const t = findTrade(ctx, app, biz);
      if (!t) return { answer: bizFail('ACQ.TRADE_NOT_EXIST', '交易不存在') };
      const amount = yuanToFen(str(biz, 'refund_amount'));
      if (amount === undefined) return { answer: invalid('isv.invalid-parameter', 'refund_amount 参数非法') };
      // Without out_request_no Alipay treats the refund as a full refund of the trade itself.
      const requestNo = str(biz, 'out_request_no') ?? t.outTradeNo;
      const answer = (fundChange: 'Y' | 'N') =>
        ok({
          trade_no: t.tradeNo,
          out_trade_no: t.outTradeNo,
          buyer_logon_id: 'sandbox***@alipay.com',
          fund_change: fundChange,
          refund_fee: fenToYuan(refundedFen(t)),
          gmt_refund_pay: alipayTime(t.refunds.find((r) => r.outRefundNo === requestNo)?.createdAt ?? now),
        });
      if (t.refunds.some((r) => r.outRefundNo === requestNo)) return { answer: answer('N') }; // idempotent
      if (t.state !== 'SUCCESS') return { answer: bizFail('ACQ.TRADE_STATUS_ERROR', '交易状态不合法') };
      if (refundedFen(t) + amount > t.totalFen) return { answer: bizFail('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限') };
      const reason = str(biz, 'refund_reason');
      t.refunds.push({ outRefundNo: requestNo, refundId: `${t.tradeNo}-${t.refunds.length + 1}`, amountFen: amount, createdAt: now, ...(reason ? { reason } : {}) });
      ctx.store.changed();
      return { answer: answer('Y') };
    }
    case 'alipay.trade.fastpay.refund.query': {
      const t = findTrade(ctx, app, biz);
      if (!t) return { answer: bizFail('ACQ.TRADE_NOT_EXIST', '交易不存在') };
      const requestNo = str(biz, 'out_request_no') ?? t.outTradeNo;
      const r = t.refunds.find((x) => x.outRefundNo === requestNo);
      // An unknown refund is a *successful* call with no refund_status: documented behaviour.
      if (!r) return { answer: ok({ trade_no: t.tradeNo, out_trade_no: t.outTradeNo, out_request_no: requestNo }) };
      return {
        answer: ok({
          trade_no: t.tradeNo,
          out_trade_no: t.outTradeNo,
          out_request_no: r.outRefundNo,
          total_amount: fenToYuan(t.totalFen),
          refund_amount: fenToYuan(r.amountFen),
          refund_status: 'REFUND_SUCCESS',
          gmt_refund_pay: alipayTime(r.createdAt),
          refund_reason: r.reason,
        }),
      };
    }
    case 'alipay.data.dataservice.bill.downloadurl.query': {
      const billType = str(biz, 'bill_type');
      const billDate = str(biz, 'bill_date');
      if (billType !== 'trade') return { answer: invalid('isv.invalid-parameter', 'bill_type 仅支持 trade') };
      if (!billDate || !/^\d{4}-\d{2}-\d{2}$/.test(billDate)) return { answer: invalid('isv.invalid-parameter', 'bill_date 格式错误') };
      if (billDate >= billDay(now)) return { answer: bizFail('isp.bill_not_exist', '账单不存在') };
      return { answer: ok({ bill_download_url: `${ctx.baseUrl}/bills/alipay/${app.appId}/${billDate}.zip` }) };
    }
    default:
      return { answer: invalid('isv.invalid-method', `不存在的方法名: ${method}`) };
  }
}

function payUrl(ctx: SandboxContext, t: Trade): string {
  return `${ctx.baseUrl}/pay/alipay/${encodeURIComponent(t.account)}/${encodeURIComponent(t.outTradeNo)}`;
}

/** Alipay reports its own outages in-band: HTTP 200, code 20000. */
const unavailable: Answer = { code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error', sub_msg: '系统繁忙' };

function errorPage(answer: Answer): string {
  return `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>支付宝 - 错误</title><h1>错误代码 ${escapeHtml(String(answer.sub_code ?? answer.code))}</h1><p>${escapeHtml(String(answer.sub_msg ?? answer.msg))}</p>`;
}

export function alipayRoutes(ctx: SandboxContext): Hono {
  const app = new Hono();

  app.post('/apps', (c) => c.json(provisionAlipayApp(ctx), 201));

  app.on(['GET', 'POST'], '/gateway.do', async (c) => {
    const params = await readParams(c);
    const method = params.method ?? '';
    const responseKey = method ? `${method.replaceAll('.', '_')}_response` : 'error_response';
    const isPage = method === 'alipay.trade.page.pay';
    const reply = (answer: Answer, signer: AlipayApp | undefined) =>
      isPage && answer.code !== '10000'
        ? c.html(errorPage(answer), 400)
        : c.body(responseText(responseKey, answer, signer), 200, { 'content-type': 'application/json;charset=utf-8' });

    if (!method) return reply(missing('isv.missing-method', '缺少方法名参数'), undefined);
    if (!params.app_id) return reply(missing('isv.missing-app-id', '缺少AppID参数'), undefined);
    const appRec = ctx.store.alipayApps.get(params.app_id);
    if (!appRec) return reply(invalid('isv.invalid-app-id', '无效的AppID参数'), undefined);
    if (!params.sign) return reply(missing('isv.missing-signature', '缺少签名参数'), appRec);
    if ((params.sign_type ?? 'RSA2') !== 'RSA2') return reply(invalid('isv.invalid-signature-type', '无效的签名类型'), appRec);
    const content = alipaySignContent(params, ['sign']);
    if (!rsaVerify(content, params.sign, appRec.appPublicKey)) {
      return reply(invalid('isv.invalid-signature', `验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：${content}`), appRec);
    }

    const f = ctx.faults.get('alipay', appRec.appId);
    if (ctx.faults.chance('alipay', appRec.appId, f.api_timeout_rate)) await ctx.timers.sleep(f.api_timeout_hold_ms);
    if (ctx.faults.chance('alipay', appRec.appId, f.api_error_rate)) {
      return reply(unavailable, appRec);
    }

    let biz: Biz = {};
    if (params.biz_content) {
      try {
        const parsed: unknown = JSON.parse(params.biz_content);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        biz = parsed as Biz;
      } catch {
        return reply(invalid('isv.invalid-parameter', 'biz_content 不是合法的JSON'), appRec);
      }
    }
    const result = handle(ctx, appRec, method, params, biz);
    if ('redirect' in result) return c.redirect(result.redirect, 302);
    if ('page' in result) return c.html(result.page, 400);
    return reply(result.answer, appRec);
  });

  return app;
}
