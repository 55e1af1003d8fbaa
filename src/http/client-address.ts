/**
 * The address a request came from, for the limits counted per caller (the operators' sign-in
 * brake, callbacks per source address). Behind a reverse proxy every socket's peer is the proxy,
 * so counting by it makes every caller one: ten wrong admin tokens from anywhere locked all
 * operators out. When the peer is a proxy the operator listed in TRUSTED_PROXIES, the caller is
 * the nearest X-Forwarded-For hop that is not one — read from the right, because each proxy
 * appends the address it saw and a client can write anything on the left.
 */
import type { Context } from 'hono';
import { type Range, inRange, parseAddress } from '../net/ip.ts';
import type { ServeEnv } from './raw-target.ts';

const isTrusted = (address: string, trusted: readonly Range[]): boolean => {
  const parsed = parseAddress(address);
  return parsed !== null && trusted.some((range) => inRange(parsed, range));
};

/**
 * The caller's address: `peer`, or behind trusted proxies the nearest hop they saw that is not
 * one. When every hop is a trusted address the peer stands: the farthest hop is the one a caller
 * can write itself.
 */
export function clientAddressOf(peer: string, forwardedFor: string | undefined, trusted: readonly Range[]): string {
  if (trusted.length === 0 || !forwardedFor || !isTrusted(peer, trusted)) return peer;
  const hops = forwardedFor.split(',').map((hop) => hop.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    // A hop that is no address (`unknown`, a port glued on) says nothing we can count by.
    if (!isTrusted(hop, trusted)) return parseAddress(hop) ? hop : peer;
  }
  return peer;
}

/** The socket's peer as Bun saw it; 'unknown' without a server (`app.request`). */
function peerOf(c: Context): string {
  const server = (c.env as Partial<ServeEnv> | undefined)?.server;
  return server?.requestIP(c.req.raw)?.address ?? 'unknown';
}

/** How this instance reads a request's caller address, given the proxies it trusts. */
export const callerAddress = (trusted: readonly Range[]) => (c: Context): string =>
  clientAddressOf(peerOf(c), trusted.length === 0 ? undefined : c.req.header('x-forwarded-for'), trusted);
