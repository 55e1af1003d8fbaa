/** The outbound address rules (src/net/outbound.ts): every spelling of an internal address, and names judged by what they resolve to. */
import { describe, expect, test } from 'bun:test';
import { classifyAddress, connectRefusal, httpLinkOf, urlRefusal } from '../../src/net/outbound.ts';

const strict = { allowPrivate: false };
const dev = { allowPrivate: true };

describe('classifyAddress', () => {
  test.each([
    ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['::1', 'loopback'], ['[::1]', 'loopback'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.0.1', 'private'], ['100.64.0.1', 'private'],
    ['fd12::1', 'private'], ['fc00::1', 'private'],
    ['169.254.169.254', 'metadata'], ['100.100.100.200', 'metadata'], ['fd00:ec2::254', 'metadata'],
    ['169.254.1.1', 'link_local'], ['fe80::1', 'link_local'], ['fe80::1%eth0', 'link_local'],
    ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'], ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'], ['ff02::1', 'multicast'], ['255.255.255.255', 'reserved'], ['240.0.0.1', 'reserved'],
    ['::ffff:a9fe:a9fe', 'metadata'], ['::ffff:127.0.0.1', 'loopback'], ['::ffff:10.0.0.1', 'private'], ['::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'metadata'], ['2002:7f00:1::', 'loopback'],
    ['8.8.8.8', 'public'], ['172.32.0.1', 'public'], ['100.128.0.1', 'public'], ['2001:4860:4860::8888', 'public'], ['::ffff:8.8.8.8', 'public'],
    ['example.com', null],
  ])('%s is %p', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind as never);
  });
});

describe('urlRefusal', () => {
  test.each([
    'http://2130706433/', 'http://127.1/', 'http://0x7f.1/', 'http://0177.0.0.1/', 'http://[::ffff:7f00:1]/', 'http://localhost/', 'http://a.localhost./',
    'http://10.0.0.1/', 'http://[fd00::1]/',
  ])('%s is refused, unless private targets are allowed', (url) => {
    expect(urlRefusal(url, strict)).toMatch(/^must not point to an? (loopback|private) address$/);
    expect(urlRefusal(url, dev)).toBeNull();
  });

  test.each([
    'http://169.254.169.254/', 'http://[::ffff:a9fe:a9fe]/', 'http://100.100.100.200/', 'http://0.0.0.0/', 'http://0/', 'http://[fe80::1]/', 'http://[::]/',
  ])('%s is refused even when private targets are allowed', (url) => {
    expect(urlRefusal(url, dev)).toMatch(/^must not point to /);
  });

  test('credentials and other schemes are refused; public URLs and names pass', () => {
    expect(urlRefusal('https://user:pw@example.com/', dev)).toBe('must not carry credentials');
    expect(urlRefusal('https://user@example.com/', dev)).toBe('must not carry credentials');
    expect(urlRefusal('ftp://example.com/', dev)).toBe('must be an http(s) URL');
    expect(urlRefusal('https://merchant.example.com/notify', strict)).toBeNull();
    expect(urlRefusal('http://8.8.8.8:8080/x', strict)).toBeNull();
  });
});

describe('connectRefusal: a name is judged by every address it resolves to', () => {
  const resolvingTo = (...addresses: string[]) => async () => addresses;

  test('a name resolving to a refused address is refused, naming the address', async () => {
    expect(await connectRefusal('https://rebind.example/', strict, resolvingTo('93.184.216.34', '169.254.169.254'))).toBe(
      'resolves to 169.254.169.254: must not point to a cloud metadata address',
    );
    expect(await connectRefusal('https://internal.example/', strict, resolvingTo('10.0.0.5'))).toContain('private address');
    expect(await connectRefusal('https://internal.example/', dev, resolvingTo('10.0.0.5'))).toBeNull();
    expect(await connectRefusal('https://internal.example/', dev, resolvingTo('::ffff:169.254.169.254'))).toContain('metadata');
  });

  test('public names pass; literal addresses are not resolved; a failed lookup refuses', async () => {
    expect(await connectRefusal('https://merchant.example/', strict, resolvingTo('93.184.216.34', '2606:2800:220:1::1'))).toBeNull();
    expect(await connectRefusal('http://8.8.8.8/', strict, async () => { throw new Error('must not be called'); })).toBeNull();
    expect(await connectRefusal('https://nowhere.example/', strict, async () => { throw new Error('ENOTFOUND'); })).toContain('could not resolve');
  });
});

describe('httpLinkOf', () => {
  test('only http(s) links', () => {
    expect(httpLinkOf('https://m.example/done?x=1')).toBe('https://m.example/done?x=1');
    for (const bad of ['javascript:alert(1)', 'JAVASCRIPT:alert(1)', ' javascript:alert(1)', 'data:text/html,<script>1</script>', 'vbscript:x', '//evil.example', null, '']) {
      expect(httpLinkOf(bad)).toBeNull();
    }
  });
});
