// The sandbox's memory: provisioned accounts with their keys, trades and refunds. Optionally
// persisted to a JSON file so a developer's sandbox survives restarts.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Timers } from './timers.ts';
import type { UnionpayCa } from './unionpay-pki.ts';

/** Every provider the sandbox plays: the one list routes and fault tables check against. */
export const providers = ['alipay', 'wechatpay', 'unionpay'] as const;
export type Provider = (typeof providers)[number];

export const isProvider = (p: string): p is Provider => (providers as readonly string[]).includes(p);

export type AlipayApp = {
  appId: string;
  sellerId: string;
  /** Kept to verify the merchant's requests. */
  appPublicKey: string;
  /** Handed over once at provisioning; kept only so a restarted sandbox can show it again. */
  appPrivateKey: string;
  alipayPrivateKey: string;
  alipayPublicKey: string;
};

export type WechatMerchant = {
  mchid: string;
  appid: string;
  serialNo: string;
  merchantPublicKey: string;
  merchantPrivateKey: string;
  apiv3Key: string;
  platformSerial: string;
  platformPrivateKey: string;
  platformPublicKey: string;
};

export type UnionpayMerchant = {
  merId: string;
  /** The merchant's signing certificate; its decimal serial is the `certId` requests carry. */
  certPem: string;
  certId: string;
  /** Handed over once (inside the PKCS#12); kept only so a restarted sandbox can show it again. */
  pfxBase64: string;
  pfxPassword: string;
};

export type Refund = {
  outRefundNo: string;
  refundId: string;
  amountFen: number;
  reason?: string;
  notifyUrl?: string;
  createdAt: number;
  /** UnionPay: the transaction that gave the money back (04 refund, 31 consume undo) and its txnTime. */
  txnType?: string;
  txnTime?: string;
};

/**
 * One trade, provider-neutral. `state` is what happened; what each provider *reports*
 * (WAIT_BUYER_PAY / NOTPAY, expiry, REFUND…) is derived in its module.
 */
export type Trade = {
  provider: Provider;
  account: string; // app_id, mchid or merId
  outTradeNo: string; // UnionPay: orderId
  tradeNo: string; // Alipay trade_no / WeChat transaction_id / UnionPay queryId
  totalFen: number;
  subject: string;
  tradeType: string; // precreate | page | NATIVE | JSAPI | web | qr
  /** UnionPay: the consume's txnTime, which a query must repeat with the orderId. */
  txnTime?: string;
  appid?: string;
  openid?: string;
  notifyUrl?: string;
  returnUrl?: string;
  state: 'WAIT' | 'SUCCESS' | 'CLOSED' | 'PAYERROR';
  createdAt: number;
  expireAt?: number;
  paidAt?: number;
  closedAt?: number;
  refunds: Refund[];
  /** Delivery record of this trade's notifies, for tests and the developer. */
  /**
   * How its notifies went: `recent` holds what became of the last sends (dropped, the answer's
   * status, or the error), oldest first (absent from a state file saved before it was kept).
   */
  notify: { sent: number; attempts: number; delivered: number; failed: number; lastStatus?: string; recent?: string[] };
};

export type SandboxState = {
  alipayApps: Record<string, AlipayApp>;
  wechatMerchants: Record<string, WechatMerchant>;
  unionpayMerchants?: Record<string, UnionpayMerchant>;
  unionpayCa?: UnionpayCa;
  trades: Trade[];
};

/** Bound on trades kept: the oldest are forgotten first. */
export const MAX_TRADES = 20_000;

export function tradeKey(provider: Provider, account: string, outTradeNo: string): string {
  return `${provider}\u0000${account}\u0000${outTradeNo}`;
}

export class Store {
  readonly alipayApps = new Map<string, AlipayApp>();
  readonly wechatMerchants = new Map<string, WechatMerchant>();
  readonly unionpayMerchants = new Map<string, UnionpayMerchant>();
  /** Created on first UnionPay use (key generation costs a second or two), then kept. */
  unionpayCa: UnionpayCa | undefined;
  /** Insertion-ordered, so eviction drops the oldest. */
  private readonly trades = new Map<string, Trade>();
  private saveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly path: string | undefined,
    private readonly timers: Timers,
  ) {
    if (path && existsSync(path)) this.load(path);
  }

  private load(path: string): void {
    const data = JSON.parse(readFileSync(path, 'utf8')) as Partial<SandboxState>;
    for (const [k, v] of Object.entries(data.alipayApps ?? {})) this.alipayApps.set(k, v);
    for (const [k, v] of Object.entries(data.wechatMerchants ?? {})) this.wechatMerchants.set(k, v);
    for (const [k, v] of Object.entries(data.unionpayMerchants ?? {})) this.unionpayMerchants.set(k, v);
    this.unionpayCa = data.unionpayCa;
    for (const t of data.trades ?? []) this.trades.set(tradeKey(t.provider, t.account, t.outTradeNo), t);
  }

  getTrade(provider: Provider, account: string, outTradeNo: string): Trade | undefined {
    return this.trades.get(tradeKey(provider, account, outTradeNo));
  }

  findTradeByTradeNo(provider: Provider, account: string, tradeNo: string): Trade | undefined {
    for (const t of this.trades.values()) {
      if (t.provider === provider && t.account === account && t.tradeNo === tradeNo) return t;
    }
    return undefined;
  }

  findRefund(provider: Provider, account: string, outRefundNo: string): { trade: Trade; refund: Refund } | undefined {
    for (const trade of this.trades.values()) {
      if (trade.provider !== provider || trade.account !== account) continue;
      const refund = trade.refunds.find((r) => r.outRefundNo === outRefundNo);
      if (refund) return { trade, refund };
    }
    return undefined;
  }

  tradesOf(provider: Provider, account: string): Trade[] {
    return [...this.trades.values()].filter((t) => t.provider === provider && t.account === account);
  }

  putTrade(trade: Trade): void {
    this.trades.set(tradeKey(trade.provider, trade.account, trade.outTradeNo), trade);
    while (this.trades.size > MAX_TRADES) {
      const oldest = this.trades.keys().next().value;
      if (oldest === undefined) break;
      this.trades.delete(oldest);
    }
    this.changed();
  }

  /** Call after mutating anything held by the store; saves are debounced. */
  changed(): void {
    if (!this.path || this.saveTimer !== undefined) return;
    this.saveTimer = this.timers.after(200, () => {
      this.saveTimer = undefined;
      this.flush();
    });
  }

  flush(): void {
    if (!this.path) return;
    if (this.saveTimer !== undefined) {
      this.timers.cancel(this.saveTimer);
      this.saveTimer = undefined;
    }
    const data: SandboxState = {
      alipayApps: Object.fromEntries(this.alipayApps),
      wechatMerchants: Object.fromEntries(this.wechatMerchants),
      unionpayMerchants: Object.fromEntries(this.unionpayMerchants),
      ...(this.unionpayCa ? { unionpayCa: this.unionpayCa } : {}),
      trades: [...this.trades.values()],
    };
    mkdirSync(dirname(this.path), { recursive: true });
    // Write-then-rename so a crash mid-write never leaves half a file.
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(data));
    renameSync(tmp, this.path);
  }
}

export function newNotifyRecord(): Trade['notify'] {
  return { sent: 0, attempts: 0, delivered: 0, failed: 0, recent: [] };
}
