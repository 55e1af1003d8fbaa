// WeChat Pay API v3, from its documentation. Requests carry
// `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,timestamp=…,serial_no=…`
// signed over `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`; every answer carries Wechatpay-* headers
// signed with the platform key over `TIMESTAMP\nNONCE\nBODY\n`.
import { Hono, type Context } from 'hono';
import { aesGcmEncrypt, generateRsaKeyPair, randomAlnum, randomDigits, rsaSign, rsaVerify, sha1Hex } from './crypto.ts';
import { type SandboxContext, DEFAULT_EXPIRY_MS, isExpired, refundedFen } from './context.ts';
import { type Refund, type Trade, type WechatMerchant, newNotifyRecord } from './state.ts';
import { wechatStatementCsv } from './statements.ts';
import { billDay, parseRfc3339, rfc3339 } from './util.ts';

const TIMESTAMP_SKEW_S = 300;

type Env = { Variables: { merchant: WechatMerchant } };

export function provisionWechatMerchant(ctx: SandboxContext): Record<string, string> {
  const merchantKeys = generateRsaKeyPair();
  const platformKeys = generateRsaKeyPair();
  const m: WechatMerchant = {
    mchid: `19${randomDigits(8)}`,
    appid: `wx${randomAlnum(16).toLowerCase()}`,
    serialNo: randomAlnum(40).toUpperCase().replace(/[^0-9A-F]/g, 'A'),
    merchantPublicKey: merchantKeys.publicKey,
    merchantPrivateKey: merchantKeys.privateKey,
    apiv3Key: randomAlnum(32),
    platformSerial: randomAlnum(40).toUpperCase().replace(/[^0-9A-F]/g, 'B'),
    platformPrivateKey: platformKeys.privateKey,
    platformPublicKey: platformKeys.publicKey,
  };
  ctx.store.wechatMerchants.set(m.mchid, m);
  ctx.store.changed();
  return {
    mchid: m.mchid,
    appid: m.appid,
    serial_no: m.serialNo,
    private_key: m.merchantPrivateKey,
    apiv3_key: m.apiv3Key,
    platform_serial: m.platformSerial,
    platform_public_key: m.platformPublicKey,
    base_url: `${ctx.baseUrl}/wechatpay`,
  };
}

/** The Wechatpay-* headers for a body, signed with the platform key. */
function platformHeaders(m: WechatMerchant | undefined, body: string, now: number): Record<string, string> {
  if (!m) return {};
  const ts = String(Math.floor(now / 1000));
  const nonce = randomAlnum(32);
  return {
    'Wechatpay-Timestamp': ts,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Serial': m.platformSerial,
    'Wechatpay-Signature': rsaSign(`${ts}\n${nonce}\n${body}\n`, m.platformPrivateKey),
  };
}

function send(ctx: SandboxContext, _c: Context, m: WechatMerchant | undefined, status: number, payload: unknown): Response {
  const body = payload === null ? '' : JSON.stringify(payload);
  const headers: Record<string, string> = { ...platformHeaders(m, body, ctx.now()), 'Request-ID': randomAlnum(24) };
  if (body) headers['Content-Type'] = 'application/json; charset=utf-8';
  return new Response(status === 204 ? null : body, { status, headers });
}

const err = (code: string, message: string) => ({ code, message });

/** Parses `WECHATPAY2-SHA256-RSA2048 k="v",…` (any order). */
export function parseAuthorization(header: string): Record<string, string> | undefined {
  const m = /^WECHATPAY2-SHA256-RSA2048\s+(.*)$/.exec(header.trim());
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const part of (m[1] as string).matchAll(/(\w+)="([^"]*)"/g)) out[part[1] as string] = part[2] as string;
  return out;
}

/** The URL as the client signed it: path+query relative to base_url, i.e. from `/v3/`. */
function signedUrl(rawUrl: string): string {
  const afterOrigin = rawUrl.replace(/^[a-z]+:\/\/[^/]+/i, '');
  const i = afterOrigin.indexOf('/v3/');
  return i >= 0 ? afterOrigin.slice(i) : afterOrigin;
}

export function wechatState(trade: Trade, now: number): string {
  if (trade.state === 'SUCCESS') return trade.refunds.length > 0 ? 'REFUND' : 'SUCCESS';
  if (trade.state === 'CLOSED' || isExpired(trade, now)) return 'CLOSED';
  if (trade.state === 'PAYERROR') return 'PAYERROR';
  return 'NOTPAY';
}

const STATE_DESC: Record<string, string> = {
  SUCCESS: '支付成功',
  REFUND: '转入退款',
  NOTPAY: '未支付',
  CLOSED: '已关闭',
  PAYERROR: '支付失败，请重新下单支付',
};

/** The transaction object, as the query returns it and the notify encrypts it. */
export function transactionJson(ctx: SandboxContext, t: Trade, m: WechatMerchant): Record<string, unknown> {
  const state = wechatState(t, ctx.now());
  const total = t.totalFen;
  const paid = t.paidAt !== undefined;
  return {
    appid: t.appid ?? m.appid,
    mchid: m.mchid,
    out_trade_no: t.outTradeNo,
    // Like the real API, transaction_id / success_time / payer_total appear once paid.
    ...(paid ? { transaction_id: t.tradeNo } : {}),
    trade_type: t.tradeType,
    trade_state: state,
    trade_state_desc: STATE_DESC[state],
    ...(paid ? { bank_type: 'OTHERS', success_time: rfc3339(t.paidAt as number) } : {}),
    attach: '',
    payer: { openid: t.openid ?? 'sandbox-openid' },
    amount: paid ? { total, payer_total: total, currency: 'CNY', payer_currency: 'CNY' } : { total, currency: 'CNY' },
  };
}

function refundJson(t: Trade, r: Refund): Record<string, unknown> {
  return {
    refund_id: r.refundId,
    out_refund_no: r.outRefundNo,
    transaction_id: t.tradeNo,
    out_trade_no: t.outTradeNo,
    channel: 'ORIGINAL',
    user_received_account: '支付用户零钱',
    success_time: rfc3339(r.createdAt),
    create_time: rfc3339(r.createdAt),
    status: 'SUCCESS', // the sandbox settles refunds at once
    funds_account: 'AVAILABLE',
    amount: {
      total: t.totalFen,
      refund: r.amountFen,
      payer_total: t.totalFen,
      payer_refund: r.amountFen,
      settlement_total: t.totalFen,
      settlement_refund: r.amountFen,
      discount_refund: 0,
      currency: 'CNY',
    },
  };
}

/** Encrypted-resource notify (TRANSACTION.SUCCESS / REFUND.SUCCESS). Delivered on 200/204. */
function sendResourceNotify(ctx: SandboxContext, t: Trade, m: WechatMerchant, url: string, eventType: string, summary: string, originalType: string, resource: () => Record<string, unknown>): void {
  const id = crypto.randomUUID();
  ctx.notifier.enqueue({
    provider: 'wechatpay',
    account: m.mchid,
    url,
    contentType: 'application/json',
    trade: t,
    onChange: () => ctx.store.changed(),
    accepted: (status) => status === 200 || status === 204,
    build: () => {
      const nonce = randomAlnum(12);
      const aad = originalType;
      const body = JSON.stringify({
        id,
        create_time: rfc3339(ctx.now()),
        resource_type: 'encrypt-resource',
        event_type: eventType,
        summary,
        resource: {
          original_type: originalType,
          algorithm: 'AEAD_AES_256_GCM',
          ciphertext: aesGcmEncrypt(JSON.stringify(resource()), m.apiv3Key, nonce, aad),
          associated_data: aad,
          nonce,
        },
      });
      return { body, headers: platformHeaders(m, body, ctx.now()) };
    },
  });
}

export function sendWechatNotify(ctx: SandboxContext, t: Trade): void {
  const m = ctx.store.wechatMerchants.get(t.account);
  if (!m || !t.notifyUrl || t.state !== 'SUCCESS' || ctx.statements.hides(t)) return; // WeChat notifies success only
  sendResourceNotify(ctx, t, m, t.notifyUrl, 'TRANSACTION.SUCCESS', '支付成功', 'transaction', () => transactionJson(ctx, t, m));
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
const isFen = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

type OrderInput = { appid: string; description: string; out_trade_no: string; notify_url: string; total: number; expireAt?: number; openid?: string };

function parseOrder(body: unknown, mchid: string, jsapi: boolean): OrderInput | string {
  if (!isObj(body)) return '请求体不是合法的JSON';
  if (!isStr(body.appid, 32)) return '缺少参数 appid';
  if (body.mchid !== mchid) return 'mchid 与请求签名的商户号不一致';
  if (!isStr(body.description, 127)) return '缺少参数 description';
  if (!isStr(body.out_trade_no, 32) || body.out_trade_no.length < 6 || !/^[0-9A-Za-z_\-|*]+$/.test(body.out_trade_no)) return 'out_trade_no 格式错误';
  if (!isStr(body.notify_url, 256) || !/^https?:\/\//.test(body.notify_url)) return 'notify_url 格式错误';
  if (!isObj(body.amount) || !isFen(body.amount.total)) return 'amount.total 必须为正整数（分）';
  if (body.amount.currency !== undefined && body.amount.currency !== 'CNY') return 'amount.currency 仅支持 CNY';
  let expireAt: number | undefined;
  if (body.time_expire !== undefined) {
    expireAt = typeof body.time_expire === 'string' ? parseRfc3339(body.time_expire) : undefined;
    if (expireAt === undefined) return 'time_expire 格式错误';
  }
  let openid: string | undefined;
  if (jsapi) {
    if (!isObj(body.payer) || !isStr(body.payer.openid, 128)) return '缺少参数 payer.openid';
    openid = body.payer.openid;
  }
  return { appid: body.appid, description: body.description, out_trade_no: body.out_trade_no, notify_url: body.notify_url, total: body.amount.total, ...(expireAt !== undefined ? { expireAt } : {}), ...(openid ? { openid } : {}) };
}

export function wechatRoutes(ctx: SandboxContext): Hono<Env> {
  const app = new Hono<Env>();

  app.post('/merchants', (c) => c.json(provisionWechatMerchant(ctx), 201));

  // Signature check, then injected faults, for every API call.
  app.use('/v3/*', async (c, next) => {
    const auth = parseAuthorization(c.req.header('authorization') ?? '');
    if (!auth) return send(ctx, c, undefined, 401, err('SIGN_ERROR', 'Authorization 头缺失或认证类型不是 WECHATPAY2-SHA256-RSA2048'));
    const m = auth.mchid ? ctx.store.wechatMerchants.get(auth.mchid) : undefined;
    if (!m) return send(ctx, c, undefined, 401, err('SIGN_ERROR', '商户号不存在'));
    if (auth.serial_no !== m.serialNo) return send(ctx, c, m, 401, err('SIGN_ERROR', '证书序列号错误'));
    const ts = Number(auth.timestamp);
    if (!auth.nonce_str || !auth.signature || !Number.isInteger(ts) || Math.abs(ctx.now() / 1000 - ts) > TIMESTAMP_SKEW_S) {
      return send(ctx, c, m, 401, err('SIGN_ERROR', '签名参数缺失或时间戳过期'));
    }
    const body = c.req.method === 'GET' ? '' : await c.req.text();
    const message = `${c.req.method}\n${signedUrl(c.req.url)}\n${auth.timestamp}\n${auth.nonce_str}\n${body}\n`;
    if (!rsaVerify(message, auth.signature, m.merchantPublicKey)) return send(ctx, c, m, 401, err('SIGN_ERROR', '签名错误'));
    const f = ctx.faults.get('wechatpay', m.mchid);
    if (ctx.faults.chance('wechatpay', m.mchid, f.api_timeout_rate)) await ctx.timers.sleep(f.api_timeout_hold_ms);
    if (ctx.faults.chance('wechatpay', m.mchid, f.api_error_rate)) return send(ctx, c, m, 500, err('SYSTEM_ERROR', '系统异常，请稍后重试'));
    c.set('merchant', m);
    await next();
  });

  const jsonBody = async (c: Context): Promise<unknown> => {
    try {
      return JSON.parse(await c.req.text());
    } catch {
      return undefined;
    }
  };

  const placeOrder = (jsapi: boolean) => async (c: Context<Env>) => {
    const m = c.get('merchant');
    const input = parseOrder(await jsonBody(c), m.mchid, jsapi);
    if (typeof input === 'string') return send(ctx, c, m, 400, err('PARAM_ERROR', input));
    const now = ctx.now();
    const tradeType = jsapi ? 'JSAPI' : 'NATIVE';
    const existing = ctx.store.getTrade('wechatpay', m.mchid, input.out_trade_no);
    let trade = existing;
    if (existing) {
      if (existing.state === 'SUCCESS') return send(ctx, c, m, 400, err('ORDERPAID', '该订单已支付'));
      if (wechatState(existing, now) === 'CLOSED') return send(ctx, c, m, 400, err('ORDER_CLOSED', '当前订单已关闭，请重新下单'));
      if (existing.totalFen !== input.total || existing.tradeType !== tradeType) return send(ctx, c, m, 400, err('INVALID_REQUEST', '201 商户订单号重复'));
    } else {
      trade = {
        provider: 'wechatpay',
        account: m.mchid,
        outTradeNo: input.out_trade_no,
        tradeNo: `4200${randomDigits(24)}`,
        totalFen: input.total,
        subject: input.description,
        tradeType,
        appid: input.appid,
        ...(input.openid ? { openid: input.openid } : {}),
        notifyUrl: input.notify_url,
        state: 'WAIT',
        createdAt: now,
        expireAt: input.expireAt ?? now + DEFAULT_EXPIRY_MS,
        refunds: [],
        notify: newNotifyRecord(),
      };
      ctx.store.putTrade(trade);
    }
    const t = trade as Trade;
    if (jsapi) return send(ctx, c, m, 200, { prepay_id: `wx${t.tradeNo.slice(4, 30)}` });
    return send(ctx, c, m, 200, { code_url: `${ctx.baseUrl}/pay/wechatpay/${encodeURIComponent(m.mchid)}/${encodeURIComponent(t.outTradeNo)}` });
  };
  app.post('/v3/pay/transactions/native', placeOrder(false));
  app.post('/v3/pay/transactions/jsapi', placeOrder(true));

  app.get('/v3/pay/transactions/out-trade-no/:outTradeNo', (c) => {
    const m = c.get('merchant');
    if (c.req.query('mchid') !== m.mchid) return send(ctx, c, m, 400, err('PARAM_ERROR', 'mchid 参数缺失或不一致'));
    const t = ctx.store.getTrade('wechatpay', m.mchid, c.req.param('outTradeNo'));
    if (!t) return send(ctx, c, m, 404, err('ORDER_NOT_EXIST', '订单不存在'));
    if (ctx.statements.hides(t)) return send(ctx, c, m, 500, err('SYSTEM_ERROR', '系统错误'));
    return send(ctx, c, m, 200, transactionJson(ctx, t, m));
  });

  app.post('/v3/pay/transactions/out-trade-no/:outTradeNo/close', async (c) => {
    const m = c.get('merchant');
    const body = await jsonBody(c);
    if (!isObj(body) || body.mchid !== m.mchid) return send(ctx, c, m, 400, err('PARAM_ERROR', 'mchid 参数缺失或不一致'));
    const t = ctx.store.getTrade('wechatpay', m.mchid, c.req.param('outTradeNo'));
    if (!t) return send(ctx, c, m, 404, err('ORDER_NOT_EXIST', '订单不存在'));
    if (ctx.statements.hides(t)) return send(ctx, c, m, 500, err('SYSTEM_ERROR', '系统错误'));
    if (t.state === 'SUCCESS') return send(ctx, c, m, 400, err('ORDERPAID', '订单已支付'));
    if (t.state !== 'CLOSED') {
      t.state = 'CLOSED';
      t.closedAt = ctx.now();
      ctx.store.changed();
    }
    return send(ctx, c, m, 204, null);
  });

  app.post('/v3/refund/domestic/refunds', async (c) => {
    const m = c.get('merchant');
    const body = await jsonBody(c);
    if (!isObj(body) || !isStr(body.out_refund_no, 64) || !isObj(body.amount) || !isFen(body.amount.refund) || !isFen(body.amount.total)) {
      return send(ctx, c, m, 400, err('PARAM_ERROR', 'out_refund_no、amount.refund、amount.total 必填'));
    }
    const outRefundNo = body.out_refund_no;
    const known = ctx.store.findRefund('wechatpay', m.mchid, outRefundNo);
    if (known) return send(ctx, c, m, 200, refundJson(known.trade, known.refund)); // idempotent
    const t = isStr(body.out_trade_no, 32)
      ? ctx.store.getTrade('wechatpay', m.mchid, body.out_trade_no)
      : isStr(body.transaction_id, 32)
        ? ctx.store.findTradeByTradeNo('wechatpay', m.mchid, body.transaction_id)
        : undefined;
    if (!t) return send(ctx, c, m, 404, err('RESOURCE_NOT_EXISTS', '订单不存在'));
    if (t.state !== 'SUCCESS') return send(ctx, c, m, 400, err('INVALID_REQUEST', '订单未支付，不能退款'));
    if (body.amount.total !== t.totalFen) return send(ctx, c, m, 400, err('INVALID_REQUEST', '订单金额与原订单不一致'));
    if (refundedFen(t) + body.amount.refund > t.totalFen) return send(ctx, c, m, 400, err('INVALID_REQUEST', '申请退款金额超过订单可退金额'));
    const refund: Refund = {
      outRefundNo,
      refundId: `50${randomDigits(27)}`,
      amountFen: body.amount.refund,
      createdAt: ctx.now(),
      ...(isStr(body.reason, 80) ? { reason: body.reason } : {}),
      ...(isStr(body.notify_url, 256) ? { notifyUrl: body.notify_url } : {}),
    };
    t.refunds.push(refund);
    ctx.store.changed();
    if (refund.notifyUrl) {
      sendResourceNotify(ctx, t, m, refund.notifyUrl, 'REFUND.SUCCESS', '退款成功', 'refund', () => ({
        mchid: m.mchid,
        out_trade_no: t.outTradeNo,
        transaction_id: t.tradeNo,
        out_refund_no: refund.outRefundNo,
        refund_id: refund.refundId,
        refund_status: 'SUCCESS',
        success_time: rfc3339(refund.createdAt),
        user_received_account: '支付用户零钱',
        amount: { total: t.totalFen, refund: refund.amountFen, payer_total: t.totalFen, payer_refund: refund.amountFen },
      }));
    }
    return send(ctx, c, m, 200, refundJson(t, refund));
  });

  app.get('/v3/refund/domestic/refunds/:outRefundNo', (c) => {
    const m = c.get('merchant');
    const found = ctx.store.findRefund('wechatpay', m.mchid, c.req.param('outRefundNo'));
    if (!found) return send(ctx, c, m, 404, err('RESOURCE_NOT_EXISTS', '退款单不存在'));
    return send(ctx, c, m, 200, refundJson(found.trade, found.refund));
  });

  app.get('/v3/bill/tradebill', (c) => {
    const m = c.get('merchant');
    const day = c.req.query('bill_date') ?? '';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return send(ctx, c, m, 400, err('PARAM_ERROR', 'bill_date 格式错误'));
    if (day >= billDay(ctx.now())) return send(ctx, c, m, 400, err('NO_STATEMENT_EXIST', '账单文件不存在'));
    const tarType = c.req.query('tar_type');
    if (tarType !== undefined && tarType !== 'GZIP') return send(ctx, c, m, 400, err('PARAM_ERROR', 'tar_type 仅支持 GZIP'));
    // The hash covers the CSV itself, gzipped or not.
    return send(ctx, c, m, 200, {
      hash_type: 'SHA1',
      hash_value: sha1Hex(wechatStatementCsv(ctx, m.mchid, m.appid, day)),
      download_url: `${ctx.baseUrl}/bills/wechatpay/${m.mchid}/${day}.csv${tarType === 'GZIP' ? '.gz' : ''}`,
    });
  });

  return app;
}
