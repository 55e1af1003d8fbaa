/**
 * Plays a provider that answers every prepay at once with a QR code: what routing's own costs are
 * measured against (the round-trips test, bench routing). Nothing else is played.
 */
import type { ChannelAdapter, ChannelResult } from '../../src/channels/adapter.ts';

/** A provider that plays prepays only (its subclass says how); any other call is a test's bug. */
export abstract class PrepayOnlyProvider implements ChannelAdapter {
  abstract readonly provider: string;
  abstract prepay(): Promise<ChannelResult<{ action: { type: 'qr_code'; qrCode: string }; channelTradeNo: null }>>;
  query(): never { throw new Error('not played'); }
  close(): never { throw new Error('not played'); }
  refund(): never { throw new Error('not played'); }
  refundQuery(): never { throw new Error('not played'); }
  downloadStatement(): never { throw new Error('not played'); }
  statementRows(): never { throw new Error('not played'); }
  verifyCallback(): never { throw new Error('not played'); }
  answerCallback(): never { throw new Error('not played'); }
}

export class InstantProvider extends PrepayOnlyProvider {
  readonly provider = 'wechatpay';
  async prepay(): Promise<ChannelResult<{ action: { type: 'qr_code'; qrCode: string }; channelTradeNo: null }>> {
    return { ok: true, action: { type: 'qr_code', qrCode: 'weixin://wxpay/bizpayurl?pr=bench' }, channelTradeNo: null };
  }
}

/** A prepay request for `flowId`, as the effect runner makes one. */
export const prepayRequest = (flowId: string, now: number) => ({
  flowId, method: 'wechat_native', amount: 10_000, currency: 'CNY' as const, subject: 'bench', expiresAt: now + 60_000,
  returnUrl: null, clientIp: null, payerId: null, now,
});
