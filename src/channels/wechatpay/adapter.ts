/**
 * WeChat Pay API v3: wechat_native (a code_url to show as QR) and wechat_jsapi (a prepay_id for
 * WeixinJSBridge), query and close by out_trade_no, domestic refunds and their query, the trade
 * bill, and the encrypted notify. Whether `base_url` is WeChat's or the bundled sandbox makes
 * no difference here.
 */
import * as v from 'valibot';
import {
  type CallbackRequest,
  type CallbackVerdict,
  type ChannelAdapter,
  type ChannelResult,
  type PrepayRequest,
  type RefundCall,
  type TradeQuery,
  callProvider,
  fetchFromProvider,
  jsonAnswer,
  readJson,
  channelFailure,
  statement_bytes_max,
  unservedCurrency,
  payerSubject,
} from '../adapter.ts';
import type { AdapterOptions } from '../plugin.ts';
import type { StatementFile } from '../statement.ts';
import { type WechatpayConfig, type WechatpaySettings, platformKeys, wechatpay_config } from './config.ts';
import { type Platform, authorization, decryptResource, jsapiParams, platformSignatureProblem } from './signing.ts';
import { wechatpayStatementRows } from './statement.ts';
import {
  type WechatReplyBody,
  type WechatTransaction,
  isWechatRefundStatus,
  isWechatTradeState,
  refundStatusOf,
  retryableErrorCodes,
  toWechatAmount,
  tradeStatusOf,
  wechatTime,
  wechat_notify,
  wechat_reply,
  wechat_refund_notify,
  wechat_transaction,
  wechatpay_currencies,
} from './transformers.ts';

export type { WechatpayConfig } from './config.ts';

type Reply = { status: number; body: WechatReplyBody };

/** WeChat Pay's field limits, in characters: order description and refund reason. */
const description_chars_max = 127;
const refund_reason_chars_max = 80;

const headerOf = (headers: Headers | Record<string, string>) => (name: string) =>
  headers instanceof Headers ? (headers.get(name) ?? undefined) : headers[name.toLowerCase()];

export class WechatpayAdapter implements ChannelAdapter {
  readonly provider = 'wechatpay';
  private readonly base: URL;
  private readonly config: WechatpaySettings;
  private readonly platforms: Platform[];

  /** Takes the config as operators give it; from here on the keys are Secrets. */
  constructor(
    config: WechatpayConfig,
    private readonly options: Omit<AdapterOptions, 'pagesUrl'>,
  ) {
    this.config = v.parse(wechatpay_config, config);
    this.platforms = platformKeys(this.config);
    this.base = new URL(this.config.base_url.replace(/\/+$/, ''));
  }

  /** The merchant's signing key, revealed for the one signature being made. */
  private get merchantKey() {
    return { mchid: this.config.mchid, serialNo: this.config.serial_no, privateKey: this.config.private_key.reveal() };
  }

  /** One signed call; `path` starts with `/v3/`. The answer counts only when its platform signature verifies. */
  private async call(method: 'GET' | 'POST', path: string, now: number, payload?: object): Promise<ChannelResult<{ reply: Reply }>> {
    const body = payload === undefined ? '' : JSON.stringify(payload);
    const sent = await callProvider(`${this.base.href.replace(/\/$/, '')}${path}`, {
      method,
      headers: {
        authorization: await authorization(this.merchantKey, method, path, body, now), accept: 'application/json',
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: payload === undefined ? undefined : body,
    }, this.options);
    if (!sent.ok) return sent;
    if (sent.status >= 500) return channelFailure('unavailable', `WeChat Pay answered HTTP ${sent.status}`);
    const problem = await platformSignatureProblem(this.platforms, headerOf(sent.headers), sent.text, now);
    if (problem) return channelFailure('bad_response', `WeChat Pay answer: ${problem}`);
    if (sent.text === '') return { ok: true, reply: { status: sent.status, body: {} } };
    const read = jsonAnswer('WeChat Pay', sent.text, wechat_reply);
    return read.ok ? { ok: true, reply: { status: sent.status, body: read.answer } } : read;
  }


  private failureOf(reply: Reply): ChannelResult<never> {
    const code = reply.body.code ?? `HTTP ${reply.status}`;
    const detail = `WeChat Pay: ${code} ${reply.body.message ?? ''}`.trim();
    return channelFailure(retryableErrorCodes.has(code) ? 'unavailable' : 'rejected', detail);
  }

  async prepay(request: PrepayRequest) {
    const unserved = unservedCurrency('WeChat Pay', wechatpay_currencies, request.currency);
    if (unserved) return unserved;
    const order = {
      appid: this.config.appid, mchid: this.config.mchid, description: payerSubject(request, description_chars_max), out_trade_no: request.flowId,
      time_expire: wechatTime(request.expiresAt), notify_url: this.options.notifyUrl, amount: toWechatAmount(request.amount, request.currency),
    };
    switch (request.method) {
      case 'wechat_native': {
        const result = await this.call('POST', '/v3/pay/transactions/native', request.now, order);
        if (!result.ok) return result;
        const codeUrl = result.reply.body.code_url;
        if (result.reply.status !== 200) return this.failureOf(result.reply);
        if (codeUrl === undefined) return channelFailure('bad_response', 'native answer has no code_url');
        return { ok: true as const, action: { type: 'qr_code' as const, qrCode: codeUrl }, channelTradeNo: null };
      }
      case 'wechat_jsapi': {
        if (!request.payerId) return channelFailure('rejected', 'wechat_jsapi needs the payer\'s openid (the order\'s user_id)');
        const result = await this.call('POST', '/v3/pay/transactions/jsapi', request.now, { ...order, payer: { openid: request.payerId } });
        if (!result.ok) return result;
        const prepayId = result.reply.body.prepay_id;
        if (result.reply.status !== 200) return this.failureOf(result.reply);
        if (prepayId === undefined) return channelFailure('bad_response', 'jsapi answer has no prepay_id');
        const params = await jsapiParams(this.config.appid, prepayId, this.config.private_key.reveal(), request.now);
        return { ok: true as const, action: { type: 'none' as const, params }, channelTradeNo: null };
      }
      default:
        return channelFailure('flow_not_supported', `WeChat Pay does not serve ${request.method}`);
    }
  }

  async query({ flowId, now }: TradeQuery) {
    const result = await this.call('GET', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(flowId)}?mchid=${encodeURIComponent(this.config.mchid)}`, now);
    if (!result.ok) return result;
    const { status, body } = result.reply;
    if (status === 404 || body.code === 'ORDER_NOT_EXIST') return { ok: true as const, trade: null };
    if (status !== 200) return this.failureOf(result.reply);
    return this.tradeOf(body, flowId);
  }

  /** A transaction object (query answer or decrypted notify) in paycenter's words. */
  private tradeOf(body: WechatTransaction, flowId: string) {
    if (!isWechatTradeState(body.trade_state)) return channelFailure('bad_response', `unknown trade_state ${String(body.trade_state)}`);
    const total = body.amount?.total;
    return {
      ok: true as const,
      trade: {
        flowId, status: tradeStatusOf(body.trade_state),
        amount: total !== undefined && Number.isSafeInteger(total) ? total : null,
        currency: body.amount?.currency ?? null,
        channelTradeNo: body.transaction_id ?? null,
      },
    };
  }

  async close(flowId: string, now: number) {
    const result = await this.call('POST', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(flowId)}/close`, now, { mchid: this.config.mchid });
    if (!result.ok) return result;
    const { status, body } = result.reply;
    // Closing a trade already closed (ORDER_CLOSED) or never made (ORDER_NOT_EXIST) has the outcome asked for.
    if (status === 204 || status === 200 || body.code === 'ORDER_NOT_EXIST' || body.code === 'ORDER_CLOSED') return { ok: true as const, outcome: 'closed' as const };
    if (body.code === 'ORDERPAID') return { ok: true as const, outcome: 'paid' as const };
    return this.failureOf(result.reply);
  }

  private refundReportOf(reply: Reply, refundId: string) {
    if (!isWechatRefundStatus(reply.body.status)) return channelFailure('bad_response', `unknown refund status ${String(reply.body.status)}`);
    return { ok: true as const, report: { refundId, status: refundStatusOf(reply.body.status) } };
  }

  async refund(call: RefundCall) {
    const unserved = unservedCurrency('WeChat Pay', wechatpay_currencies, call.currency);
    if (unserved) return unserved;
    const result = await this.call('POST', '/v3/refund/domestic/refunds', call.now, {
      out_trade_no: call.flowId, out_refund_no: call.refundId, ...(call.reason ? { reason: call.reason.slice(0, refund_reason_chars_max) } : {}),
      amount: { refund: call.amount, total: call.flowAmount, currency: toWechatAmount(call.amount, call.currency).currency },
    });
    if (!result.ok) return result;
    if (result.reply.status === 200) return this.refundReportOf(result.reply, call.refundId);
    const failure = this.failureOf(result.reply);
    return failure.ok || failure.retryable ? failure : { ok: true as const, report: { refundId: call.refundId, status: 'failed' as const } };
  }

  async refundQuery(refundId: string, _flowId: string, now: number) {
    const result = await this.call('GET', `/v3/refund/domestic/refunds/${encodeURIComponent(refundId)}`, now);
    if (!result.ok) return result;
    // No such refund: the refund call never reached WeChat Pay.
    if (result.reply.status === 404) return { ok: true as const, report: null };
    if (result.reply.status !== 200) return this.failureOf(result.reply);
    return this.refundReportOf(result.reply, refundId);
  }

  async verifyCallback(request: CallbackRequest): Promise<CallbackVerdict> {
    const problem = await platformSignatureProblem(this.platforms, headerOf(request.headers), request.body, request.now);
    if (problem) return { ok: false, reason: problem };
    const notify = readJson('body', request.body, wechat_notify);
    if (!notify.ok) return { ok: false, reason: notify.problem };
    const plain = decryptResource(this.config.apiv3_key.reveal(), notify.value.resource);
    if (plain === null) return { ok: false, reason: 'resource does not decrypt with the APIv3 key' };
    if (notify.value.event_type?.startsWith('REFUND.')) return this.refundNotifyVerdict(plain);
    const read = readJson('resource', plain, wechat_transaction);
    if (!read.ok) return { ok: false, reason: read.problem };
    const transaction = read.value;
    if (transaction.mchid !== this.config.mchid || transaction.appid !== this.config.appid) return { ok: false, reason: 'mchid or appid is not this channel\'s' };
    if (transaction.out_trade_no === undefined) return { ok: false, reason: 'no out_trade_no' };
    const trade = this.tradeOf(transaction, transaction.out_trade_no);
    return trade.ok ? { ok: true, trade: trade.trade } : { ok: false, reason: trade.message };
  }

  /**
   * A refund's notify, sent when the merchant platform has a refund notify address (refund calls
   * name none): verified and acknowledged, or WeChat Pay repeats it for a day; the refund's
   * outcome is the refund query's, which the order keeps asking until the refund is final.
   */
  private refundNotifyVerdict(plain: string): CallbackVerdict {
    const read = readJson('resource', plain, wechat_refund_notify);
    if (!read.ok) return { ok: false, reason: read.problem };
    const refund = read.value;
    if (refund.mchid !== this.config.mchid) return { ok: false, reason: 'mchid is not this channel\'s' };
    if (refund.out_refund_no === undefined) return { ok: false, reason: 'no out_refund_no' };
    return { ok: true, acknowledged: `refund ${refund.out_refund_no} ${refund.refund_status ?? '(no status)'}, settled by the refund query` };
  }

  async downloadStatement(date: string, now: number) {
    const result = await this.call('GET', `/v3/bill/tradebill?bill_date=${encodeURIComponent(date)}&bill_type=ALL&tar_type=GZIP`, now);
    if (!result.ok) return result;
    if (result.reply.status !== 200) return this.failureOf(result.reply);
    const { download_url: url, hash_type: hashType, hash_value: hash } = result.reply.body;
    if (url === undefined) return channelFailure('bad_response', 'no download_url');
    if (hashType !== 'SHA1' || hash === undefined) return channelFailure('bad_response', 'no SHA1 hash_value for the bill');
    // The download is signed like any call, over its path below base_url.
    const target = new URL(url);
    const path = `${target.pathname.slice(this.base.pathname.replace(/\/$/, '').length)}${target.search}`;
    const file = await fetchFromProvider(url, { method: 'GET', headers: { authorization: await authorization(this.merchantKey, 'GET', path, '', now) } }, { ...this.options, bytesMax: statement_bytes_max });
    if (!file.ok) return file;
    if (file.status !== 200) return channelFailure('unavailable', `bill download answered HTTP ${file.status}`);
    return { ok: true as const, file: { bytes: file.bytes, mediaType: 'application/gzip' as const, sha1: hash } };
  }

  statementRows(file: StatementFile) {
    return wechatpayStatementRows(file);
  }
}
