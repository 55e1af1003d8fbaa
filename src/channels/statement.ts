/**
 * A provider's daily statement (对账单), read as paycenter's normalized rows. Each provider's
 * folder knows its file (zip, gzip, CSV, GBK, backticks, column names) and yields these rows;
 * reconciliation (src/recon/) knows only these rows. Files are read with bounds on bytes and
 * rows, and a malformed file is refused whole (a `StatementError`), never half-read.
 */
import { Readable } from 'node:stream';
import { createGunzip, createInflateRaw } from 'node:zlib';

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
  /** The channel's fee in thousandths of a minor unit (statements give fees to 1/100000 yuan), absolute: charged on a payment, given back on a refund. */
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
const isStatementMediaType = (value: string): value is StatementMediaType => (statement_media_types as readonly string[]).includes(value);
/** The statement media type a Content-Type header names, parameters aside; null when it names none. */
export function statementMediaTypeOf(contentType: string | undefined): StatementMediaType | null {
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return isStatementMediaType(mediaType) ? mediaType : null;
}

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
 * A signed decimal of the statement (`-12.50`, `0.06000`: an optional minus, 1–12 digits, and
 * after a point 1–5 digits, at most `decimals`) as an integer count of 10^-decimals; null when it
 * is not one. Thousands separators and stray tabs never appear in these files. Read digit by digit:
 * it runs for every amount and fee of a million-line file.
 */
function decimalUnits(text: string, decimals: number): number | null {
  const negative = text.charCodeAt(0) === 45;
  let i = negative ? 1 : 0;
  let whole = 0;
  const wholeFrom = i;
  for (; i < text.length && isDigit(text.charCodeAt(i)); i++) whole = whole * 10 + text.charCodeAt(i) - 48;
  const wholeDigits = i - wholeFrom;
  if (wholeDigits < 1 || wholeDigits > 12) return null;
  let fraction = 0;
  let fractionDigits = 0;
  if (i < text.length) {
    if (text.charCodeAt(i++) !== 46) return null;
    for (; i < text.length && isDigit(text.charCodeAt(i)); i++, fractionDigits++) fraction = fraction * 10 + text.charCodeAt(i) - 48;
    if (i < text.length || fractionDigits < 1 || fractionDigits > 5 || fractionDigits > decimals) return null;
  }
  const units = whole * 10 ** decimals + fraction * 10 ** (decimals - fractionDigits);
  return negative ? -units : units;
}

const isDigit = (code: number) => code >= 48 && code <= 57;

/**
 * Where in a file a reader is, for its errors: one object a reader, moved line by line (a million
 * lines need no million labels).
 */
export type Where = { label: string; line: number };
const placeOf = (where: Where) => `${where.label} ${where.line}`;

/** A StatementError about the line `where` is at. */
export const lineError = (where: Where, message: string) => new StatementError(`${placeOf(where)}: ${message}`);

/** An amount in yuan with at most two decimals, as absolute fen. */
export function statementFen(text: string, where: Where): number {
  const fen = decimalUnits(text, 2);
  if (fen === null) throw lineError(where, `"${text}" is not an amount`);
  return Math.abs(fen);
}

/** A fee in yuan with up to five decimals, as absolute thousandths of a fen (0.00001 yuan = 0.001 fen). */
export function statementFeeMilli(text: string, where: Where): number {
  if (text === '') return 0;
  const units = decimalUnits(text, 5);
  if (units === null) throw lineError(where, `"${text}" is not a fee`);
  return Math.abs(units);
}

/** `yyyy-MM-dd HH:mm:ss` in China Standard Time, as both providers write it, to epoch ms. */
export function chinaTimeMs(text: string, where: Where): number {
  if (!china_time.test(text)) throw lineError(where, `"${text}" is not a time`);
  const n = (from: number, to: number) => {
    let value = 0;
    for (let i = from; i < to; i++) value = value * 10 + text.charCodeAt(i) - 48;
    return value;
  };
  return Date.UTC(n(0, 4), n(5, 7) - 1, n(8, 10), n(11, 13) - 8, n(14, 16), n(17, 19));
}

const china_time = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

/** Where each column a reader needs is in the header row, in the order of `names` (columns are found by name, never by position). */
export function columnsOf(header: string[], names: readonly string[], where: string): number[] {
  const missing = names.filter((name) => !header.includes(name));
  if (missing.length > 0) throw new StatementError(`${where}: the header lacks ${missing.join(', ')}`);
  return names.map((name) => header.indexOf(name));
}

/** Each name's position in a reader's list of columns: where its cell is in a record csvRecordBatches hands on. */
export const positionsOf = <const N extends string>(names: readonly N[]): Record<N, number> =>
  Object.fromEntries(names.map((name, i) => [name, i])) as Record<N, number>;

/** A line (or a quoted record spanning lines) longer than this refuses the file: what is carried between chunks stays small. */
export const statement_line_chars_max = 64 * 1024;

/**
 * Records of CSV text arriving in chunks, handed on as one batch per chunk (a generator step per
 * line costs more than reading it). The first record is the header: `columnsFor` gets it trimmed
 * and answers which columns every later record keeps, in which order — a bill has some thirty
 * columns and a reader needs a handful, so only those become strings. Cells are as written (a
 * reader trims the ones it uses of the tabs and spaces providers pad with); a short line's missing
 * cells are empty. Lines starting with `#` are comments (Alipay's banner and totals), empty lines
 * are skipped, a leading BOM is dropped. Quoting is RFC 4180's: a field that starts with `"` runs
 * to its closing `"` (a doubled `""` is one quote, commas and line breaks inside are text) and may
 * be followed by padding; a quote inside an unquoted field, text after a closing quote or a quote
 * left open refuses the file.
 *
 * Neither provider quotes in practice, so a line is cut at its commas unless it holds a quote;
 * only such lines take the character-by-character path.
 */
export async function* csvRecordBatches(chunks: AsyncIterable<string> | Iterable<string>, columnsFor: (header: string[]) => number[]): AsyncGenerator<string[][]> {
  let rest = '';
  let rows = 0;
  let started = false;
  let picker: Picker | null = null;
  const add = (batch: string[][], line: string | null, cells: string[] | null) => {
    if (++rows > statement_rows_max) throw new StatementError(`more than ${statement_rows_max} lines`);
    if (picker !== null) batch.push(line === null ? picker.fromCells(cells!) : picker.fromLine(line));
    else picker = new Picker(columnsFor((cells ?? line!.split(',')).map((cell) => cell.trim())));
  };
  for await (const chunk of chunks) {
    let text = rest + chunk;
    if (!started && text.length > 0) {
      started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const batch: string[][] = [];
    let at = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', at)) {
      const line = text.charCodeAt(end - 1) === 13 && end > at ? text.slice(at, end - 1) : text.slice(at, end);
      if (!line.includes('"')) {
        at = end + 1;
        if (line.length > 0 && line.charCodeAt(0) !== 35) add(batch, line, null);
        continue;
      }
      const quoted = quotedRecord(text, at, false);
      if (quoted === null) break;
      at = quoted.next;
      if (quoted.cells !== null) add(batch, null, quoted.cells);
    }
    rest = text.slice(at);
    if (rest.length > statement_line_chars_max) throw new StatementError(`a line longer than ${statement_line_chars_max} characters`);
    if (batch.length > 0) yield batch;
  }
  if (rest.length === 0) return;
  // The last line without its line break.
  const last = quotedRecord(`${rest}\n`, 0, true)!;
  if (last.cells === null) return;
  const batch: string[][] = [];
  add(batch, null, last.cells);
  if (batch.length > 0) yield batch;
}

/** Keeps a record's wanted cells, in the wanted order (a field may be wanted twice). */
class Picker {
  /** Per field of a line up to the last one wanted: its first place in the kept record, or -1. */
  private readonly places: Int32Array;
  /** [place, earlier place] of a field wanted again. */
  private readonly repeats: Array<[number, number]> = [];

  constructor(private readonly columns: number[]) {
    this.places = new Int32Array(Math.max(-1, ...columns) + 1).fill(-1);
    columns.forEach((field, place) => {
      if (this.places[field] === -1) this.places[field] = place;
      else this.repeats.push([place, this.places[field]!]);
    });
  }

  fromLine(line: string): string[] {
    const kept = new Array<string>(this.columns.length).fill('');
    let from = 0;
    for (let field = 0; field < this.places.length; field++) {
      const comma = line.indexOf(',', from);
      const end = comma < 0 ? line.length : comma;
      const place = this.places[field]!;
      if (place >= 0) kept[place] = line.slice(from, end);
      if (comma < 0) break;
      from = comma + 1;
    }
    for (const [place, earlier] of this.repeats) kept[place] = kept[earlier]!;
    return kept;
  }

  fromCells(cells: string[]): string[] {
    return this.columns.map((field) => cells[field] ?? '');
  }
}

const quote = 34;
const comma = 44;
const newline = 10;
const isPadding = (code: number) => code === 9 || code === 32 || code === 13;

/**
 * The record starting at `start` of `text`, read character by character; null when it runs past
 * the text (a quoted field continues in the next chunk) unless `final`, which refuses it instead.
 * `cells` is null for a comment or an empty line.
 */
function quotedRecord(text: string, start: number, final: boolean): { cells: string[] | null; next: number } | null {
  if (text.charCodeAt(start) === 35) return { cells: null, next: text.indexOf('\n', start) + 1 };
  const cells: string[] = [];
  let i = start;
  for (;;) {
    if (text.charCodeAt(i) === quote) {
      let value = '';
      let from = i + 1;
      for (;;) {
        const close = text.indexOf('"', from);
        if (close < 0) {
          if (final) throw new StatementError('a quoted field is not closed');
          return null;
        }
        value += text.slice(from, close);
        if (text.charCodeAt(close + 1) !== quote) {
          i = close + 1;
          break;
        }
        value += '"';
        from = close + 2;
      }
      while (isPadding(text.charCodeAt(i))) i++;
      const after = text.charCodeAt(i);
      if (Number.isNaN(after)) {
        if (final) throw new StatementError('a quoted field is not closed');
        return null;
      }
      if (after !== comma && after !== newline) throw new StatementError(`text after the closing quote of "${value.slice(0, 40)}"`);
      cells.push(value);
      i++;
      if (after === newline) return { cells, next: i };
      continue;
    }
    let end = i;
    while (end < text.length && text.charCodeAt(end) !== comma && text.charCodeAt(end) !== newline) end++;
    if (end === text.length) {
      if (final) throw new StatementError('a line is cut short');
      return null;
    }
    const value = text.slice(i, text.charCodeAt(end) === newline && text.charCodeAt(end - 1) === 13 && end > i ? end - 1 : end);
    if (value.includes('"')) throw new StatementError(`a quote inside the unquoted field "${value.slice(0, 40)}"`);
    const atLineStart = i === start;
    i = end + 1;
    if (text.charCodeAt(end) === newline && atLineStart && cells.length === 0 && value.length === 0) return { cells: null, next: i };
    cells.push(value);
    if (text.charCodeAt(end) === newline) return { cells, next: i };
  }
}

/** How much of a file is handed on at a time. */
const statement_chunk_bytes = 1 << 20;

/** A buffer in chunks of statement_chunk_bytes. */
export function* chunksOf(bytes: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += statement_chunk_bytes) yield bytes.subarray(at, at + statement_chunk_bytes);
}

/** Text of byte chunks in the given encoding, handed on in chunks so a large file is never one string. */
export async function* decodedChunks(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, encoding: 'utf-8' | 'gbk'): AsyncGenerator<string> {
  const decoder = new TextDecoder(encoding, { fatal: true });
  for await (const chunk of chunks) yield decode(() => decoder.decode(chunk, { stream: true }), encoding);
  yield decode(() => decoder.decode(), encoding);
}

function decode(work: () => string, encoding: string): string {
  try {
    return work();
  } catch {
    throw new StatementError(`not ${encoding} text`);
  }
}

/**
 * A deflated stream inflated in chunks by zlib (node:zlib, native: fflate's JavaScript inflate
 * read the bench's 214 MB bill about 25 times slower). `raw`: a zip entry's bare deflate data;
 * otherwise a gzip file. Output is handed on as it comes, bounded by the streams' buffers.
 */
export async function* inflatedChunks(bytes: Uint8Array, format: 'gzip' | 'raw'): AsyncGenerator<Uint8Array> {
  const inflater = format === 'gzip' ? createGunzip({ chunkSize: inflate_chunk_bytes }) : createInflateRaw({ chunkSize: inflate_chunk_bytes });
  const source = Readable.from(chunksOf(bytes), { objectMode: false });
  source.pipe(inflater);
  try {
    for await (const chunk of inflater as AsyncIterable<Uint8Array>) yield chunk;
  } catch (error) {
    throw new StatementError(`not a readable ${format === 'gzip' ? 'gzip' : 'zip entry'}: ${(error as Error).message}`);
  } finally {
    source.destroy();
    inflater.destroy();
  }
}

/** The size of the pieces zlib hands on. */
const inflate_chunk_bytes = 256 * 1024;
