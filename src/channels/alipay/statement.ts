/**
 * Alipay's trade bill (`alipay.data.dataservice.bill.downloadurl.query`, bill_type=trade): a zip
 * whose entries — names and contents in GBK — include `…_业务明细.csv` (one line per trade or
 * refund) and `…_业务明细(汇总).csv` (totals). The detail file has `#` banner and footer lines
 * around a header row; fields carry trailing tabs; refund lines (业务类型 退款) have negative
 * amounts and carry the refund's request number. Columns are found by name: newer files add some.
 */
import { unzipSync } from 'fflate';
import {
  type StatementFile,
  type Where,
  StatementError,
  type StatementRow,
  chinaTimeMs,
  chunksOf,
  columnsOf,
  positionsOf,
  csvRecordBatches,
  decodedChunks,
  lineError,
  statementFeeMilli,
  statementFen,
  statement_text_bytes_max,
} from '../statement.ts';

const columns = ['支付宝交易号', '商户订单号', '业务类型', '完成时间', '订单金额（元）', '商家实收（元）', '退款批次号/请求号', '服务费（元）'] as const;
const at = positionsOf(columns);

/** Zip entry names are GBK unless the entry says UTF-8 (fflate then decodes them itself). */
function entryName(raw: string): string {
  const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0) & 0xff);
  const looksLatin1 = [...raw].every((c) => c.charCodeAt(0) < 0x100);
  if (!looksLatin1) return raw;
  try {
    return new TextDecoder('gbk', { fatal: true }).decode(bytes);
  } catch {
    return raw;
  }
}

const isDetailEntry = (name: string) => name.endsWith('业务明细.csv');

/** The detail entry's bytes; a zip without exactly one, or one too large once inflated, is refused. */
function detailEntry(zip: Uint8Array): Uint8Array {
  let found: Uint8Array[] = [];
  try {
    const files = unzipSync(zip, {
      filter: (file) => {
        if (!isDetailEntry(entryName(file.name))) return false;
        if (file.originalSize > statement_text_bytes_max) throw new StatementError(`the detail entry inflates to ${file.originalSize} bytes, over ${statement_text_bytes_max}`);
        return true;
      },
    });
    found = Object.values(files);
  } catch (error) {
    if (error instanceof StatementError) throw error;
    throw new StatementError(`not a readable zip: ${(error as Error).message}`);
  }
  if (found.length !== 1) throw new StatementError(`the zip holds ${found.length} entries named …业务明细.csv, not one`);
  return found[0]!;
}

/** The rows of an Alipay trade bill zip. */
export async function* alipayStatementRows(file: StatementFile): AsyncGenerator<StatementRow> {
  if (file.mediaType !== 'application/zip') throw new StatementError(`an Alipay bill is a zip, not ${file.mediaType}`);
  let headed = false;
  const columnsFor = (header: string[]) => {
    headed = true;
    return columnsOf(header, columns, 'the Alipay bill');
  };
  const where: Where = { label: 'Alipay bill record', line: 1 };
  for await (const batch of csvRecordBatches(decodedChunks(chunksOf(detailEntry(file.bytes)), 'gbk'), columnsFor)) {
    const rows: StatementRow[] = [];
    for (const record of batch) {
      where.line++;
      rows.push(rowOf(record, where));
    }
    yield* rows;
  }
  if (!headed) throw new StatementError('the Alipay bill has no header row');
}

function rowOf(record: string[], where: Where): StatementRow {
  const cell = (name: (typeof columns)[number]) => record[at[name]]!.trim();
  const type = cell('业务类型');
  if (type !== '交易' && type !== '退款') throw lineError(where, `业务类型 "${type}" is neither 交易 nor 退款`);
  const refund = type === '退款';
  const refundId = cell('退款批次号/请求号');
  if (refund && refundId === '') throw lineError(where, 'a refund without 退款批次号/请求号');
  return {
    kind: refund ? 'refund' : 'payment',
    channelTradeNo: cell('支付宝交易号'),
    flowId: cell('商户订单号'),
    refundId: refund ? refundId : null,
    amount: statementFen(refund ? cell('商家实收（元）') : cell('订单金额（元）'), where),
    feeMilli: statementFeeMilli(cell('服务费（元）'), where),
    at: chinaTimeMs(cell('完成时间'), where),
    status: 'succeeded',
  };
}
