/**
 * UnionPay online payments (银联全渠道, ACP 5.1.0): unionpay_web (a signed consume form the payer's
 * browser posts to the front gateway, from a paycenter page) and unionpay_qr (a QR code applied
 * for on the back gateway), query, refund and refund query, and the back notify. UnionPay has no
 * close for a consume: see `close`.
 */
import * as v from 'valibot';
import {
  type CallbackRequest,
  type CallbackVerdict,
  type ChannelAdapter,
  type ChannelFailure,
  type ChannelResult,
  type PrepayRequest,
  type RefundCall,
  type TradeQuery,
  type TradeReport,
  callProvider,
  channelFailure,
  unservedCurrency,
} from '../adapter.ts';
import type { AdapterOptions } from '../plugin.ts';
import { StatementError, type StatementRow } from '../statement.ts';
import { type UnionpayConfig, type UnionpaySettings, unionpay_config } from './config.ts';
import { type SigningCert, openSigningCert, readCertificate } from './keys.ts';
import { type Trust, signatureOf, signatureValid, verificationProblem } from './signing.ts';
import {
  type RespClass, type UnionpayMessage, answerFields, consume_txn_type, consumeClassOf, currencyOfCode, formFields, fromTxnAmt, idOfOrderId,
  no_such_transaction, orderIdOf, respClassOf, statusOf, toTxnAmt, txnTimeOf, unionpay_currencies, unionpay_message, unionpayTime,
} from './transformers.ts';

export type { UnionpayConfig } from './config.ts';

/** The gateway's endpoints below `gateway_url`, as UnionPay's SDKs name them. */
export const front_path = '/gateway/api/frontTransReq.do';
const back_path = '/gateway/api/backTransReq.do';
const query_path = '/gateway/api/queryTrans.do';

type Fields = Record<string, string>;

/**
 * Transaction codes (txnType / txnSubType / bizType) and channel types of the calls used here. The
 * web consume is the gateway product's (网关支付, bizType 000201), the QR one the QR-code product's
 * (二维码支付, 000000); a refund (退货 04) names the product of the consume it gives back, as
 * UnionPay's demos of both products send it.
 */
const web_consume = { txnType: '01', txnSubType: '01', bizType: '000201', channelType: '07' };
const qr_consume = { txnType: '01', txnSubType: '07', bizType: '000000', channelType: '08' };
const query = { txnType: '00', txnSubType: '00', bizType: '000000' };
const unionpay_methods = ['unionpay_web', 'unionpay_qr'] as const;
const refunds = {
  unionpay_web: { txnType: '04', txnSubType: '00', bizType: '000201', channelType: '07' },
  unionpay_qr: { txnType: '04', txnSubType: '00', bizType: '000000', channelType: '07' },
} satisfies Record<(typeof unionpay_methods)[number], Fields>;

export class UnionpayAdapter implements ChannelAdapter {
  readonly provider = 'unionpay';
  private readonly config: UnionpaySettings;
  private readonly signer: SigningCert;
  private readonly trust: Trust;

  /** Takes the config as operators give it (checked by the plug-in: the key file opens, the certificates read). */
  constructor(config: UnionpayConfig, private readonly options: AdapterOptions) {
    this.config = v.parse(unionpay_config, config);
    const signer = openSigningCert(this.config.sign_cert_pfx, this.config.sign_cert_password);
    const root = readCertificate('root_cert', this.config.root_cert);
    const middle = readCertificate('middle_cert', this.config.middle_cert);
    if (!signer.ok || !root.ok || !middle.ok) throw new Error('assertion failed: a UnionPay config its plug-in checked does not open');
    this.signer = signer.cert;
    this.trust = { root: root.cert, middle: middle.cert, validateCn: this.config.validate_cn };
  }

  private url(path: string): string {
    return `${this.config.gateway_url.replace(/\/+$/, '')}${path}`;
  }

  /** A request's fields with the ones every request has, its certId and its signature. */
  private async signed(fields: Fields): Promise<Fields> {
    const all: Fields = { version: '5.1.0', encoding: 'UTF-8', signMethod: '01', accessType: '0', merId: this.config.mer_id, certId: this.signer.certId, ...fields };
    return { ...all, signature: await signatureOf(all, this.signer.key) };
  }

  /** The orderId and txnTime of a flow or refund id, or why it cannot have one. */
  private transactionOf(id: string): { orderId: string; txnTime: string } | ChannelFailure {
    const orderId = orderIdOf(id);
    return orderId ? { orderId, txnTime: txnTimeOf(id) } : channelFailure('flow_not_supported', `${id} cannot be a UnionPay orderId`);
  }

  /** One back-gateway call; the answer counts only when it is signed by UnionPay and names this merchant. */
  private async call(path: string, fields: Fields, now: number): Promise<ChannelResult<{ message: UnionpayMessage }>> {
    const sent = await callProvider(this.url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
      body: new URLSearchParams(await this.signed(fields)).toString(),
    }, this.options);
    if (!sent.ok) return sent;
    if (sent.status >= 500) return channelFailure('unavailable', `UnionPay answered HTTP ${sent.status}`);
    const answer = answerFields(sent.text);
    const parsed = v.safeParse(unionpay_message, answer);
    if (!parsed.success) return channelFailure('bad_response', `UnionPay answer (HTTP ${sent.status}) has no respCode`);
    const message = parsed.output;
    if (answer.signature === undefined) {
      // Only a refusal of our own request may come unsigned, and it can never report a trade.
      return respClassOf(message.respCode) === 'refused'
        ? channelFailure('rejected', `UnionPay refused the request: ${message.respCode} ${message.respMsg ?? ''}`.trim())
        : channelFailure('bad_response', `unsigned UnionPay answer (respCode ${message.respCode})`);
    }
    const problem = await verificationProblem(answer, this.trust, now);
    if (problem) return channelFailure('bad_response', `UnionPay answer: ${problem}`);
    if (message.merId !== undefined && message.merId !== this.config.mer_id) return channelFailure('bad_response', `UnionPay answer for merchant ${message.merId}`);
    return { ok: true, message };
  }

  /** A respCode that is not success: "still processing" may be asked again, a refusal not. */
  private failureOf(message: UnionpayMessage): ChannelFailure {
    const detail = `UnionPay: ${message.respCode} ${message.respMsg ?? ''}`.trim();
    return channelFailure(respClassOf(message.respCode) === 'processing' ? 'unavailable' : 'rejected', detail);
  }

  async prepay(request: PrepayRequest) {
    const unserved = unservedCurrency('UnionPay', unionpay_currencies, request.currency);
    if (unserved) return unserved;
    const transaction = this.transactionOf(request.flowId);
    if ('ok' in transaction) return transaction;
    const consume: Fields = {
      ...transaction, ...toTxnAmt(request.amount, request.currency), backUrl: this.options.notifyUrl, payTimeout: unionpayTime(request.expiresAt),
    };
    switch (request.method) {
      case 'unionpay_web': {
        // The payer's browser posts the signed form to the front gateway, from paycenter's page: no call here.
        const form = await this.signed({ ...web_consume, ...consume, frontUrl: `${this.options.pagesUrl}/return` });
        const payUrl = `${this.options.pagesUrl}/front?${new URLSearchParams(form).toString()}`;
        return { ok: true as const, action: { type: 'redirect' as const, payUrl }, channelTradeNo: null };
      }
      case 'unionpay_qr': {
        const result = await this.call(back_path, { ...qr_consume, ...consume }, request.now);
        if (!result.ok) return result;
        const { message } = result;
        if (respClassOf(message.respCode) !== 'success') return this.failureOf(message);
        if (message.qrCode === undefined) return channelFailure('bad_response', 'QR consume answer has no qrCode');
        return { ok: true as const, action: { type: 'qr_code' as const, qrCode: message.qrCode }, channelTradeNo: null };
      }
      default:
        return channelFailure('flow_not_supported', `UnionPay does not serve ${request.method}`);
    }
  }

  /** The query of one transaction by its id; null when UnionPay has no such transaction. */
  private async queryTransaction(id: string, now: number): Promise<ChannelResult<{ message: UnionpayMessage | null }>> {
    const transaction = this.transactionOf(id);
    if ('ok' in transaction) return transaction;
    const result = await this.call(query_path, { ...query, ...transaction }, now);
    if (!result.ok) return result;
    const { message } = result;
    if (message.respCode === no_such_transaction) return { ok: true, message: null };
    if (respClassOf(message.respCode) !== 'success') return this.failureOf(message);
    if (message.orderId !== undefined && message.orderId !== transaction.orderId) return channelFailure('bad_response', `query answer is about orderId ${message.orderId}`);
    return { ok: true, message };
  }

  /**
   * A failed consume is final only once the payer can no longer pay it: the payTimeout sent with it is
   * at or before `payableUntil`, and until then the payer may try again (consumeClassOf).
   */
  async query({ flowId, payableUntil, now }: TradeQuery) {
    const result = await this.queryTransaction(flowId, now);
    if (!result.ok) return result;
    const { message } = result;
    return { ok: true as const, trade: message && this.tradeOf(flowId, message, consumeClassOf(message.origRespCode, now < payableUntil)) };
  }

  private tradeOf(flowId: string, message: UnionpayMessage, outcome: RespClass): TradeReport {
    return {
      flowId, status: statusOf(outcome), amount: fromTxnAmt(message.txnAmt),
      currency: currencyOfCode(message.currencyCode), channelTradeNo: message.queryId ?? null,
    };
  }

  /**
   * UnionPay has no close for a consume (its SDK documents none): a trade the payer has not paid
   * expires at its payTimeout, which is set before the order's deadline. So closing asks the
   * trade once: paid is paid; anything else counts as closed here, and should the payer still pay
   * before payTimeout, the order refunds that late success automatically, like any other.
   */
  async close(flowId: string, now: number) {
    const result = await this.queryTransaction(flowId, now);
    if (!result.ok) return result;
    const paid = result.message !== null && respClassOf(result.message.origRespCode) === 'success';
    return { ok: true as const, outcome: paid ? 'paid' as const : 'closed' as const };
  }

  /**
   * A refund names the consume by UnionPay's queryId, so the consume is asked first; and the
   * refund's own orderId is asked before it is sent, so that a retry of a refund UnionPay already
   * took (our call timed out) reads its outcome instead of being refused as a duplicate.
   */
  async refund(call: RefundCall) {
    const unserved = unservedCurrency('UnionPay', unionpay_currencies, call.currency);
    if (unserved) return unserved;
    if (!v.is(v.picklist(unionpay_methods), call.method)) return channelFailure('flow_not_supported', `UnionPay does not serve ${call.method}`);
    const refund = refunds[call.method];
    const transaction = this.transactionOf(call.refundId);
    if ('ok' in transaction) return transaction;
    const earlier = await this.refundQuery(call.refundId, call.flowId, call.now);
    if (!earlier.ok || earlier.report) return earlier;
    const consume = await this.queryTransaction(call.flowId, call.now);
    if (!consume.ok) return consume;
    const report = (status: 'succeeded' | 'pending' | 'failed') => ({ ok: true as const, report: { refundId: call.refundId, status } });
    const origQryId = consume.message?.queryId;
    if (!consume.message || respClassOf(consume.message.origRespCode) !== 'success' || origQryId === undefined) return report('failed');
    const result = await this.call(back_path, {
      ...refund, ...transaction, ...toTxnAmt(call.amount, call.currency), origQryId, backUrl: `${this.options.pagesUrl}/refund-notify`,
    }, call.now);
    if (!result.ok) return result;
    // Accepted (00) is not done: the refund query reads the outcome.
    switch (respClassOf(result.message.respCode)) {
      case 'success':
      case 'processing':
        return report('pending');
      case 'refused':
        return report('failed');
    }
  }

  async refundQuery(refundId: string, _flowId: string, now: number) {
    const result = await this.queryTransaction(refundId, now);
    if (!result.ok) return result;
    // No such refund: the refund call never reached UnionPay.
    if (!result.message) return { ok: true as const, report: null };
    return { ok: true as const, report: { refundId, status: statusOf(respClassOf(result.message.origRespCode)) } };
  }

  /** Why a signed message is not this channel's, or null: signature and certificate, then the merchant. */
  private async messageProblem(fields: Fields, now: number): Promise<string | null> {
    const problem = await verificationProblem(fields, this.trust, now);
    if (problem) return problem;
    return fields.merId === this.config.mer_id ? null : `merId ${fields.merId ?? '(none)'} is not this channel's`;
  }

  async verifyCallback(request: CallbackRequest): Promise<CallbackVerdict> {
    const fields = formFields(request.body);
    const problem = await this.messageProblem(fields, request.now);
    if (problem) return { ok: false, reason: problem };
    const parsed = v.safeParse(unionpay_message, fields);
    if (!parsed.success) return { ok: false, reason: 'no respCode' };
    const message = parsed.output;
    if (message.txnType !== consume_txn_type) return { ok: false, reason: `txnType ${message.txnType ?? '(none)'} is not a consume` };
    const flowId = message.orderId === undefined ? null : idOfOrderId(message.orderId);
    if (!flowId) return { ok: false, reason: `orderId ${message.orderId ?? '(none)'} is not one of paycenter's` };
    // Read as sent, unlike a query's answer (consumeClassOf): UnionPay notifies only a consume that
    // succeeded (its demos: 支付失败的交易银联不会发送后台通知), so a notify is never a decline the payer could still undo.
    return { ok: true, trade: this.tradeOf(flowId, message, respClassOf(message.respCode)) };
  }

  /**
   * A refund's back notify (its backUrl is a plug-in page, not the trade callback): checked and
   * acknowledged; the refund's outcome is read by the refund query the order keeps asking.
   */
  refundNotifyProblem(body: string, now: number): Promise<string | null> {
    return this.messageProblem(formFields(body), now);
  }

  /**
   * The consume form of a unionpay_web pay link, for the page that posts it to the front gateway:
   * only a form this channel signed for its own merchant (a link cannot make the page post anything else).
   */
  async frontForm(fields: Fields): Promise<{ action: string; fields: Fields } | null> {
    const own = fields.merId === this.config.mer_id && fields.certId === this.signer.certId && (await signatureValid(fields, this.signer.publicKey));
    return own ? { action: this.url(front_path), fields } : null;
  }

  async downloadStatement() {
    return channelFailure('flow_not_supported', 'UnionPay statements are not downloaded (reconciliation covers Alipay and WeChat Pay first)');
  }

  /** Nor read: an uploaded UnionPay statement is refused whole. */
  async *statementRows(): AsyncIterable<StatementRow> {
    throw new StatementError('UnionPay statements are not read yet (reconciliation covers Alipay and WeChat Pay first)');
  }
}
