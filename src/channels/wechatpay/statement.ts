/**
 * WeChat Pay's trade bill (`GET /v3/bill/tradebill`, bill_type=ALL): CSV in UTF-8 (gzipped when
 * asked with tar_type=GZIP) whose every field starts with a backtick; a header row, one line per
 * payment (交易状态 SUCCESS, or REVOKED when undone) or refund (REFUND), then two summary lines
 * (`总交易单数,…` and its values). The SHA1 WeChat publishes covers the file after gunzip. Fees
 * have five decimals. Columns are found by name.
 */
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
  inflatedChunks,
  lineError,
  statementFeeMilli,
  statementFen,
  statement_text_bytes_max,
} from '../statement.ts';

/** The columns read, found by name; the first is whatever the line's first is (the summary's caption is there). */
const columns = ['(first cell)', '交易时间', '微信订单号', '商户订单号', '交易状态', '商户退款单号', '退款金额', '手续费', '订单金额', '申请退款金额'] as const;
const at = positionsOf(columns);

/** The first cell of the summary caption that follows the last trade line. */
const summary_caption = '总交易单数';

/**
 * The CSV in chunks, bounded, and checked against the published SHA1 once it has all passed (a
 * run applies nothing before the whole file is read, so a late mismatch still refuses it whole).
 */
async function* csvChunks(file: StatementFile): AsyncGenerator<Uint8Array> {
  if (file.mediaType === 'application/zip') throw new StatementError('a WeChat Pay bill is CSV or gzip, not a zip');
  const hasher = file.sha1 === null ? null : new Bun.CryptoHasher('sha1');
  let size = 0;
  for await (const chunk of file.mediaType === 'application/gzip' ? inflatedChunks(file.bytes, 'gzip') : chunksOf(file.bytes)) {
    size += chunk.length;
    if (size > statement_text_bytes_max) throw new StatementError(`the bill inflates to over ${statement_text_bytes_max} bytes`);
    hasher?.update(chunk);
    yield chunk;
  }
  const actual = hasher?.digest('hex');
  if (actual !== undefined && actual !== file.sha1!.toLowerCase()) throw new StatementError(`the bill's SHA1 is ${actual}, WeChat Pay published ${file.sha1}`);
}

/** The rows of a WeChat Pay trade bill. */
export async function* wechatpayStatementRows(file: StatementFile): AsyncGenerator<StatementRow> {
  let headed = false;
  const columnsFor = (header: string[]) => {
    headed = true;
    return [0, ...columnsOf(header, columns.slice(1), 'the WeChat Pay bill')];
  };
  const where: Where = { label: 'WeChat Pay bill line', line: 1 };
  let ended = false;
  for await (const batch of csvRecordBatches(decodedChunks(csvChunks(file), 'utf-8'), columnsFor)) {
    // The summary is not yielded from, but the file is read to its end: the SHA1 covers all of it.
    if (ended) continue;
    const rows: StatementRow[] = [];
    for (const record of batch) {
      where.line++;
      if (cellOf(record, at['(first cell)']) === summary_caption) {
        ended = true;
        break;
      }
      rows.push(rowOf(record, where));
    }
    yield* rows;
  }
  if (!headed) throw new StatementError('the WeChat Pay bill has no header row');
  if (!ended) throw new StatementError('the WeChat Pay bill ends without its summary: it may be cut short');
}

/** A cell trimmed of padding, without the backtick WeChat prefixes every field with so spreadsheets keep long numbers as text. */
function cellOf(record: string[], index: number): string {
  const raw = record[index]!;
  // Most cells have no padding to trim: checked by their ends before trim() copies anything.
  const cell = isVisibleAscii(raw.charCodeAt(0)) && isVisibleAscii(raw.charCodeAt(raw.length - 1)) ? raw : raw.trim();
  return cell.charCodeAt(0) === 96 ? cell.slice(1) : cell;
}

const isVisibleAscii = (code: number) => code > 32 && code < 127;

function rowOf(record: string[], where: Where): StatementRow {
  const status = cellOf(record, at.交易状态);
  const channelTradeNo = cellOf(record, at.微信订单号);
  const flowId = cellOf(record, at.商户订单号);
  const feeMilli = statementFeeMilli(cellOf(record, at.手续费), where);
  const time = chinaTimeMs(cellOf(record, at.交易时间), where);
  switch (status) {
    case 'SUCCESS':
    case 'REVOKED':
      return { kind: 'payment', channelTradeNo, flowId, refundId: null, amount: statementFen(cellOf(record, at.订单金额), where), feeMilli, at: time, status: status === 'SUCCESS' ? 'succeeded' : 'revoked' };
    case 'REFUND': {
      const refundId = cellOf(record, at.商户退款单号);
      if (refundId === '') throw lineError(where, 'a refund without 商户退款单号');
      const amount = statementFen(cellOf(record, at.退款金额) || cellOf(record, at.申请退款金额), where);
      return { kind: 'refund', channelTradeNo, flowId, refundId, amount, feeMilli, at: time, status: 'succeeded' };
    }
    default:
      throw lineError(where, `交易状态 "${status}" is not SUCCESS, REFUND or REVOKED`);
  }
}
