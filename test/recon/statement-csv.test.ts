/**
 * The statements' CSV reader (src/channels/statement.ts): the lines both providers write, RFC
 * 4180 quoting wherever it appears (commas, doubled quotes and line breaks inside quotes, padding
 * after a closing quote, as the sandbox's Alipay writer does), records split across chunks at any
 * point, only the wanted columns kept — and every malformed line refusing the file.
 */
import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { csvRecordBatches, statement_line_chars_max } from '../../src/channels/statement.ts';
import { refusalOf } from './refusal.ts';

/** The records of `text` cut into `chunks`, every column kept (the header's count); the header is returned first. */
async function read(chunks: string[], columns?: (header: string[]) => number[]): Promise<string[][]> {
  const out: string[][] = [];
  const all = (header: string[]) => {
    out.push(header);
    return columns ? columns(header) : header.map((_, i) => i);
  };
  for await (const batch of csvRecordBatches(chunks, all)) out.push(...batch);
  return out;
}

const refusal = (chunks: string[]): Promise<string> => refusalOf(() => read(chunks));

/** `text` cut at the given offsets. */
const cut = (text: string, at: number[]) => {
  const points = [...new Set(at.map((p) => Math.min(p, text.length)))].sort((a, b) => a - b);
  return [0, ...points].map((from, i) => text.slice(from, points[i] ?? text.length));
};

describe('the CSV reader', () => {
  test('comments, empty lines, CRLF and a BOM are skipped; a last line without its break is read', async () => {
    const text = '\uFEFF#banner\r\na,b,c\r\n\r\n1,2,3\r\n#totals\n4,5,6';
    expect(await read([text])).toEqual([['a', 'b', 'c'], ['1', '2', '3'], ['4', '5', '6']]);
  });

  test('quoted fields hold commas, doubled quotes and line breaks, and may be padded after the closing quote', async () => {
    const text = 'name,note,amount\n"酒店,两晚"\t,"say ""hi""",1.00\n"two\r\nlines",,"2.00"   \n';
    expect(await read([text])).toEqual([['name', 'note', 'amount'], ['酒店,两晚', 'say "hi"', '1.00'], ['two\r\nlines', '', '2.00']]);
  });

  test('only the wanted columns are kept, in the wanted order, a column twice if asked; a short line has empty cells', async () => {
    const rows = await read(['a,b,c,d\n1,2,3,4\n"x,y",2,3\n5\n'], () => [3, 0, 0]);
    expect(rows).toEqual([['a', 'b', 'c', 'd'], ['4', '1', '1'], ['', 'x,y', 'x,y'], ['', '5', '5']]);
  });

  test('a quote inside an unquoted field, text after a closing quote, an open quote and an endless line are refused', async () => {
    expect(await refusal(['a,b\n1,2"3\n'])).toContain('a quote inside the unquoted field');
    expect(await refusal(['a,b\n"1"x,2\n'])).toContain('text after the closing quote');
    expect(await refusal(['a,b\n"1,2\n3,4\n'])).toContain('not closed');
    expect(await refusal(['a,b\n', 'x'.repeat(statement_line_chars_max + 1)])).toContain('longer than');
  });

  test('property: any records, written with quotes where needed and cut into any chunks, read back as written', async () => {
    const cell = fc.string({ unit: fc.constantFrom('a', '1', ' ', '\t', ',', '"', '\n', '\r', '#', '元', '`'), maxLength: 6 });
    const seed = Date.now() % 2 ** 31;
    console.log(`the CSV property's seed: ${seed}`);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(cell, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(200), { maxLength: 6 }), async (records, at) => {
        const header = ['h1', 'h2', 'h3'];
        // A writer quotes what needs it (and, as providers do, whatever starts with a character the reader would take for a comment).
        const field = (v: string) => (/[",\r\n]/.test(v) || v.startsWith('#') || v === '' ? `"${v.replaceAll('"', '""')}"` : v);
        const text = [header, ...records].map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
        expect(await read(cut(text, at))).toEqual([header, ...records]);
      }),
      { seed, numRuns: 300 },
    );
  });
});
