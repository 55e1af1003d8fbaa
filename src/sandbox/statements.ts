// The daily statements (对账单) as each provider serves them, built from what the sandbox really
// collected and refunded that China day — and, for reconciliation tests, with differences of
// every kind injected on request:
//   PUT /statements/:provider/:account { fee_rate, hide, omit, amount_delta_fen, revoke, fee_delta_fen, next_day }
// hide: a payment that happened, but whose notifies are lost and whose queries and closes get
// no answer (the channel collected; paycenter cannot know). The others change only the file.
import { Hono } from 'hono';
import iconv from 'iconv-lite';
import { zipSync, gzipSync } from 'fflate';
import type { SandboxContext } from './context.ts';
import { type Provider, type Trade, isProvider } from './state.ts';
import { alipayTime, billDay, fenToYuan } from './util.ts';

export type StatementFaults = {
  /** The provider's fee rate, charged on payments and given back pro rata on refunds. */
  fee_rate: number;
  hide: string[];
  /** out_trade_no (payment lines) or out_refund_no (refund lines) left out of the file. */
  omit: string[];
  amount_delta_fen: Record<string, number>;
  /** WeChat Pay only: payment lines written as REVOKED. */
  revoke: string[];
  fee_delta_fen: Record<string, number>;
  /** Lines written into the next day's file instead. */
  next_day: string[];
};

const NO_STATEMENT_FAULTS: StatementFaults = { fee_rate: 0.006, hide: [], omit: [], amount_delta_fen: {}, revoke: [], fee_delta_fen: {}, next_day: [] };

/** Bound on the ids one fault list may name. */
const FAULT_IDS_MAX = 10_000;

export class StatementFaultTable {
  private readonly table = new Map<string, StatementFaults>();

  get(provider: Provider, account: string): StatementFaults {
    return this.table.get(`${provider}\u0000${account}`) ?? NO_STATEMENT_FAULTS;
  }

  set(provider: Provider, account: string, faults: StatementFaults): void {
    this.table.set(`${provider}\u0000${account}`, faults);
  }

  clear(provider: Provider, account: string): void {
    this.table.delete(`${provider}\u0000${account}`);
  }

  /** A payment the channel keeps to itself: no notify, and queries and closes go unanswered. */
  hides(trade: Trade): boolean {
    return trade.state === 'SUCCESS' && this.get(trade.provider, trade.account).hide.includes(trade.outTradeNo);
  }
}

function parseStatementFaults(body: unknown): StatementFaults | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be a JSON object';
  const b = body as Record<string, unknown>;
  const ids = (key: string): string[] | string => {
    const v = b[key] ?? [];
    return Array.isArray(v) && v.length <= FAULT_IDS_MAX && v.every((s) => typeof s === 'string') ? (v as string[]) : `${key} must be a list of ids`;
  };
  const deltas = (key: string): Record<string, number> | string => {
    const v = b[key] ?? {};
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${key} must be an object of id → fen`;
    const entries = Object.entries(v);
    return entries.length <= FAULT_IDS_MAX && entries.every(([, n]) => Number.isSafeInteger(n)) ? (v as Record<string, number>) : `${key} must map ids to whole fen`;
  };
  const feeRate = b.fee_rate ?? NO_STATEMENT_FAULTS.fee_rate;
  if (typeof feeRate !== 'number' || !(feeRate >= 0 && feeRate < 0.1)) return 'fee_rate must be a number in 0..0.1';
  const parts = { hide: ids('hide'), omit: ids('omit'), revoke: ids('revoke'), next_day: ids('next_day'), amount_delta_fen: deltas('amount_delta_fen'), fee_delta_fen: deltas('fee_delta_fen') };
  for (const value of Object.values(parts)) if (typeof value === 'string') return value;
  return { fee_rate: feeRate, ...(parts as Omit<StatementFaults, 'fee_rate'>) };
}

/** One line of a day's statement, provider-neutral; each provider's writer formats it. */
/** `fee5`: the fee in 1/100000 yuan (WeChat Pay writes five decimals), positive when charged. */
type Line = { kind: 'payment' | 'refund'; trade: Trade; refundNo: string | null; refundId: string | null; amountFen: number; fee5: number; at: number; revoked: boolean };

/** Fee in 1/100000 yuan of fen at a rate; refunds give the fee back pro rata (negative). */
const feeOf = (fen: number, rate: number) => Math.round(fen * rate * 1000);

/** The lines of one account's statement for one China day, faults applied. */
function linesOf(ctx: SandboxContext, provider: Provider, account: string, day: string, faults: StatementFaults): Line[] {
  const lineDay = (id: string, at: number) => (faults.next_day.includes(id) ? billDay(at + 86_400_000) : billDay(at));
  const lines: Line[] = [];
  for (const trade of ctx.store.tradesOf(provider, account)) {
    if (trade.paidAt !== undefined && lineDay(trade.outTradeNo, trade.paidAt) === day && !faults.omit.includes(trade.outTradeNo)) {
      const fen = trade.totalFen + (faults.amount_delta_fen[trade.outTradeNo] ?? 0);
      const fee = feeOf(trade.totalFen, faults.fee_rate) + (faults.fee_delta_fen[trade.outTradeNo] ?? 0) * 1000;
      lines.push({ kind: 'payment', trade, refundNo: null, refundId: null, amountFen: fen, fee5: fee, at: trade.paidAt, revoked: faults.revoke.includes(trade.outTradeNo) });
    }
    for (const r of trade.refunds) {
      if (lineDay(r.outRefundNo, r.createdAt) !== day || faults.omit.includes(r.outRefundNo)) continue;
      const fen = r.amountFen + (faults.amount_delta_fen[r.outRefundNo] ?? 0);
      const fee = -feeOf(r.amountFen, faults.fee_rate) - (faults.fee_delta_fen[r.outRefundNo] ?? 0) * 1000;
      lines.push({ kind: 'refund', trade, refundNo: r.outRefundNo, refundId: r.refundId, amountFen: fen, fee5: fee, at: r.createdAt, revoked: false });
    }
  }
  return lines;
}

const yuan5 = (units5: number) => `${units5 < 0 ? '-' : ''}${Math.floor(Math.abs(units5) / 100_000)}.${String(Math.abs(units5) % 100_000).padStart(5, '0')}`;
const csvCell = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/**
 * Alipay's trade bill: a zip of two GBK CSVs, `<account>_<yyyyMMdd>_业务明细.csv` (one line a trade
 * or refund, fields padded with a tab, `#` banner and footer) and `…_业务明细(汇总).csv`.
 * (Entry names are written in UTF-8 with the zip's UTF-8 flag; Alipay's own are GBK — readers
 * must take either.)
 */
export function alipayStatementZip(ctx: SandboxContext, appId: string, day: string): Uint8Array {
  const faults = ctx.statements.get('alipay', appId);
  const lines = linesOf(ctx, 'alipay', appId, day, faults);
  const header = ['支付宝交易号', '商户订单号', '业务类型', '商品名称', '创建时间', '完成时间', '门店编号', '门店名称', '操作员', '终端号', '对方账户', '订单金额（元）', '商家实收（元）', '支付宝红包（元）', '集分宝（元）', '支付宝优惠（元）', '商家优惠（元）', '券核销金额（元）', '券名称', '商家红包消费金额（元）', '卡消费金额（元）', '退款批次号/请求号', '服务费（元）', '分润（元）', '备注'];
  const pad = (cells: string[]) => cells.map((c) => `${csvCell(c)}\t`).join(',');
  const fee2 = (units5: number) => fenToYuan(-Math.round(units5 / 1000));
  const body = lines.map((l) =>
    pad([l.trade.tradeNo, l.trade.outTradeNo, l.kind === 'payment' ? '交易' : '退款', l.trade.subject, alipayTime(l.trade.createdAt), alipayTime(l.at), '', '', '', '', 'sandbox***@alipay.com',
      fenToYuan(l.kind === 'payment' ? l.amountFen : l.trade.totalFen), fenToYuan(l.kind === 'payment' ? l.amountFen : -l.amountFen), '0.00', '0.00', '0.00', '0.00', '0.00', '', '0.00', '0.00', l.refundNo ?? '', fee2(l.fee5), '0.00', '']),
  );
  const payments = lines.filter((l) => l.kind === 'payment');
  const refunds = lines.filter((l) => l.kind === 'refund');
  const compact = day.replaceAll('-', '');
  const detail = [
    '#支付宝业务明细查询', `#账号：[${appId}]`, `#起始日期：[${day} 00:00:00]   终止日期：[${day} 23:59:59]`,
    '#-----------------------------------------业务明细列表----------------------------------------', header.join(','), ...body,
    '#-----------------------------------------业务明细列表结束------------------------------------',
    `#交易合计：${payments.length}笔，退款合计：${refunds.length}笔`, `#导出时间：[${alipayTime(ctx.now())}]`,
  ];
  const net = payments.reduce((s, l) => s + l.amountFen, 0) - refunds.reduce((s, l) => s + l.amountFen, 0);
  const summary = ['#支付宝业务汇总查询', `#账号：[${appId}]`, '门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）', `合计,,${payments.length},${refunds.length},${fenToYuan(net)},${fenToYuan(net)}`];
  const gbk = (text: string[]) => new Uint8Array(iconv.encode(`${text.join('\r\n')}\r\n`, 'gbk'));
  return zipSync({ [`${appId}_${compact}_业务明细.csv`]: gbk(detail), [`${appId}_${compact}_业务明细(汇总).csv`]: gbk(summary) });
}

/** WeChat Pay's ALL trade bill: UTF-8, every field prefixed by a backtick, a two-line summary. */
export function wechatStatementCsv(ctx: SandboxContext, mchid: string, appid: string, day: string): string {
  const faults = ctx.statements.get('wechatpay', mchid);
  const lines = linesOf(ctx, 'wechatpay', mchid, day, faults);
  const header = ['交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态', '付款银行', '货币种类', '应结订单金额', '代金券金额', '微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态', '商品名称', '商户数据包', '手续费', '费率', '订单金额', '申请退款金额', '费率备注'];
  const rate = `${(faults.fee_rate * 100).toFixed(2)}%`;
  const time = (ms: number) => alipayTime(ms);
  const rows = lines.map((l) => {
    const base = [time(l.at), l.trade.appid ?? appid, mchid, '0', '', l.trade.tradeNo, l.trade.outTradeNo, l.trade.openid ?? 'sandbox-openid', l.trade.tradeType];
    return l.kind === 'payment'
      ? [...base, l.revoked ? 'REVOKED' : 'SUCCESS', 'OTHERS', 'CNY', fenToYuan(l.amountFen), '0.00', '0', '0', '0.00', '0.00', '', '', l.trade.subject, '', yuan5(l.fee5), rate, fenToYuan(l.amountFen), '0.00', '']
      : [...base, 'REFUND', 'OTHERS', 'CNY', '0.00', '0.00', l.refundId ?? '', l.refundNo ?? '', fenToYuan(l.amountFen), '0.00', 'ORIGINAL', 'SUCCESS', l.trade.subject, '', yuan5(l.fee5), rate, fenToYuan(l.trade.totalFen), fenToYuan(l.amountFen), ''];
  });
  const tick = (cells: string[]) => cells.map((v) => `\`${v.replaceAll(',', '，')}`).join(',');
  const sum = (kind: Line['kind'], of: (l: Line) => number) => lines.filter((l) => l.kind === kind).reduce((s, l) => s + of(l), 0);
  const paid = sum('payment', (l) => l.amountFen);
  const refunded = sum('refund', (l) => l.amountFen);
  const fees = lines.reduce((s, l) => s + l.fee5, 0);
  return [
    header.join(','), ...rows.map(tick),
    '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额',
    tick([String(lines.length), fenToYuan(paid), fenToYuan(refunded), '0.00', yuan5(fees), fenToYuan(paid), fenToYuan(refunded)]),
  ].join('\r\n') + '\r\n';
}

export const gzipped = (text: string): Uint8Array => gzipSync(new TextEncoder().encode(text));

/** The fault switchboard for statements (tests only). */
export function statementRoutes(ctx: SandboxContext): Hono {
  const app = new Hono();
  app.put('/:provider/:account', async (c) => {
    const provider = c.req.param('provider');
    if (!isProvider(provider)) return c.json({ error: 'unknown provider' }, 404);
    const parsed = parseStatementFaults(await c.req.json().catch(() => undefined));
    if (typeof parsed === 'string') return c.json({ error: parsed }, 400);
    ctx.statements.set(provider, c.req.param('account'), parsed);
    return c.json(parsed);
  });
  app.delete('/:provider/:account', (c) => {
    const provider = c.req.param('provider');
    if (!isProvider(provider)) return c.json({ error: 'unknown provider' }, 404);
    ctx.statements.clear(provider, c.req.param('account'));
    return c.body(null, 204);
  });
  return app;
}
