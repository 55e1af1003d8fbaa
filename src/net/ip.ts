/**
 * IP addresses and CIDR ranges as numbers, for risk's `ip` list entries and the trusted proxies:
 * an entry is an address or a range (`10.0.0.0/8`, `2001:db8::/32`). IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are the
 * IPv4 address they carry, so a v4 range catches them too.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type Address = { family: 4 | 6; bits: bigint };
export type Range = { family: 4 | 6; first: bigint; last: bigint };

const width = (family: 4 | 6): number => (family === 4 ? 32 : 128);

function v4Bits(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

/** Expands `::` and a trailing dotted quad, then reads the eight 16-bit groups. */
function v6Bits(text: string): bigint {
  let body = text;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (quad) {
    const n = v4Bits(quad[1]!);
    body = `${body.slice(0, -quad[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = body.includes('::') ? body.split('::') as [string, string] : [body, null];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === null ? [] : Array(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...zeros, ...tailGroups].reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

const v4_mapped_prefix = 0xffffn << 32n;

/** The address a string names, or null when it is not one (a client_ip is the merchant's word). */
export function parseAddress(text: string): Address | null {
  if (isIPv4(text)) return { family: 4, bits: v4Bits(text) };
  if (!isIPv6(text)) return null;
  const bits = v6Bits(text.split('%')[0]!);
  return bits >> 32n === v4_mapped_prefix >> 32n ? { family: 4, bits: bits & 0xffffffffn } : { family: 6, bits };
}

/** A single address or a CIDR range; null when the text is neither. */
export function parseRange(text: string): Range | null {
  const [addressText, prefixText, extra] = text.split('/');
  if (extra !== undefined || addressText === undefined) return null;
  const address = parseAddress(addressText);
  if (!address) return null;
  const size = width(address.family);
  if (prefixText === undefined) return { family: address.family, first: address.bits, last: address.bits };
  if (!/^\d{1,3}$/.test(prefixText)) return null;
  // A v4-mapped range keeps its prefix relative to the IPv4 part.
  const prefix = Number(prefixText) - (address.family === 4 && !isIPv4(addressText) ? 96 : 0);
  if (prefix < 0 || prefix > size) return null;
  const hostBits = BigInt(size - prefix);
  const first = (address.bits >> hostBits) << hostBits;
  return { family: address.family, first, last: first | ((1n << hostBits) - 1n) };
}

export const inRange = (address: Address, range: Range): boolean =>
  address.family === range.family && address.bits >= range.first && address.bits <= range.last;
