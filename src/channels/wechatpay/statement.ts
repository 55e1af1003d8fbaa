/**
 * WeChat Pay's trade bill (`GET /v3/bill/tradebill`, bill_type=ALL): CSV in UTF-8 (gzipped when
 * asked with tar_type=GZIP) whose every field starts with a backtick; a header row, one line per
 * payment (交易状态 SUCCESS, or REVOKED when undone) or refund (REFUND), then two summary lines
 * (`总交易单数,…` and its values). The SHA1 WeChat publishes covers the file after gunzip. Fees
 * have five decimals. Columns are found by name.
 */
import { Gunzip } from 'fflate';
import {
  type StatementFile,
  StatementError,
  type StatementRow,
  chinaTimeMs,
  chunksOf,
  columnsOf,
  csvRecords,
  decodedChunks,
  statementFeeMilli,
  statementFen,
  statement_chunk_bytes,
  statement_text_bytes_max,
} from '../statement.ts';

const columns = ['交易时间', '微信订单号', '商户订单号', '交易状态', '商户退款单号', '退款金额', '手续费', '订单金额', '申请退款金额'] as const;

/** The first cell of the summary caption that follows the last trade line. */
const summary_caption = '总交易单数';

/** The file's bytes, inflated chunk by chunk when gzipped. */
function* inflated(file: StatementFile): Generator<Uint8Array> {
  if (file.mediaType !== 'application/gzip') {
    yield* chunksOf(file.bytes);
    return;
  }
  const out: Uint8Array[] = [];
  const gunzip = new Gunzip((chunk) => out.push(chunk));
  for (const [i, chunk] of [...chunksOf(file.bytes)].entries()) {
    try {
      gunzip.push(chunk, (i + 1) * statement_chunk_bytes >= file.bytes.length);
    } catch (error) {
      throw new StatementError(`not a readable gzip: ${(error as Error).message}`);
    }
    yield* out.splice(0);
  }
}

/**
 * The CSV in chunks, bounded, and checked against the published SHA1 once it has all passed (a
 * run applies nothing before the whole file is read, so a late mismatch still refuses it whole).
 */
function* csvChunks(file: StatementFile): Generator<Uint8Array> {
  if (file.mediaType === 'application/zip') throw new StatementError('a WeChat Pay bill is CSV or gzip, not a zip');
  const hasher = file.sha1 === null ? null : new Bun.CryptoHasher('sha1');
  let size = 0;
  for (const chunk of inflated(file)) {
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
  let at: Record<(typeof columns)[number], number> | null = null;
  let line = 0;
  for await (const record of csvRecords(decodedChunks(csvChunks(file), 'utf-8'))) {
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
