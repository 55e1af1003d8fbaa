/**
 * Alipay (open platform, RSA2): alipay_qr through alipay.trade.precreate, alipay_page through a
 * signed alipay.trade.page.pay link the payer's browser opens; trade query and close, refund and
 * refund query, the daily bill, and the asynchronous notify. Whether the gateway is Alipay's or
 * the bundled sandbox is only a matter of `gateway_url`.
 */
import {
  type CallbackRequest,
  type CallbackVerdict,
  type ChannelAdapter,
  type ChannelResult,
  type PrepayRequest,
  type RefundCall,
  type RefundReport,
  type TradeQuery,
  callProvider,
  channelFailure,
  fetchFromProvider,
  jsonAnswer,
  statement_bytes_max,
  unservedCurrency,
  payerSubject,
} from '../adapter.ts';
import * as v from 'valibot';
import type { AdapterOptions } from '../plugin.ts';
import type { StatementFile } from '../statement.ts';
import { type AlipayConfig, type AlipaySettings, alipay_config } from './config.ts';
import { alipayStatementRows } from './statement.ts';
import { signRequest, signedMember, verifyAnswer, verifyNotify } from './signing.ts';
import {
  type AlipayAnswer, alipay_answer, alipay_currencies, alipay_notify, alipayTime, codeClassOf, fromAlipayAmount, isAlipayTradeStatus, toAlipayAmount, tradeStatusOf,
} from './transformers.ts';

export type { AlipayConfig } from './config.ts';

/** Alipay's limit on a refund reason, in characters. */
const refund_reason_chars_max = 256;
/** Alipay's limit on `subject`, in characters. */
const subject_chars_max = 256;

type Answer = AlipayAnswer;

export class AlipayAdapter implements ChannelAdapter {
  readonly provider = 'alipay';
  private readonly config: AlipaySettings;

  /** Takes the config as operators give it; from here on the private key is a Secret. */
  constructor(
    config: AlipayConfig,
    private readonly options: Omit<AdapterOptions, 'pagesUrl'>,
  ) {
    this.config = v.parse(alipay_config, config);
  }

  private async signedParams(method: string, biz: Record<string, unknown>, now: number, extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const params: Record<string, string> = {
      app_id: this.config.app_id, method, format: 'JSON', charset: 'utf-8', sign_type: 'RSA2',
      timestamp: alipayTime(now), version: '1.0', biz_content: JSON.stringify(biz), ...extra,
    };
    return { ...params, sign: await signRequest(params, this.config.private_key.reveal()) };
  }

  /** One gateway call; the answer counts only when its signature verifies. */
  private async call(method: string, biz: Record<string, unknown>, now: number, extra?: Record<string, string>): Promise<ChannelResult<{ answer: Answer }>> {
    const params = await this.signedParams(method, biz, now, extra);
    const sent = await callProvider(this.config.gateway_url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
      body: new URLSearchParams(params).toString(),
    }, this.options);
    if (!sent.ok) return sent;
    if (sent.status >= 500) return channelFailure('unavailable', `Alipay answered HTTP ${sent.status}`);
    const memberKey = `${method.replaceAll('.', '_')}_response`;
    // A refusal at the gateway itself (an app it does not know, a method it does not serve) comes
    // as `error_response` instead of the method's member, as the official SDK reads it.
    const member = signedMember(sent.text, memberKey) ?? signedMember(sent.text, 'error_response');
    if (!member) return channelFailure('bad_response', `Alipay answer has no ${memberKey}`);
    const read = jsonAnswer('Alipay', member.text, alipay_answer);
    if (!read.ok) return read;
    const { answer } = read;
    if (member.sign === null) {
      // Only a refusal of our own request may come unsigned, and it can never report a trade.
      return answer.code === '40002'
        ? channelFailure('rejected', `Alipay refused the request: ${answer.sub_code ?? answer.code} ${answer.sub_msg ?? answer.msg ?? ''}`.trim())
        : channelFailure('bad_response', `unsigned Alipay answer (code ${answer.code})`);
    }
    if (!(await verifyAnswer(member.text, member.sign, this.config.alipay_public_key))) return channelFailure('bad_response', 'Alipay answer signature does not verify');
    return { ok: true, answer };
  }

  private failureOf(answer: Answer): ChannelResult<never> {
    const detail = `${answer.sub_code ?? answer.code} ${answer.sub_msg ?? answer.msg ?? ''}`.trim();
    return channelFailure(codeClassOf(answer.code, answer.sub_code) === 'unavailable' ? 'unavailable' : 'rejected', `Alipay: ${detail}`);
  }

  async prepay(request: PrepayRequest) {
    const unserved = unservedCurrency('Alipay', alipay_currencies, request.currency);
    if (unserved) return unserved;
    const biz = {
      out_trade_no: request.flowId, total_amount: toAlipayAmount(request.amount, request.currency),
      subject: payerSubject(request, subject_chars_max), time_expire: alipayTime(request.expiresAt),
    };
    switch (request.method) {
      case 'alipay_qr': {
        const result = await this.call('alipay.trade.precreate', biz, request.now, { notify_url: this.options.notifyUrl });
        if (!result.ok) return result;
        if (codeClassOf(result.answer.code, result.answer.sub_code) !== 'success') return this.failureOf(result.answer);
        const qrCode = result.answer.qr_code;
        if (qrCode === undefined) return channelFailure('bad_response', 'precreate answer has no qr_code');
        return { ok: true as const, action: { type: 'qr_code' as const, qrCode }, channelTradeNo: null };
      }
      case 'alipay_page': {
        // A page payment is a signed link the payer's browser opens at the gateway: no call here.
        const extra: Record<string, string> = { notify_url: this.options.notifyUrl };
        if (request.returnUrl) extra.return_url = request.returnUrl;
        const params = await this.signedParams('alipay.trade.page.pay', { ...biz, product_code: 'FAST_INSTANT_TRADE_PAY' }, request.now, extra);
        const payUrl = `${this.config.gateway_url}?${new URLSearchParams(params).toString()}`;
        return { ok: true as const, action: { type: 'redirect' as const, payUrl }, channelTradeNo: null };
      }
      default:
        return channelFailure('flow_not_supported', `Alipay does not serve ${request.method}`);
    }
  }

  async query({ flowId, now }: TradeQuery) {
    const result = await this.call('alipay.trade.query', { out_trade_no: flowId }, now);
    if (!result.ok) return result;
    const answer = result.answer;
    if (answer.sub_code === 'ACQ.TRADE_NOT_EXIST') return { ok: true as const, trade: null };
    if (codeClassOf(answer.code, answer.sub_code) !== 'success') return this.failureOf(answer);
    if (!isAlipayTradeStatus(answer.trade_status)) return channelFailure('bad_response', `unknown trade_status ${String(answer.trade_status)}`);
    return {
      ok: true as const,
      trade: {
        flowId, status: tradeStatusOf(answer.trade_status), amount: fromAlipayAmount(answer.total_amount),
        currency: 'CNY', channelTradeNo: answer.trade_no ?? null,
      },
    };
  }

  async close(flowId: string, now: number) {
    const result = await this.call('alipay.trade.close', { out_trade_no: flowId }, now);
    if (!result.ok) return result;
    const answer = result.answer;
    // A QR trade the payer never scanned does not exist at Alipay: nothing to close. Should it
    // be paid later anyway, the order refunds that payment automatically.
    if (answer.code === '10000' || answer.sub_code === 'ACQ.TRADE_NOT_EXIST') return { ok: true as const, outcome: 'closed' as const };
    if (answer.sub_code === 'ACQ.TRADE_STATUS_ERROR') return { ok: true as const, outcome: 'paid' as const };
    return this.failureOf(answer);
  }

  async refund(call: RefundCall) {
    const unserved = unservedCurrency('Alipay', alipay_currencies, call.currency);
    if (unserved) return unserved;
    const result = await this.call('alipay.trade.refund', {
      out_trade_no: call.flowId, out_request_no: call.refundId, refund_amount: toAlipayAmount(call.amount, call.currency),
      ...(call.reason ? { refund_reason: call.reason.slice(0, refund_reason_chars_max) } : {}),
    }, call.now);
    if (!result.ok) return result;
    const answer = result.answer;
    const report = (status: RefundReport['status']) => ({ ok: true as const, report: { refundId: call.refundId, status } });
    switch (codeClassOf(answer.code, answer.sub_code)) {
      case 'success':
        // fund_change N: the money did not move on this call (a repeat); the refund query says whether it moved before.
        return report(answer.fund_change === 'Y' ? 'succeeded' : 'pending');
      case 'unavailable':
        return this.failureOf(answer);
      case 'rejected':
        return report('failed');
    }
  }

  async refundQuery(refundId: string, flowId: string, now: number) {
    const result = await this.call('alipay.trade.fastpay.refund.query', { out_trade_no: flowId, out_request_no: refundId }, now);
    if (!result.ok) return result;
    const answer = result.answer;
    if (codeClassOf(answer.code, answer.sub_code) !== 'success') return this.failureOf(answer);
    // No refund_status: Alipay has no such refund — the refund call never reached it.
    if (answer.refund_status === undefined) return { ok: true as const, report: null };
    return { ok: true as const, report: { refundId, status: answer.refund_status === 'REFUND_SUCCESS' ? 'succeeded' as const : 'pending' as const } };
  }

  async verifyCallback(request: CallbackRequest): Promise<CallbackVerdict> {
    const form = Object.fromEntries(new URLSearchParams(request.body));
    if (!(await verifyNotify(form, this.config.alipay_public_key))) return { ok: false, reason: 'signature does not verify' };
    const params = v.parse(alipay_notify, form);
    if (params.app_id !== this.config.app_id) return { ok: false, reason: `app_id ${params.app_id ?? '(none)'} is not this channel's` };
    if (this.config.seller_id && params.seller_id !== this.config.seller_id) return { ok: false, reason: 'seller_id is not this channel\'s' };
    if (!params.out_trade_no) return { ok: false, reason: 'no out_trade_no' };
    if (!isAlipayTradeStatus(params.trade_status)) return { ok: false, reason: `unknown trade_status ${params.trade_status ?? '(none)'}` };
    return {
      ok: true,
      trade: {
        flowId: params.out_trade_no, status: tradeStatusOf(params.trade_status), amount: fromAlipayAmount(params.total_amount),
        currency: 'CNY', channelTradeNo: params.trade_no ?? null,
      },
    };
  }

  async downloadStatement(date: string, now: number) {
    const result = await this.call('alipay.data.dataservice.bill.downloadurl.query', { bill_type: 'trade', bill_date: date }, now);
    if (!result.ok) return result;
    if (codeClassOf(result.answer.code, result.answer.sub_code) !== 'success') return this.failureOf(result.answer);
    const url = result.answer.bill_download_url;
    if (url === undefined) return channelFailure('bad_response', 'no bill_download_url');
    const file = await fetchFromProvider(url, { method: 'GET' }, { ...this.options, bytesMax: statement_bytes_max });
    if (!file.ok) return file;
    if (file.status !== 200) return channelFailure('unavailable', `bill download answered HTTP ${file.status}`);
    return { ok: true as const, file: { bytes: file.bytes, mediaType: 'application/zip' as const, sha1: null } };
  }

  statementRows(file: StatementFile) {
    return alipayStatementRows(file);
  }
}
