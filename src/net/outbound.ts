/**
 * Where paycenter may send requests on a merchant's behalf (notify_url) and which links it
 * accepts from one (return_url): the address rules, in one place. A merchant's URL must not
 * carry credentials nor name a loopback, private, link-local, unspecified, multicast, reserved
 * or cloud-metadata address, in any spelling. The URL parser already reads every IPv4
 * spelling (`2130706433`, `127.1`, `0x7f.1`) as dotted quads; IPv6 forms that carry an IPv4
 * address (mapped, compatible, NAT64, 6to4) are judged by that address. Names are judged by
 * what they resolve to when paycenter connects, because DNS can point anywhere.
 *
 * `allowPrivate` (OUTBOUND_ALLOW_PRIVATE=1, for dev and tests) lets loopback and private
 * addresses through; the others stay refused even then. Operator-configured URLs (a channel's
 * gateway) are trusted as configured and never pass through here.
 */
import { lookup } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';

export type OutboundPolicy = { allowPrivate: boolean };

export type AddressClass = 'public' | 'loopback' | 'private' | 'link_local' | 'unspecified' | 'metadata' | 'multicast' | 'reserved';

/** How much of a resolver's error a refusal quotes. */
const resolve_error_chars_max = 200;
/** Cloud instance-metadata services, refused whatever the policy (AWS/GCP/Azure, Alibaba Cloud, AWS over IPv6). */
const metadata_addresses = new Set(['169.254.169.254', '100.100.100.200', 'fd00:ec2::254']);

/** Refused even when private targets are allowed: nothing a merchant runs lives there. */
const always_refused: ReadonlySet<AddressClass> = new Set(['link_local', 'unspecified', 'metadata', 'multicast', 'reserved']);

const class_wording: Record<Exclude<AddressClass, 'public'>, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  link_local: 'a link-local address',
  unspecified: 'an unspecified address',
  metadata: 'a cloud metadata address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
};

type V4Range = [base: number, prefix: number, kind: AddressClass];

/** IPv4 ranges that are not the public internet (RFC 6890), most specific first where they nest. */
const v4_ranges: V4Range[] = [
  [0x00000000, 8, 'unspecified'],
  [0x0a000000, 8, 'private'],
  [0x64400000, 10, 'private'], // carrier-grade NAT, 100.64/10
  [0x7f000000, 8, 'loopback'],
  [0xa9fe0000, 16, 'link_local'],
  [0xac100000, 12, 'private'],
  [0xc0000000, 24, 'reserved'], // IETF protocol assignments
  [0xc0a80000, 16, 'private'],
  [0xc6120000, 15, 'private'], // benchmarking, 198.18/15
  [0xe0000000, 4, 'multicast'],
  [0xf0000000, 4, 'reserved'], // 240/4 and the broadcast address
];

function v4Number(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function classifyV4(address: string): AddressClass {
  if (metadata_addresses.has(address)) return 'metadata';
  const n = v4Number(address);
  for (const [base, prefix, kind] of v4_ranges) if (Math.floor(n / 2 ** (32 - prefix)) === Math.floor(base / 2 ** (32 - prefix))) return kind;
  return 'public';
}

/** The eight 16-bit groups of an IPv6 address (with `::` expanded and a dotted IPv4 tail read). */
function v6Groups(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const n = v4Number(dotted[1]!);
    text = `${text.slice(0, dotted.index)}${Math.floor(n / 65_536).toString(16)}:${(n % 65_536).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === null ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((g) => Number.parseInt(g, 16));
}

const v4Of = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;

function classifyV6(address: string): AddressClass {
  const g = v6Groups(address);
  const canonical = g.map((x) => x.toString(16)).join(':');
  if (canonical === '0:0:0:0:0:0:0:0') return 'unspecified';
  if (canonical === '0:0:0:0:0:0:0:1') return 'loopback';
  if (canonical === 'fd00:ec2:0:0:0:0:0:254') return 'metadata';
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d): the IPv4 address decides.
  if (zeros(0, 5) && (g[5] === 0xffff || g[5] === 0)) return classifyV4(v4Of(g[6]!, g[7]!));
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return classifyV4(v4Of(g[6]!, g[7]!));
  if (g[0] === 0x2002) return classifyV4(v4Of(g[1]!, g[2]!)); // 6to4 carries its IPv4 address in groups 1–2
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link_local';
  if ((g[0]! & 0xffc0) === 0xfec0 || (g[0]! & 0xfe00) === 0xfc00) return 'private'; // site-local, unique local
  if ((g[0]! & 0xff00) === 0xff00) return 'multicast';
  return 'public';
}

/** What an IP address is; null when the text is not an IP address (a name). */
export function classifyAddress(address: string): AddressClass | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIPv4(bare)) return classifyV4(bare);
  if (isIPv6(bare)) return classifyV6(bare.replace(/%.*$/, ''));
  return null;
}

/** Why this class of address is refused under the policy; null when allowed. */
function classRefusal(kind: AddressClass, policy: OutboundPolicy): string | null {
  if (kind === 'public') return null;
  if (!always_refused.has(kind) && policy.allowPrivate) return null;
  return `must not point to ${class_wording[kind]}`;
}

const isLocalName = (host: string) => host === 'localhost' || host.endsWith('.localhost');

/**
 * Why a merchant-supplied URL is refused, judged by its text alone (credentials, literal
 * addresses, `localhost`); null when it may be kept. The field's name goes before the message.
 */
export function urlRefusal(url: string, policy: OutboundPolicy): string | null {
  if (!URL.canParse(url)) return 'must be an http(s) URL';
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http(s) URL';
  if (parsed.username !== '' || parsed.password !== '') return 'must not carry credentials';
  const host = parsed.hostname.replace(/\.$/, '').toLowerCase();
  const kind = classifyAddress(host) ?? (isLocalName(host) ? 'loopback' : null);
  return kind ? classRefusal(kind, policy) : null;
}

export type Resolve = (host: string) => Promise<string[]>;

const resolveAll: Resolve = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Why paycenter must not connect to this URL now: its text is refused, or a name in it resolves
 * to a refused address (any of them: the connection could use either). Checked just before
 * each request, since a name's addresses change.
 */
export async function connectRefusal(url: string, policy: OutboundPolicy, resolve: Resolve = resolveAll): Promise<string | null> {
  const refused = urlRefusal(url, policy);
  if (refused) return refused;
  const host = new URL(url).hostname;
  if (classifyAddress(host) !== null) return null;
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch (error) {
    return `could not resolve ${host}: ${String((error as Error).message ?? error).slice(0, resolve_error_chars_max)}`;
  }
  for (const address of addresses) {
    const refusal = classRefusal(classifyAddress(address) ?? 'reserved', policy);
    if (refusal) return `resolves to ${address}: ${refusal}`;
  }
  return null;
}

/** A link for a page: the URL when it is http(s), else null (no `javascript:` or `data:` links from input). */
export function httpLinkOf(url: string | null | undefined): string | null {
  if (!url || !URL.canParse(url)) return null;
  const parsed = new URL(url);
  return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
}
