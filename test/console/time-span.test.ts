/**
 * The times the console's searches take, at their edges: a China date is that whole China day, a
 * China time as the pages show it its whole minute or second, RFC 3339 its second or millisecond;
 * a day or time the calendar lacks, another form, or a time before 1970 is none.
 */
import { describe, expect, test } from 'bun:test';
import { timeSpanOf } from '../../src/console/time-span.ts';

const at = (iso: string) => Date.parse(iso);

describe('a console time names a span', () => {
  const spans: Array<[string, string, string]> = [
    ['a China date is that whole China day', '2026-12-05', '2026-12-04T16:00:00Z 2026-12-05T16:00:00Z'],
    ['a China time to the second, as the pages show it', '2026-12-05 01:39:37 CST', '2026-12-04T17:39:37Z 2026-12-04T17:39:38Z'],
    ['a China time to the second, without CST', '2026-12-05 01:39:37', '2026-12-04T17:39:37Z 2026-12-04T17:39:38Z'],
    ['a China time to the minute is that minute', '2026-12-05 23:59', '2026-12-05T15:59:00Z 2026-12-05T16:00:00Z'],
    ['RFC 3339 with an offset, to the second', '2026-12-05T01:39:37+08:00', '2026-12-04T17:39:37Z 2026-12-04T17:39:38Z'],
    ['RFC 3339 with milliseconds is that millisecond', '2026-12-04T17:39:37.123Z', '2026-12-04T17:39:37.123Z 2026-12-04T17:39:37.124Z'],
    ['RFC 3339 past the millisecond is read to the millisecond', '2026-12-04T17:39:37.1239Z', '2026-12-04T17:39:37.123Z 2026-12-04T17:39:37.124Z'],
    ['RFC 3339 with a negative offset', '2026-12-04T12:00:00-05:30', '2026-12-04T17:30:00Z 2026-12-04T17:30:01Z'],
    ['a leap day', '2028-02-29', '2028-02-28T16:00:00Z 2028-02-29T16:00:00Z'],
  ];
  for (const [name, text, span] of spans) {
    test(name, () => {
      const [start, end] = span.split(' ').map(at);
      expect(timeSpanOf(text)).toEqual({ start: start!, end: end! });
    });
  }

  const refused = [
    '2026-02-30', '2027-02-29', '2026-13-01', '2026-12-05 24:00', '2026-12-05 12:60', '2026-12-05 23:59:60', '2026-12-05T01:39:37',
    '2026-12-05T01:39:37+24:00', '2026-12-05 01:39:37 UTC', '2026-12-5', '1969-12-31T23:59:59Z', '1970-01-01 07:59', '0050-01-01', 'yesterday', '',
  ];
  test('a day or time the calendar lacks, another form or a time before 1970 is none', () => {
    expect(refused.map((text) => [text, timeSpanOf(text)])).toEqual(refused.map((text) => [text, null]));
  });
  test('the first China time searchable is the epoch, 1970-01-01 08:00', () => {
    expect(timeSpanOf('1970-01-01 08:00')).toEqual({ start: 0, end: 60_000 });
  });
});
