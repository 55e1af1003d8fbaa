/**
 * Finds a key repeated within one JSON object, at any depth. `JSON.parse` keeps the last of
 * repeated keys while other parsers keep the first, so a body with `"amount"` twice means
 * different orders to a merchant's checks and to paycenter: such a body is refused, not read.
 *
 * One pass over the text, no allocation for keys without escapes beyond the key itself; run
 * only on bodies that parse (the caller parses first), so the scanner may assume valid JSON.
 */

/** An open container: an object's keys so far, or an array's current index; and the name it sits under. */
type Frame = { keys: Set<string> | null; index: number; name: string };

/** The dotted path of the first repeated key (`metadata.note`, `parts.1.method`), or null when every object's keys are distinct. */
export function duplicateKeyOf(text: string): string | null {
  const frames: Frame[] = [];
  let lastKey = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    const top = frames[frames.length - 1];
    if (ch === 0x22 /* " */) {
      const end = stringEnd(text, i);
      if (top?.keys && isKey(text, end + 1)) {
        lastKey = decodeKey(text, i, end);
        if (top.keys.has(lastKey)) return [...frames.slice(1).map((f) => f.name), lastKey].join('.');
        top.keys.add(lastKey);
      }
      i = end;
    } else if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) {
      const name = top ? (top.keys ? lastKey : String(top.index)) : '';
      frames.push({ keys: ch === 0x7b ? new Set() : null, index: 0, name });
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      frames.pop();
    } else if (ch === 0x2c /* , */ && top && !top.keys) {
      top.index++;
    }
  }
  return null;
}

/** Index of the closing quote of the string opening at `start` (a quote after an even run of backslashes). */
function stringEnd(text: string, start: number): number {
  let end = text.indexOf('"', start + 1);
  while (end !== -1) {
    let slashes = 0;
    while (text.charCodeAt(end - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return end;
    end = text.indexOf('"', end + 1);
  }
  return text.length;
}

/** True when the next non-space character after a string is `:`, making it an object key. */
function isKey(text: string, from: number): boolean {
  let i = from;
  while (i < text.length) {
    const ch = text.charCodeAt(i);
    if (ch !== 0x20 && ch !== 0x0a && ch !== 0x0d && ch !== 0x09) return ch === 0x3a;
    i++;
  }
  return false;
}

/** A key as JSON means it: `"a"` and `"\u0061"` are the same key. */
function decodeKey(text: string, start: number, end: number): string {
  const raw = text.slice(start + 1, end);
  return raw.includes('\\') ? (JSON.parse(text.slice(start, end + 1)) as string) : raw;
}
