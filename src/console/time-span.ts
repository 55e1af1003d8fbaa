/**
 * Times as an operator gives them to the console's searches: what the pages show (China time,
 * `2026-12-05 01:39:37 CST`), a China day from a date input (`2026-12-05`), or RFC 3339 from a
 * JSON answer. Each names a span, as long as its last written unit — a day, a minute, a second, a
 * millisecond — so that a range from one to another holds both ends whole: `created_to=2026-12-05`
 * is up to the end of that day, and the second a page shows holds the payment shown in it.
 */
import * as v from 'valibot';
import { china_offset_ms } from '../channels/china-time.ts';

/** From `start` (inclusive) to `end` (exclusive), epoch ms. */
export type TimeSpan = { start: number; end: number };

const day_ms = 86_400_000;
/** Longer than any form below: the rest is not read. */
const time_chars_max = 40;

const china_date = /^(\d{4})-(\d{2})-(\d{2})$/;
// The page's own form, " CST" and all, so that a time copied from a table can be pasted back.
const china_time = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?(?: CST)?$/;
const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/i;

/** The instant of a UTC wall-clock time, or null when the calendar has no such time (2026-02-30, 24:00). */
function utcOf(fields: Array<string | undefined>): number | null {
  const given = Array.from({ length: 6 }, (_, i) => Number(fields[i] ?? 0));
  const [y, mo, d, h, mi, s] = given as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  const read = [back.getUTCFullYear(), back.getUTCMonth() + 1, back.getUTCDate(), back.getUTCHours(), back.getUTCMinutes(), back.getUTCSeconds()];
  // Date.UTC rolls over (February 30 is March 2) and reads years below 100 as 19xx: the fields must come back as given.
  return read.every((n, i) => n === given[i]) ? ms : null;
}

const chinaOf = (wallClockMs: number | null) => (wallClockMs === null ? null : wallClockMs - china_offset_ms);

/** Ids, and so searches, start in 1970: an earlier time is refused rather than searched from. */
const spanOf = (start: number | null, length: number): TimeSpan | null => (start === null || start < 0 ? null : { start, end: start + length });

function rfc3339SpanOf(m: RegExpExecArray): TimeSpan | null {
  const [, y, mo, d, h, mi, s, fraction, sign, oh = '0', om = '0'] = m;
  const utc = utcOf([y, mo, d, h, mi, s]);
  if (utc === null || Number(oh) > 23 || Number(om) > 59) return null;
  const start = utc - (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
  // Digits past the millisecond are dropped: ids, and so searches, go by the millisecond.
  return fraction === undefined ? spanOf(start, 1000) : spanOf(start + Number(fraction.slice(0, 3).padEnd(3, '0')), 1);
}

/** The span a console time names, or null when it is none of the forms (or no such day or time). */
export function timeSpanOf(text: string): TimeSpan | null {
  const date = china_date.exec(text);
  if (date) return spanOf(chinaOf(utcOf(date.slice(1, 4))), day_ms);
  const time = china_time.exec(text);
  if (time) return spanOf(chinaOf(utcOf(time.slice(1, 7))), time[6] === undefined ? 60_000 : 1000);
  const instant = rfc3339.exec(text);
  return instant ? rfc3339SpanOf(instant) : null;
}

export const console_time_forms = 'a China date (2026-12-05), a China time (2026-12-05 01:39 or 2026-12-05 01:39:37, " CST" after it allowed, as the pages show it) or an RFC 3339 time, from 1970 on';

/**
 * A query parameter holding a console time, read as the start of its span (a range's lower end)
 * or its end (a range's upper end, exclusive: the span itself is in the range).
 */
export const consoleTime = (edge: keyof TimeSpan, description: string) => v.pipe(
  v.string(), v.maxLength(time_chars_max),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const span = timeSpanOf(dataset.value);
    if (span === null) {
      addIssue({ message: `must be ${console_time_forms}` });
      return NEVER;
    }
    return span[edge];
  }),
  v.metadata({ description: `${description}. One of ${console_time_forms}.` }),
);
