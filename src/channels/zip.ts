/**
 * The entries of a zip file held in memory, each readable as a stream of inflated chunks — so a
 * statement's detail entry is never inflated whole (fflate's `unzipSync` did that, in JavaScript).
 * Read from the central directory (APPNOTE 4.3.12–16): stored and deflated entries, no zip64 (a
 * statement is far below 4 GiB) and no encryption; anything else is refused, never guessed at.
 */
import { StatementError, chunksOf, inflatedChunks } from './statement.ts';

export type ZipEntry = {
  /** The name as stored: UTF-8 when the entry says so (flag bit 11), otherwise raw bytes. */
  nameBytes: Uint8Array;
  utf8Name: boolean;
  /** What the entry says it inflates to (checked again while inflating). */
  size: number;
  /** The entry's inflated bytes, in chunks. */
  chunks(): AsyncIterable<Uint8Array>;
};

const end_of_directory = 0x06054b50;
const directory_entry = 0x02014b50;
const local_header = 0x04034b50;
/** The fixed parts of the end record, a central directory entry and a local header (names, extras and comments follow them). */
const end_record_bytes = 22;
const directory_entry_bytes = 46;
const local_header_bytes = 30;
/** The end record may be followed by a comment of up to 65,535 bytes. */
const end_search_bytes = end_record_bytes + 0xffff;
/** Entries a zip may list: a statement has two. */
const zip_entries_max = 64;

const refuse = (why: string): never => {
  throw new StatementError(`not a readable zip: ${why}`);
};

/** The zip's entries, from its central directory. */
export function zipEntries(zip: Uint8Array): ZipEntry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const u16 = (at: number) => (at + 2 <= zip.length ? view.getUint16(at, true) : refuse('it is cut short'));
  const u32 = (at: number) => (at + 4 <= zip.length ? view.getUint32(at, true) : refuse('it is cut short'));
  let end = -1;
  for (let at = zip.length - end_record_bytes; at >= Math.max(0, zip.length - end_search_bytes); at--) {
    if (view.getUint32(at, true) === end_of_directory) {
      end = at;
      break;
    }
  }
  if (end < 0) refuse('no end of central directory (cut short, or not a zip)');
  const count = u16(end + 10);
  if (count > zip_entries_max) refuse(`${count} entries, more than ${zip_entries_max}`);
  const entries: ZipEntry[] = [];
  for (let i = 0, at = u32(end + 16); i < count; i++) {
    if (u32(at) !== directory_entry) refuse('a damaged central directory');
    const [flags, method, packed, size] = [u16(at + 8), u16(at + 10), u32(at + 20), u32(at + 24)];
    const [nameLength, extraLength, commentLength, offset] = [u16(at + 28), u16(at + 30), u16(at + 32), u32(at + 42)];
    const nameBytes = zip.subarray(at + directory_entry_bytes, at + directory_entry_bytes + nameLength);
    if ((flags & 1) !== 0) refuse('an encrypted entry');
    if (packed === 0xffffffff || size === 0xffffffff || offset === 0xffffffff) refuse('a zip64 entry');
    if (method !== 0 && method !== 8) refuse(`compression method ${method}`);
    if (u32(offset) !== local_header) refuse('a damaged entry header');
    const dataAt = offset + local_header_bytes + u16(offset + 26) + u16(offset + 28);
    if (dataAt + packed > zip.length) refuse('an entry runs past the end');
    const data = zip.subarray(dataAt, dataAt + packed);
    entries.push({ nameBytes, utf8Name: (flags & 0x800) !== 0, size, chunks: () => (method === 8 ? inflatedChunks(data, 'raw') : toAsync(chunksOf(data))) });
    at += directory_entry_bytes + nameLength + extraLength + commentLength;
  }
  return entries;
}

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}
