/**
 * Alipay's trade bill (`alipay.data.dataservice.bill.downloadurl.query`, bill_type=trade): a zip
 * whose entries — names and contents in GBK — include `…_业务明细.csv` (one line per trade or
 * refund) and `…_业务明细(汇总).csv` (totals). The detail file has `#` banner and footer lines
 * around a header row; fields carry trailing tabs; refund lines (业务类型 退款) have negative
 * amounts and carry the refund's request number. Columns are found by name: newer files add some.
 */
import {
  type StatementFile,
  type Where,
  StatementError,
  type StatementRow,
  chinaTimeMs,
  columnsOf,
  positionsOf,
  csvRecordBatches,
  decodedChunks,
  lineError,
  statementFeeMilli,
  statementFen,
  statement_text_bytes_max,
} from '../statement.ts';
import { type ZipEntry, zipEntries } from '../zip.ts';

const columns = ['支付宝交易号', '商户订单号', '业务类型', '完成时间', '订单金额（元）', '商家实收（元）', '退款批次号/请求号', '服务费（元）'] as const;
const at = positionsOf(columns);

/** Zip entry names are GBK unless the entry says UTF-8; a name that is neither cannot be the detail entry's. */
function entryName(entry: ZipEntry): string {
  try {
    return new TextDecoder(entry.utf8Name ? 'utf-8' : 'gbk', { fatal: true }).decode(entry.nameBytes);
  } catch {
    return '';
  }
}

const isDetailEntry = (name: string) => name.endsWith('业务明细.csv');

/**
 * The detail entry's bytes, inflated as they are read; a zip without exactly one, or one that
 * inflates past statement_text_bytes_max (by its header, or in fact), is refused.
 */
async function* detailEntry(zip: Uint8Array): AsyncGenerator<Uint8Array> {
  const found = zipEntries(zip).filter((entry) => isDetailEntry(entryName(entry)));
  if (found.length !== 1) throw new StatementError(`the zip holds ${found.length} entries named …业务明细.csv, not one`);
  const entry = found[0]!;
  if (entry.size > statement_text_bytes_max) throw new StatementError(`the detail entry inflates to ${entry.size} bytes, over ${statement_text_bytes_max}`);
  let size = 0;
  for await (const chunk of entry.chunks()) {
    size += chunk.length;
    if (size > statement_text_bytes_max) throw new StatementError(`the detail entry inflates to over ${statement_text_bytes_max} bytes`);
    yield chunk;
  }
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
  for await (const batch of csvRecordBatches(decodedChunks(detailEntry(file.bytes), 'gbk'), columnsFor)) {
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
