/**
 * WeChat Pay's trade bill (`GET /v3/bill/tradebill`, bill_type=ALL): CSV in UTF-8 (gzipped when
 * asked with tar_type=GZIP) whose every field starts with a backtick; a header row, one line per
 * payment (交易状态 SUCCESS, or REVOKED when undone) or refund (REFUND), then two summary lines
 * (`总交易单数,…` and its values). The SHA1 WeChat publishes covers the file after gunzip. Fees
 * have five decimals. Columns are found by name.
 */
import { gunzipSync } from 'fflate';
import {
  type StatementFile,
  StatementError,
  type StatementRow,
  chinaTimeMs,
  columnsOf,
  csvRecords,
  decodedChunks,
  statementFeeMilli,
  statementFen,
  statement_text_bytes_max,
} from '../statement.ts';

const columns = ['交易时间', '微信订单号', '商户订单号', '交易状态', '商户退款单号', '退款金额', '手续费', '订单金额', '申请退款金额'] as const;

/** The first cell of the summary caption that follows the last trade line. */
const summary_caption = '总交易单数';

/** The CSV bytes: gunzipped when gzip, and checked against the published SHA1 when there is one. */
function csvBytes(file: StatementFile): Uint8Array {
  if (file.mediaType === 'application/zip') throw new StatementError('a WeChat Pay bill is CSV or gzip, not a zip');
  let bytes = file.bytes;
  if (file.mediaType === 'application/gzip') {
    try {
      bytes = gunzipSync(file.bytes);
    } catch (error) {
      throw new StatementError(`not a readable gzip: ${(error as Error).message}`);
    }
    if (bytes.length > statement_text_bytes_max) throw new StatementError(`the bill inflates to ${bytes.length} bytes, over ${statement_text_bytes_max}`);
  }
  if (file.sha1 !== null) {
    const actual = new Bun.CryptoHasher('sha1').update(bytes).digest('hex');
    if (actual !== file.sha1.toLowerCase()) throw new StatementError(`the bill's SHA1 is ${actual}, WeChat Pay published ${file.sha1}`);
  }
  return bytes;
}

/** The rows of a WeChat Pay trade bill. */
export async function* wechatpayStatementRows(file: StatementFile): AsyncGenerator<StatementRow> {
  let at: Record<(typeof columns)[number], number> | null = null;
  let line = 0;
  for await (const record of csvRecords(decodedChunks(csvBytes(file), 'utf-8'))) {
    line++;
    if (at === null) {
      at = columnsOf(record, columns, 'the WeChat Pay bill');
      continue;
    }
    if (record[0] === summary_caption) return;
    yield rowOf(record.map(unticked), at, `WeChat Pay bill line ${line}`);
  }
  if (at === null) throw new StatementError('the WeChat Pay bill has no header row');
  throw new StatementError('the WeChat Pay bill ends without its summary: it may be cut short');
}

/** WeChat prefixes every field with a backtick so spreadsheets keep long numbers as text. */
const unticked = (cell: string) => (cell.startsWith('`') ? cell.slice(1) : cell);

function rowOf(record: string[], at: Record<(typeof columns)[number], number>, where: string): StatementRow {
  const cell = (name: (typeof columns)[number]) => record[at[name]] ?? '';
  const status = cell('交易状态');
  const base = { channelTradeNo: cell('微信订单号'), flowId: cell('商户订单号'), feeMilli: statementFeeMilli(cell('手续费'), where), at: chinaTimeMs(cell('交易时间'), where) };
  switch (status) {
    case 'SUCCESS':
    case 'REVOKED':
      return { ...base, kind: 'payment', refundId: null, amount: statementFen(cell('订单金额'), where), status: status === 'SUCCESS' ? 'succeeded' : 'revoked' };
    case 'REFUND': {
      const refundId = cell('商户退款单号');
      if (refundId === '') throw new StatementError(`${where}: a refund without 商户退款单号`);
      return { ...base, kind: 'refund', refundId, amount: statementFen(cell('退款金额') || cell('申请退款金额'), where), status: 'succeeded' };
    }
    default:
      throw new StatementError(`${where}: 交易状态 "${status}" is not SUCCESS, REFUND or REVOKED`);
  }
}
