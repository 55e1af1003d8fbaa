/**
 * A provider's daily statement (对账单), read as paycenter's normalized rows. Each provider's
 * folder knows its file (zip, gzip, CSV, GBK, backticks, column names) and yields these rows;
 * reconciliation (src/recon/) knows only these rows. Files are read with bounds on bytes and
 * rows, and a malformed file is refused whole (a `StatementError`), never half-read.
 */
import { parse } from 'csv-parse';

/** One line of a statement: a payment the channel collected, or a refund it paid back. */
export type StatementRow = {
  kind: 'payment' | 'refund';
  /** The channel's own trade number. */
  channelTradeNo: string;
  /** Our flow id as the channel knows it (out_trade_no). */
  flowId: string;
  /** Our refund id as the channel knows it (out_refund_no / out_request_no); null for payments. */
  refundId: string | null;
  /** Minor units (fen), positive for both kinds. */
  amount: number;
  /** The channel's fee in thousandths of a minor unit (statements give fees to 1/100000 yuan), absolute. */
  feeMilli: number;
  /** When the channel completed it, epoch ms. */
  at: number;
  /** `revoked`: a WeChat Pay row for a payment undone at the channel (交易状态 REVOKED). */
  status: 'succeeded' | 'revoked';
};

/** A statement file as downloaded or uploaded. `sha1`: the digest the provider published for it, when it did. */
export type StatementFile = { bytes: Uint8Array; mediaType: StatementMediaType; sha1: string | null };
export const statement_media_types = ['application/zip', 'application/gzip', 'text/csv'] as const;
export type StatementMediaType = (typeof statement_media_types)[number];
export const isStatementMediaType = (value: string): value is StatementMediaType => (statement_media_types as readonly string[]).includes(value);

/** A file that cannot be read as the provider's statement; its message says where and why. */
export class StatementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatementError';
  }
}

/** More rows than any channel's day: a file past it is refused rather than read without end. */
export const statement_rows_max = 2_000_000;
/** What a statement may decompress to at most (a zip or gzip bomb is refused). */
export const statement_text_bytes_max = 1024 * 1024 * 1024;

/**
 * A signed decimal of the statement (`-12.50`, `0.06000`) as an integer count of 10^-decimals;
 * null when it is not one. Thousands separators and stray tabs never appear in these files.
 */
export function decimalUnits(text: string, decimals: number): number | null {
  const match = /^(-?)(\d{1,12})(?:\.(\d{1,5}))?$/.exec(text);
  if (!match || (match[3]?.length ?? 0) > decimals) return null;
  const fraction = (match[3] ?? '').padEnd(decimals, '0');
  const units = Number(match[2]) * 10 ** decimals + Number(fraction || '0');
  return match[1] === '-' ? -units : units;
}

/** An amount in yuan with at most two decimals, as absolute fen. */
export function statementFen(text: string, where: string): number {
  const fen = decimalUnits(text, 2);
  if (fen === null) throw new StatementError(`${where}: "${text}" is not an amount`);
  return Math.abs(fen);
}

/** A fee in yuan with up to five decimals, as absolute thousandths of a fen (0.00001 yuan = 0.001 fen). */
export function statementFeeMilli(text: string, where: string): number {
  if (text === '') return 0;
  const units = decimalUnits(text, 5);
  if (units === null) throw new StatementError(`${where}: "${text}" is not a fee`);
  return Math.abs(units);
}

/** `yyyy-MM-dd HH:mm:ss` in China Standard Time, as both providers write it, to epoch ms. */
export function chinaTimeMs(text: string, where: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!match) throw new StatementError(`${where}: "${text}" is not a time`);
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h! - 8, mi!, s!);
}

/** The position of each column a reader needs, by its name in the header row (never by position). */
export function columnsOf<const N extends string>(header: string[], names: readonly N[], where: string): Record<N, number> {
  const at = {} as Record<N, number>;
  const missing: string[] = [];
  for (const name of names) {
    const index = header.indexOf(name);
    if (index < 0) missing.push(name);
    at[name] = index;
  }
  if (missing.length > 0) throw new StatementError(`${where}: the header lacks ${missing.join(', ')}`);
  return at;
}

/**
 * Records of CSV text arriving in chunks, each cell trimmed of the tabs and spaces providers pad
 * with. Lines starting with `#` are comments (Alipay's banner and totals).
 */
export async function* csvRecords(chunks: AsyncIterable<string> | Iterable<string>): AsyncGenerator<string[]> {
  const parser = parse({ comment: '#', comment_no_infix: true, relax_column_count: true, skip_empty_lines: true, bom: true });
  // A source that fails (bad encoding) fails the parser, so the reading loop below ends with it.
  const feeding = (async () => {
    for await (const chunk of chunks) if (!parser.write(chunk)) await new Promise((resolve) => parser.once('drain', resolve));
    parser.end();
  })().catch((error: unknown) => parser.destroy(error as Error));
  let rows = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (++rows > statement_rows_max) throw new StatementError(`more than ${statement_rows_max} lines`);
      yield record.map((cell) => cell.trim());
    }
  } catch (error) {
    if (error instanceof StatementError) throw error;
    throw new StatementError(`not a readable CSV: ${(error as Error).message}`);
  } finally {
    parser.destroy();
    await feeding;
  }
}

/** How much of a file is handed on at a time. */
export const statement_chunk_bytes = 1 << 20;

/** A buffer in chunks of statement_chunk_bytes. */
export function* chunksOf(bytes: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += statement_chunk_bytes) yield bytes.subarray(at, at + statement_chunk_bytes);
}

/** Text of byte chunks in the given encoding, handed on in chunks so a large file is never one string. */
export function* decodedChunks(chunks: Iterable<Uint8Array>, encoding: 'utf-8' | 'gbk'): Generator<string> {
  const decoder = new TextDecoder(encoding, { fatal: true });
  for (const chunk of chunks) yield decode(() => decoder.decode(chunk, { stream: true }), encoding);
  yield decode(() => decoder.decode(), encoding);
}

function decode(work: () => string, encoding: string): string {
  try {
    return work();
  } catch {
    throw new StatementError(`not ${encoding} text`);
  }
}
