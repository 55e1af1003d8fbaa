/**
 * Providers are plug-ins: one list, and nothing else in paycenter's code names a provider or its
 * methods; each plug-in's config schema is the admin's validation and lands in the OpenAPI
 * document with its secrets write-only; secrets are redacted in answers because they are
 * `Secret`, whatever their name.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { channel_plugins, pay_methods, provider_names } from '../../src/channels/plugins.ts';
import { type Booted, adminCall, bootPaycenter } from '../http/harness.ts';

const root = join(import.meta.dir, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.tsx?$/.test(name) ? [path] : [];
  });
}

describe('the plug-in list', () => {
  test('names every provider once, each method once, and every external provider\'s methods have a cashier label', () => {
    expect(new Set(provider_names).size).toBe(provider_names.length);
    expect(new Set(pay_methods.map((m) => m.name)).size).toBe(pay_methods.length);
    for (const plugin of channel_plugins.filter((p) => p.external)) {
      expect(plugin.methods.every((m) => m.label !== null)).toBe(true);
      expect(plugin.currencies.length).toBeGreaterThan(0);
    }
  });

  test('outside the plug-ins\' folders, the list and the sandbox, no code names a provider or one of its methods', () => {
    const external = channel_plugins.filter((p) => p.external);
    const names = [...external.map((p) => p.provider), ...external.flatMap((p) => p.methods.map((m) => m.name))];
    const quoted = new RegExp(`['"\`](${names.join('|')})['"\`]`);
    // The state-chart simulator's sample pay event is example data for the machine, not provider logic.
    const allowed = [...external.map((p) => `src/channels/${p.provider}/`), 'src/channels/plugins.ts', 'src/sandbox/', 'src/viewer/simulate.ts'];
    const offenders = ['src', 'actors', 'machines'].flatMap((dir) => sourceFiles(join(root, dir)))
      .map((path) => relative(root, path))
      .filter((path) => !allowed.some((prefix) => path.startsWith(prefix)))
      .filter((path) => quoted.test(readFileSync(join(root, path), 'utf8')));
    expect(offenders).toEqual([]);
  });
});

describe('plug-in configs through the admin API', () => {
  let booted: Booted;
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite');
  });
  afterAll(() => booted?.stop());

  test('each provider\'s config schema is in the OpenAPI document, its secret fields write-only', async () => {
    const document: any = await (await fetch(`${booted.url}/openapi.json`)).json();
    const config = document.paths['/admin/channels'].post.requestBody.content['application/json'].schema.properties.config;
    for (const plugin of channel_plugins) {
      const schema = config.anyOf.find((s: any) => s.title === plugin.provider);
      expect(schema).toBeDefined();
      for (const field of plugin.secretFields) expect(schema.properties[field]).toMatchObject({ type: 'string', writeOnly: true });
    }
    const unionpay = config.anyOf.find((s: any) => s.title === 'unionpay');
    expect(Object.keys(unionpay.properties).sort()).toEqual(['gateway_url', 'mer_id', 'middle_cert', 'root_cert', 'sign_cert_password', 'sign_cert_pfx', 'validate_cn']);
  });

  test('a WeChat Pay config: its private key and APIv3 key are redacted, its platform public key is shown', async () => {
    const pem = (kind: string) => `-----BEGIN ${kind}-----\nMIIx\n-----END ${kind}-----`;
    const created = await adminCall(booted.url, 'POST', '/admin/channels', {
      code: 'wx_redacted', provider: 'wechatpay', methods: ['wechat_native'],
      config: { mchid: '1900000109', appid: 'wxd678efh567hg6787', serial_no: 'SERIAL', private_key: pem('PRIVATE KEY'), apiv3_key: 's'.repeat(32), platform_serial: 'P', platform_public_key: pem('PUBLIC KEY') },
    });
    expect(created.status).toBe(201);
    expect(created.body.config).toMatchObject({ private_key: '[redacted]', apiv3_key: '[redacted]', platform_public_key: pem('PUBLIC KEY'), base_url: 'https://api.mch.weixin.qq.com' });
    const listed = await adminCall(booted.url, 'GET', '/admin/channels');
    expect(JSON.stringify(listed.body)).not.toContain('s'.repeat(32));
  });

  test('a UnionPay config whose PKCS#12 file does not open is refused, naming the field', async () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIx\n-----END CERTIFICATE-----';
    const refused = await adminCall(booted.url, 'POST', '/admin/channels', {
      code: 'up_bad', provider: 'unionpay', methods: ['unionpay_qr'],
      config: { mer_id: '777290058110048', sign_cert_pfx: 'bm90IGEgcGZ4', sign_cert_password: '000000', root_cert: pem, middle_cert: pem },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'invalid_request', field: 'config.sign_cert_pfx' });
    const short = await adminCall(booted.url, 'POST', '/admin/channels', { code: 'up_bad', provider: 'unionpay', methods: ['unionpay_qr'], config: { mer_id: '1' } });
    expect(short.body.error).toMatchObject({ code: 'invalid_request', field: 'config.mer_id' });
  });
});
