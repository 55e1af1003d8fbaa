// UnionPay 全渠道 (ACP 5.1.0) gateway, from UnionPay's SDK demos and interface specification.
// Endpoints (under `<gateway_url>`, as at https://gateway.95516.com):
//   /gateway/api/frontTransReq.do  consume 01/01/000201: the payer's browser posts the signed
//                                  form; the sandbox shows its pay page, then posts the signed
//                                  result to frontUrl.
//   /gateway/api/backTransReq.do   QR consume 01/07/000000 (申请消费二维码: answers `qrCode`),
//                                  refund 04/00, consume undo 31/00 (same Beijing day, full amount),
//                                  each with the bizType of its consume's product: 000000 for a QR
//                                  consume (二维码支付), 000201 for a web one (网关支付), as the
//                                  demos of both products send them; another bizType answers 36.
//   /gateway/api/queryTrans.do     query 00/00 by orderId + txnTime.
// Results, as UnionPay words them: respCode/origRespCode 00 success; 03/04/05 "processing, ask
// again later"; anything else a refusal. An order the payer never submitted answers 34 查无此交易;
// a declined card answers origRespCode 60. Success is notified (signed, form-encoded) to backUrl,
// retried until the merchant answers HTTP 200. Unlike the other two, UnionPay has no close:
// an unpaid order simply lapses at its payTimeout.
import { Hono, type Context } from 'hono';
import { type SandboxContext, DEFAULT_EXPIRY_MS, isExpired, refundedFen } from './context.ts';
import { randomAlnum, randomDigits } from './crypto.ts';
import { type Refund, type Trade, type UnionpayMerchant, newNotifyRecord } from './state.ts';
import { type KeyedCert, type UnionpayCa, createUnionpayCa, issueImpostor, issueMerchantCert, toPfxBase64 } from './unionpay-pki.ts';
import { type Fields, ACP_VERSION, acpSign, acpTime, acpVerify, autoPostForm, parseAcpTime, rawAnswer, settleDate } from './unionpay-wire.ts';
import { billDay, escapeHtml } from './util.ts';

type Answer = { respCode: string; respMsg: string } & Fields;
type Refusal = { respCode: string; respMsg: string };

const SUCCESS_MSG = '成功[0000000]';
const refuse = (respCode: string, respMsg: string): Refusal => ({ respCode, respMsg });

/** The echoed request fields an answer repeats, as UnionPay's answers do. */
const ECHOED = ['version', 'encoding', 'signMethod', 'txnType', 'txnSubType', 'bizType', 'accessType', 'merId', 'orderId', 'txnTime', 'channelType'] as const;

const MAX_TXN_AMT_FEN = 100_000_000_000; // 10 亿元: far beyond any card limit

/** The sandbox's CA, created on first UnionPay use and kept in the state file afterwards. */
function ca(ctx: SandboxContext): UnionpayCa {
  if (!ctx.store.unionpayCa) {
    ctx.store.unionpayCa = createUnionpayCa(ctx.now());
    ctx.store.changed();
  }
  return ctx.store.unionpayCa;
}

/** A merchant, as UnionPay's merchant service issues one: merId, signing PKCS#12, the chain to verify with. */
export function provisionUnionpayMerchant(ctx: SandboxContext): Record<string, string> {
  const authority = ca(ctx);
  const merId = `777${randomDigits(12)}`; // 777… like UnionPay's open-platform test merchants
  const issued = issueMerchantCert(authority, merId, ctx.now());
  const password = randomAlnum(12);
  const m: UnionpayMerchant = { merId, certPem: issued.certPem, certId: issued.certId, pfxBase64: toPfxBase64(issued, password), pfxPassword: password };
  ctx.store.unionpayMerchants.set(merId, m);
  ctx.store.changed();
  return {
    mer_id: merId,
    sign_cert_pfx: m.pfxBase64,
    sign_cert_password: password,
    root_cert: authority.rootCert,
    middle_cert: authority.middleCert,
    gateway_url: `${ctx.baseUrl}/unionpay`,
  };
}

/** The certificate and key this merchant's messages are signed with: UnionPay's, or an impostor (fault). */
function signer(ctx: SandboxContext, merId: string | undefined): KeyedCert {
  const authority = ca(ctx);
  const kind = merId ? ctx.faults.get('unionpay', merId).signer : 'genuine';
  if (kind === 'genuine') return { cert: authority.signCert, key: authority.signKey };
  const made = authority.impostors?.[kind];
  if (made) return made;
  const impostor = issueImpostor(authority, kind, ctx.now());
  authority.impostors = { ...authority.impostors, [kind]: impostor };
  ctx.store.changed();
  return impostor;
}

/** Adds signPubKeyCert and the signature to outgoing fields. */
function signed(ctx: SandboxContext, merId: string | undefined, fields: Fields): Fields {
  const { cert, key } = signer(ctx, merId);
  const out: Fields = { ...fields, signMethod: '01', signPubKeyCert: cert };
  out.signature = acpSign(out, key);
  return out;
}

function echo(request: Fields): Fields {
  const out: Fields = {};
  for (const k of ECHOED) if (request[k]) out[k] = request[k];
  return out;
}

function answerBody(ctx: SandboxContext, request: Fields, answer: Answer): string {
  // Faults are per merchant; an unknown merId has none and gets the genuine signature.
  return rawAnswer(signed(ctx, request.merId, { ...echo(request), version: ACP_VERSION, encoding: 'UTF-8', ...answer }));
}

/** Envelope and signature checks every request passes before its fields mean anything. */
function authenticate(ctx: SandboxContext, f: Fields): { merchant: UnionpayMerchant } | Refusal {
  if (f.version !== ACP_VERSION) return refuse('10', `报文格式错误: version 须为 ${ACP_VERSION}`);
  if ((f.encoding ?? '').toUpperCase() !== 'UTF-8') return refuse('10', '报文格式错误: encoding 仅支持 UTF-8');
  if (f.signMethod !== '01') return refuse('10', '报文格式错误: signMethod 仅支持 01');
  if (f.accessType !== '0') return refuse('10', '报文格式错误: accessType 须为 0 (商户直连)');
  const merchant = f.merId ? ctx.store.unionpayMerchants.get(f.merId) : undefined;
  if (!merchant) return refuse('31', '商户状态不正确: 商户不存在');
  if (!f.certId || !f.signature) return refuse('13', '报文交易要素缺失: certId, signature');
  if (f.certId !== merchant.certId) return refuse('11', '验证签名失败: certId 与商户签名证书不符');
  if (!acpVerify(f, merchant.certPem)) return refuse('11', '验证签名失败');
  return { merchant };
}

/** Injected faults after a verified request: a held answer, or a 5xx. */
async function faulted(ctx: SandboxContext, merId: string): Promise<boolean> {
  const f = ctx.faults.get('unionpay', merId);
  if (ctx.faults.chance('unionpay', merId, f.api_timeout_rate)) await ctx.timers.sleep(f.api_timeout_hold_ms);
  return ctx.faults.chance('unionpay', merId, f.api_error_rate);
}

const ORDER_ID = /^[0-9A-Za-z]{8,40}$/;
const FEN = /^[1-9]\d{0,11}$/;
const URL_RE = /^https?:\/\/\S+$/;

type Money = { orderId: string; txnTime: string; amountFen: number; backUrl: string };

/** orderId, txnTime, txnAmt, currencyCode and backUrl: what every money-moving request carries. */
function moneyFields(f: Fields): Money | Refusal {
  const missing = ['orderId', 'txnTime', 'txnAmt', 'backUrl'].filter((k) => !f[k]);
  if (missing.length > 0) return refuse('13', `报文交易要素缺失: ${missing.join(', ')}`);
  const { orderId = '', txnTime = '', txnAmt = '', backUrl = '' } = f;
  if (!ORDER_ID.test(orderId)) return refuse('10', '报文格式错误: orderId 须为 8-40 位字母数字');
  if (parseAcpTime(txnTime) === undefined) return refuse('10', '报文格式错误: txnTime 无效');
  if (!FEN.test(txnAmt) || Number(txnAmt) > MAX_TXN_AMT_FEN) return refuse('10', '报文格式错误: txnAmt 须为以分为单位的正整数');
  if (f.currencyCode !== undefined && f.currencyCode !== '156') return refuse('10', '报文格式错误: currencyCode 仅支持 156');
  if (!URL_RE.test(backUrl)) return refuse('10', '报文格式错误: backUrl');
  if (f.frontUrl !== undefined && !URL_RE.test(f.frontUrl)) return refuse('10', '报文格式错误: frontUrl');
  return { orderId, txnTime, amountFen: Number(txnAmt), backUrl };
}

const isRefusal = (v: object): v is Refusal => 'respCode' in v;

function orderIdTaken(ctx: SandboxContext, merId: string, orderId: string): boolean {
  return ctx.store.getTrade('unionpay', merId, orderId) !== undefined || ctx.store.findRefund('unionpay', merId, orderId) !== undefined;
}

/** Opens (or, for the identical request repeated, finds again) a consume order. */
function openConsume(ctx: SandboxContext, m: UnionpayMerchant, f: Fields, kind: 'web' | 'qr'): Trade | Refusal {
  if (!f.currencyCode) return refuse('13', '报文交易要素缺失: currencyCode');
  const money = moneyFields(f);
  if (isRefusal(money)) return money;
  const now = ctx.now();
  let expireAt = now + DEFAULT_EXPIRY_MS;
  if (f.payTimeout) {
    const t = parseAcpTime(f.payTimeout);
    if (t === undefined || t <= (parseAcpTime(money.txnTime) ?? 0)) return refuse('10', '报文格式错误: payTimeout 无效');
    expireAt = t;
  }
  const existing = ctx.store.getTrade('unionpay', m.merId, money.orderId);
  if (existing) {
    // The payer's browser re-posting the same form resumes it; anything else reuses an orderId.
    const same = existing.txnTime === money.txnTime && existing.totalFen === money.amountFen && existing.tradeType === kind && existing.state === 'WAIT';
    return same ? existing : refuse('12', '重复交易');
  }
  if (orderIdTaken(ctx, m.merId, money.orderId)) return refuse('12', '重复交易');
  const trade: Trade = {
    provider: 'unionpay',
    account: m.merId,
    outTradeNo: money.orderId,
    tradeNo: newQueryId(now),
    totalFen: money.amountFen,
    subject: f.orderDesc || `银联订单 ${money.orderId}`,
    tradeType: kind,
    txnTime: money.txnTime,
    notifyUrl: money.backUrl,
    ...(f.frontUrl ? { returnUrl: f.frontUrl } : {}),
    state: 'WAIT',
    createdAt: now,
    expireAt,
    refunds: [],
    notify: newNotifyRecord(),
  };
  ctx.store.putTrade(trade);
  return trade;
}

/** queryId: 21 digits, starting with the Beijing time like UnionPay's. */
function newQueryId(now: number): string {
  return `${acpTime(now).slice(2)}${randomDigits(9)}`;
}

export function payUrl(ctx: SandboxContext, t: Trade): string {
  return `${ctx.baseUrl}/pay/unionpay/${encodeURIComponent(t.account)}/${encodeURIComponent(t.outTradeNo)}`;
}

/** The payer-facing word for the pay page and the test hook's JSON answer. */
export function unionpayStatus(t: Trade, now: number): string {
  if (t.state === 'SUCCESS') return refundedFen(t) > 0 ? 'REFUNDED' : 'SUCCESS';
  if (isExpired(t, now)) return 'EXPIRED';
  return t.state === 'PAYERROR' ? 'FAILED' : 'WAIT_PAY';
}

/** The product (bizType) a consume belongs to, which its refunds and undo must name too. */
const productOf = (t: Trade): string => (t.tradeType === 'qr' ? '000000' : '000201');

/** What the result of a consume looks like in notifies, front returns and queries. */
function consumeResult(ctx: SandboxContext, t: Trade): Fields {
  const amount = String(t.totalFen);
  const base: Fields = {
    txnType: '01',
    txnSubType: t.tradeType === 'qr' ? '07' : '01',
    bizType: productOf(t),
    accessType: '0',
    merId: t.account,
    orderId: t.outTradeNo,
    txnTime: t.txnTime ?? acpTime(t.createdAt),
    txnAmt: amount,
    currencyCode: '156',
    queryId: t.tradeNo,
  };
  if (t.state !== 'SUCCESS' || t.paidAt === undefined) return base;
  const paidAt = t.paidAt;
  return { ...base, settleAmt: amount, settleCurrencyCode: '156', settleDate: settleDate(paidAt), traceNo: t.tradeNo.slice(-6), traceTime: acpTime(paidAt).slice(4), accNo: '6216********0018', payCardType: '01' };
}

/** The trade's outcome code: 00 paid, 60 declined by the (pretend) issuer. */
const outcomeCode = (t: Trade): Refusal => (t.state === 'SUCCESS' ? refuse('00', SUCCESS_MSG) : refuse('60', '交易失败，详情请咨询您的发卡行'));

/** Signed back notify of a paid consume, to backUrl, retried until HTTP 200. */
export function sendUnionpayNotify(ctx: SandboxContext, t: Trade): void {
  if (!t.notifyUrl || t.state !== 'SUCCESS') return; // only successful consumes are notified
  enqueueNotify(ctx, t, t.notifyUrl, () => ({ ...consumeResult(ctx, t), respCode: '00', respMsg: SUCCESS_MSG }));
}

function enqueueNotify(ctx: SandboxContext, t: Trade, url: string, fields: () => Fields): void {
  ctx.notifier.enqueue({
    provider: 'unionpay',
    account: t.account,
    url,
    contentType: 'application/x-www-form-urlencoded;charset=UTF-8',
    trade: t,
    onChange: () => ctx.store.changed(),
    // UnionPay judges by the HTTP status alone (then retries at growing gaps).
    accepted: (status) => status === 200,
    build: () => ({ body: new URLSearchParams(signed(ctx, t.account, { version: ACP_VERSION, encoding: 'UTF-8', ...fields() })).toString(), headers: {} }),
  });
}

/** The page that sends the payer's browser back to frontUrl with the signed result. */
export function unionpayFrontReturn(ctx: SandboxContext, t: Trade): string | undefined {
  if (!t.returnUrl) return undefined;
  const fields = signed(ctx, t.account, { version: ACP_VERSION, encoding: 'UTF-8', ...consumeResult(ctx, t), ...outcomeCode(t) });
  return autoPostForm(t.returnUrl, fields, escapeHtml);
}

/** 04 refund and 31 consume undo: both give money back against origQryId. */
function giveBack(ctx: SandboxContext, m: UnionpayMerchant, f: Fields, txnType: '04' | '31'): Answer {
  if (!f.origQryId) return refuse('13', '报文交易要素缺失: origQryId');
  const money = moneyFields(f);
  if (isRefusal(money)) return money;
  if (orderIdTaken(ctx, m.merId, money.orderId)) return refuse('12', '重复交易');
  const t = ctx.store.findTradeByTradeNo('unionpay', m.merId, f.origQryId);
  if (!t || t.state !== 'SUCCESS') return refuse('35', '原交易不存在或状态不正确');
  if (f.bizType !== productOf(t)) return refuse('36', `与原交易信息不符: bizType 须为原消费的产品类型 ${productOf(t)}`);
  const now = ctx.now();
  if (txnType === '31') {
    // An undo voids the whole consume, and only before that day's settlement.
    if (t.refunds.length > 0 || billDay(t.paidAt ?? 0) !== billDay(now)) return refuse('35', '原交易不存在或状态不正确: 仅当日未退货的消费可撤销');
    if (money.amountFen !== t.totalFen) return refuse('36', '与原交易信息不符: 撤销金额须等于原交易金额');
  }
  if (refundedFen(t) + money.amountFen > t.totalFen) return refuse('36', '与原交易信息不符: 退货金额超过可退金额');
  const refund: Refund = { outRefundNo: money.orderId, refundId: newQueryId(now), amountFen: money.amountFen, createdAt: now, notifyUrl: money.backUrl, txnType, txnTime: money.txnTime };
  t.refunds.push(refund);
  ctx.store.changed();
  enqueueNotify(ctx, t, money.backUrl, () => ({ ...refundResult(t, refund), respCode: '00', respMsg: SUCCESS_MSG }));
  // 00 here means "accepted": the result is the notify, or a query of this orderId.
  return { respCode: '00', respMsg: SUCCESS_MSG, queryId: refund.refundId, origQryId: t.tradeNo, txnAmt: String(refund.amountFen) };
}

function refundResult(t: Trade, r: Refund): Fields {
  return {
    txnType: r.txnType ?? '04',
    txnSubType: '00',
    bizType: productOf(t),
    accessType: '0',
    merId: t.account,
    orderId: r.outRefundNo,
    txnTime: r.txnTime ?? acpTime(r.createdAt),
    txnAmt: String(r.amountFen),
    currencyCode: '156',
    queryId: r.refundId,
    origQryId: t.tradeNo,
    settleAmt: String(r.amountFen),
    settleCurrencyCode: '156',
    settleDate: settleDate(r.createdAt),
  };
}

/** queryTrans: by orderId + txnTime (both must match the original), for consumes and refunds alike. */
function query(ctx: SandboxContext, m: UnionpayMerchant, f: Fields): Answer {
  if (!f.orderId || !f.txnTime) return refuse('13', '报文交易要素缺失: orderId, txnTime');
  const t = ctx.store.getTrade('unionpay', m.merId, f.orderId);
  // An order the payer never submitted is unknown to UnionPay's switch.
  if (t) return t.txnTime === f.txnTime && t.state !== 'WAIT' ? queried(ctx, m, consumeResult(ctx, t), outcomeCode(t)) : refuse('34', '查无此交易');
  const r = ctx.store.findRefund('unionpay', m.merId, f.orderId);
  if (r && r.refund.txnTime === f.txnTime) return queried(ctx, m, refundResult(r.trade, r.refund), refuse('00', SUCCESS_MSG));
  return refuse('34', '查无此交易');
}

function queried(ctx: SandboxContext, m: UnionpayMerchant, result: Fields, outcome: Refusal): Answer {
  const o = ctx.faults.takeProcessing('unionpay', m.merId) ? refuse('05', '交易已受理，请稍后查询交易结果') : outcome;
  return { respCode: '00', respMsg: SUCCESS_MSG, ...result, origRespCode: o.respCode, origRespMsg: o.respMsg };
}

function backTrans(ctx: SandboxContext, m: UnionpayMerchant, f: Fields): Answer {
  const kind = `${f.txnType}/${f.txnSubType}`;
  if (kind === '01/07' && f.bizType === '000000') {
    const r = openConsume(ctx, m, f, 'qr');
    return isRefusal(r) ? r : { respCode: '00', respMsg: SUCCESS_MSG, qrCode: payUrl(ctx, r) };
  }
  if (kind === '04/00') return giveBack(ctx, m, f, '04');
  if (kind === '31/00') return giveBack(ctx, m, f, '31');
  return refuse('32', `无此交易权限: txnType ${f.txnType ?? ''} txnSubType ${f.txnSubType ?? ''} bizType ${f.bizType ?? ''}`);
}

async function formFields(c: Context): Promise<Fields> {
  const out: Fields = {};
  const body = await c.req.parseBody().catch(() => ({}));
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out[k] = v;
  return out;
}

function errorPage(r: Refusal): string {
  return `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>银联在线支付 - 交易失败</title><h1>应答码 ${escapeHtml(r.respCode)}</h1><p>${escapeHtml(r.respMsg)}</p>`;
}

export function unionpayRoutes(ctx: SandboxContext): Hono {
  const app = new Hono();

  app.post('/merchants', (c) => c.json(provisionUnionpayMerchant(ctx), 201));

  const answer = (c: Context, f: Fields, a: Answer) => c.body(answerBody(ctx, f, a), 200, { 'content-type': 'text/plain;charset=UTF-8' });
  const backEndpoint = (handle: (m: UnionpayMerchant, f: Fields) => Answer) => async (c: Context) => {
    const f = await formFields(c);
    const auth = authenticate(ctx, f);
    if (isRefusal(auth)) return answer(c, f, auth);
    if (await faulted(ctx, auth.merchant.merId)) return c.text('503 Service Temporarily Unavailable', 503);
    return answer(c, f, handle(auth.merchant, f));
  };
  app.post('/gateway/api/backTransReq.do', backEndpoint((m, f) => backTrans(ctx, m, f)));
  app.post('/gateway/api/queryTrans.do', backEndpoint((m, f) => (f.txnType === '00' && f.txnSubType === '00' ? query(ctx, m, f) : refuse('32', '无此交易权限: 查询须为 txnType 00 txnSubType 00'))));

  app.post('/gateway/api/frontTransReq.do', async (c) => {
    const f = await formFields(c);
    const auth = authenticate(ctx, f);
    if (isRefusal(auth)) return c.html(errorPage(auth), 400);
    if (await faulted(ctx, auth.merchant.merId)) return c.html('<h1>503 Service Temporarily Unavailable</h1>', 503);
    const consume = f.txnType === '01' && f.txnSubType === '01' && f.bizType === '000201';
    const r = consume ? openConsume(ctx, auth.merchant, f, 'web') : refuse('32', '无此交易权限: 前台仅支持消费 01/01/000201');
    if (isRefusal(r)) return c.html(errorPage(r), 400);
    // The browser follows with GET: the pay page is UnionPay's cashier for this order.
    return c.redirect(payUrl(ctx, r), 302);
  });

  return app;
}
