/**
 * Statement files read into rows, from files shaped like the providers' own (built here, byte by
 * byte, not by the sandbox): Alipay's GBK zip with `#` banners and tab-padded fields, WeChat
 * Pay's backticked CSV plain and gzipped with its SHA1; header variants; and every way a file is
 * refused whole.
 */
import { describe, expect, test } from 'bun:test';
import { gzipSync, zipSync } from 'fflate';
import iconv from 'iconv-lite';
import { alipayStatementRows } from '../../src/channels/alipay/statement.ts';
import type { StatementFile, StatementRow } from '../../src/channels/statement.ts';
import { wechatpayStatementRows } from '../../src/channels/wechatpay/statement.ts';
import { wechatCsv, wechatHeader } from './files.ts';
import { refusalOf } from './refusal.ts';

const collect = async (rows: AsyncIterable<StatementRow>) => {
  const all: StatementRow[] = [];
  for await (const row of rows) all.push(row);
  return all;
};
const refusal = (rows: AsyncIterable<StatementRow>): Promise<string> => refusalOf(() => collect(rows));

const alipayHeader = ['支付宝交易号', '商户订单号', '业务类型', '商品名称', '创建时间', '完成时间', '门店编号', '门店名称', '操作员', '终端号', '对方账户', '订单金额（元）', '商家实收（元）', '支付宝红包（元）', '集分宝（元）', '支付宝优惠（元）', '商家优惠（元）', '券核销金额（元）', '券名称', '商家红包消费金额（元）', '卡消费金额（元）', '退款批次号/请求号', '服务费（元）', '分润（元）', '备注'];

function alipayLine(values: Record<string, string>, header = alipayHeader): string {
  return header.map((name) => `${values[name] ?? ''}\t`).join(',');
}

function alipayZip(lines: string[], options: { entry?: string } = {}): StatementFile {
  const detail = ['#支付宝业务明细查询', '#账号：[2088000000000001]', '#-----------------------------------------业务明细列表----------------------------------------', ...lines, '#-----------------------------------------业务明细列表结束------------------------------------', '#交易合计：1笔，退款合计：1笔'];
  const gbk = (text: string) => new Uint8Array(iconv.encode(`${text}\r\n`, 'gbk'));
  const bytes = zipSync({ [options.entry ?? '2088000000000001_20261130_业务明细.csv']: gbk(detail.join('\r\n')), '2088000000000001_20261130_业务明细(汇总).csv': gbk('#汇总') });
  return { bytes, mediaType: 'application/zip', sha1: null };
}

/** A zip of stored (uncompressed) entries whose names are the given bytes, with no UTF-8 flag: as Alipay writes GBK names. */
function storedZip(entries: Array<[Uint8Array, Uint8Array]>): Uint8Array {
  const parts: Uint8Array[] = [];
  const directory: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const crc = Bun.hash.crc32(data);
    const local = new DataView(new ArrayBuffer(30));
    [[0, 0x04034b50, 4], [4, 20, 2], [14, crc, 4], [18, data.length, 4], [22, data.length, 4], [26, name.length, 2]].forEach(([at, v, n]) => (n === 4 ? local.setUint32(at!, v!, true) : local.setUint16(at!, v!, true)));
    const central = new DataView(new ArrayBuffer(46));
    [[0, 0x02014b50, 4], [4, 20, 2], [6, 20, 2], [16, crc, 4], [20, data.length, 4], [24, data.length, 4], [28, name.length, 2], [42, offset, 4]].forEach(([at, v, n]) => (n === 4 ? central.setUint32(at!, v!, true) : central.setUint16(at!, v!, true)));
    parts.push(new Uint8Array(local.buffer), name, data);
    directory.push(new Uint8Array(central.buffer), name);
    offset += 30 + name.length + data.length;
  }
  const size = directory.reduce((n, d) => n + d.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  [[0, 0x06054b50, 4], [8, entries.length, 2], [10, entries.length, 2], [12, size, 4], [16, offset, 4]].forEach(([at, v, n]) => (n === 4 ? end.setUint32(at!, v!, true) : end.setUint16(at!, v!, true)));
  return Buffer.concat([...parts, ...directory, new Uint8Array(end.buffer)]);
}

const paid = { 支付宝交易号: '2026113022001400001', 商户订单号: 'flw_A', 业务类型: '交易', 商品名称: '酒店两晚', 创建时间: '2026-11-30 09:59:00', 完成时间: '2026-11-30 10:00:01', '订单金额（元）': '100.00', '商家实收（元）': '100.00', '服务费（元）': '-0.60' };
const refunded = { 支付宝交易号: '2026113022001400001', 商户订单号: 'flw_A', 业务类型: '退款', 创建时间: '2026-11-30 09:59:00', 完成时间: '2026-11-30 12:00:00', '订单金额（元）': '100.00', '商家实收（元）': '-30.00', '退款批次号/请求号': 'rfd_B', '服务费（元）': '0.18' };

describe("Alipay's trade bill", () => {
  test('payments and refunds in GBK, tab-padded, between # banners, become rows', async () => {
    const rows = await collect(alipayStatementRows(alipayZip([alipayHeader.join(','), alipayLine(paid), alipayLine(refunded)])));
    expect(rows).toEqual([
      { kind: 'payment', channelTradeNo: '2026113022001400001', flowId: 'flw_A', refundId: null, amount: 10_000, feeMilli: 60_000, at: Date.parse('2026-11-30T10:00:01+08:00'), status: 'succeeded' },
      { kind: 'refund', channelTradeNo: '2026113022001400001', flowId: 'flw_A', refundId: 'rfd_B', amount: 3_000, feeMilli: 18_000, at: Date.parse('2026-11-30T12:00:00+08:00'), status: 'succeeded' },
    ]);
  });

  test('columns are found by name: an added column and a reordered header read the same', async () => {
    const header = ['新增列', ...alipayHeader].reverse();
    const rows = await collect(alipayStatementRows(alipayZip([header.join(','), alipayLine({ ...paid, 新增列: 'x' }, header)])));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ flowId: 'flw_A', amount: 10_000, feeMilli: 60_000 });
  });

  test("Alipay's own zips name entries in GBK (no UTF-8 flag) and may store them uncompressed", async () => {
    const detail = new Uint8Array(iconv.encode(['#支付宝业务明细查询', alipayHeader.join(','), alipayLine(paid), '#交易合计：1笔'].join('\r\n'), 'gbk'));
    const rows = await collect(alipayStatementRows({ bytes: storedZip([[iconv.encode('2088000000000001_20261130_业务明细.csv', 'gbk'), detail]]), mediaType: 'application/zip', sha1: null }));
    expect(rows).toMatchObject([{ flowId: 'flw_A', amount: 10_000, feeMilli: 60_000 }]);
  });

  test('a corrupted zip, a zip without the detail entry, a missing column and a bad amount are refused whole', async () => {
    const good = alipayZip([alipayHeader.join(','), alipayLine(paid)]);
    expect(await refusal(alipayStatementRows({ ...good, bytes: good.bytes.slice(0, good.bytes.length - 40) }))).toContain('not a readable zip');
    expect(await refusal(alipayStatementRows(alipayZip([alipayHeader.join(',')], { entry: 'other.csv' })))).toContain('业务明细.csv');
    const lacking = alipayHeader.filter((name) => name !== '服务费（元）');
    expect(await refusal(alipayStatementRows(alipayZip([lacking.join(','), alipayLine(paid, lacking)])))).toContain('服务费（元）');
    expect(await refusal(alipayStatementRows(alipayZip([alipayHeader.join(','), alipayLine({ ...paid, '订单金额（元）': '1e2' })])))).toContain('"1e2" is not an amount');
    expect(await refusal(alipayStatementRows({ ...good, mediaType: 'text/csv' }))).toContain('zip');
  });
});

const wxPaid = { 交易时间: '2026-11-30 10:00:01', 微信订单号: '4200000001', 商户订单号: 'flw_W', 交易状态: 'SUCCESS', 订单金额: '100.00', 应结订单金额: '100.00', 手续费: '0.60000', 费率: '0.60%' };
const wxRefund = { 交易时间: '2026-11-30 12:00:00', 微信订单号: '4200000001', 商户订单号: 'flw_W', 交易状态: 'REFUND', 商户退款单号: 'rfd_R', 退款金额: '30.00', 申请退款金额: '30.00', 手续费: '-0.18000', 订单金额: '100.00' };
const sha1 = (text: string | Uint8Array) => new Bun.CryptoHasher('sha1').update(text).digest('hex');

describe("WeChat Pay's trade bill", () => {
  test('backticked CSV, plain and gzipped (the SHA1 covers the CSV), ends at its summary', async () => {
    const csv = wechatCsv([wxPaid, wxRefund, { ...wxPaid, 商户订单号: 'flw_V', 交易状态: 'REVOKED' }]);
    const expected = [
      { kind: 'payment', channelTradeNo: '4200000001', flowId: 'flw_W', refundId: null, amount: 10_000, feeMilli: 60_000, at: Date.parse('2026-11-30T10:00:01+08:00'), status: 'succeeded' },
      { kind: 'refund', channelTradeNo: '4200000001', flowId: 'flw_W', refundId: 'rfd_R', amount: 3_000, feeMilli: 18_000, at: Date.parse('2026-11-30T12:00:00+08:00'), status: 'succeeded' },
      { kind: 'payment', channelTradeNo: '4200000001', flowId: 'flw_V', refundId: null, amount: 10_000, feeMilli: 60_000, at: Date.parse('2026-11-30T10:00:01+08:00'), status: 'revoked' },
    ];
    expect(await collect(wechatpayStatementRows({ bytes: new TextEncoder().encode(csv), mediaType: 'text/csv', sha1: null }))).toEqual(expected as StatementRow[]);
    const gz = gzipSync(new TextEncoder().encode(csv));
    expect(await collect(wechatpayStatementRows({ bytes: gz, mediaType: 'application/gzip', sha1: sha1(csv) }))).toEqual(expected as StatementRow[]);
  });

  test('an extra column and a reordered header read the same', async () => {
    const header = [...wechatHeader, '新增字段'].reverse();
    const rows = await collect(wechatpayStatementRows({ bytes: new TextEncoder().encode(wechatCsv([wxPaid], header)), mediaType: 'text/csv', sha1: null }));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ flowId: 'flw_W', amount: 10_000 });
  });

  test('a wrong hash, a broken gzip, a cut file, an unknown status and a zip are refused whole', async () => {
    const csv = wechatCsv([wxPaid]);
    const bytes = new TextEncoder().encode(csv);
    expect(await refusal(wechatpayStatementRows({ bytes, mediaType: 'text/csv', sha1: sha1('another file') }))).toContain('SHA1');
    expect(await refusal(wechatpayStatementRows({ bytes: gzipSync(bytes).slice(0, 30), mediaType: 'application/gzip', sha1: null }))).toContain('gzip');
    expect(await refusal(wechatpayStatementRows({ bytes: new TextEncoder().encode(wechatCsv([wxPaid], wechatHeader, false)), mediaType: 'text/csv', sha1: null }))).toContain('summary');
    expect(await refusal(wechatpayStatementRows({ bytes: new TextEncoder().encode(wechatCsv([{ ...wxPaid, 交易状态: 'PAYING' }])), mediaType: 'text/csv', sha1: null }))).toContain('PAYING');
    expect(await refusal(wechatpayStatementRows({ bytes, mediaType: 'application/zip', sha1: null }))).toContain('zip');
    expect(await refusal(wechatpayStatementRows({ bytes: new Uint8Array([0xff, 0xfe, 0x00]), mediaType: 'text/csv', sha1: null }))).toContain('utf-8');
  });
});
