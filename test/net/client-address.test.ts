/**
 * The address a request came from, for the limits counted per caller (the operators' sign-in
 * brake, callbacks per source address). Behind a reverse proxy every socket's peer is the proxy:
 * counted by it, ten wrong admin tokens from anywhere locked every operator out, and 200
 * callbacks a second from all providers together were refused. With the proxy listed in
 * TRUSTED_PROXIES the caller is the nearest X-Forwarded-For hop that is not a trusted proxy.
 */
import { describe, expect, test } from 'bun:test';
import { clientAddressOf } from '../../src/http/client-address.ts';
import { parseRange } from '../../src/net/ip.ts';

const trusted = ['10.0.0.0/8', '::1'].map((r) => parseRange(r)!);

describe('the client address', () => {
  test('is the socket peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientAddressOf('10.0.0.5', '203.0.113.9', [])).toBe('10.0.0.5');
    expect(clientAddressOf('198.51.100.7', '203.0.113.9', trusted)).toBe('198.51.100.7');
  });

  test("behind a trusted proxy, is the hop the proxy saw, not what a caller wrote on the left", () => {
    expect(clientAddressOf('10.0.0.5', '203.0.113.9', trusted)).toBe('203.0.113.9');
    expect(clientAddressOf('10.0.0.5', '1.2.3.4, 203.0.113.9', trusted)).toBe('203.0.113.9');
    expect(clientAddressOf('::1', '1.2.3.4, 203.0.113.9, 10.1.2.3', trusted)).toBe('203.0.113.9');
    expect(clientAddressOf('::ffff:10.0.0.5', '2001:db8::1', trusted)).toBe('2001:db8::1');
  });

  test('is the peer when the header is missing or its nearest untrusted hop is not an address', () => {
    expect(clientAddressOf('10.0.0.5', undefined, trusted)).toBe('10.0.0.5');
    expect(clientAddressOf('10.0.0.5', '203.0.113.9, unknown', trusted)).toBe('10.0.0.5');
    expect(clientAddressOf('10.0.0.5', '', trusted)).toBe('10.0.0.5');
  });

  test('is the peer when every hop is a trusted address: the farthest is the one a caller writes', () => {
    expect(clientAddressOf('10.0.0.5', '10.9.9.9, 10.1.1.1', trusted)).toBe('10.0.0.5');
  });
});
