// Test harness for the sandbox: a real server on 127.0.0.1, a real notify receiver, and the
// small merchant-side clients a developer would write (signing by hand with node:crypto).
import { createSign, randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { createSandbox, type SandboxOptions } from '../../src/sandbox/sandbox.ts';
import type { AlipayConfig } from '../../src/channels/alipay/adapter.ts';
import type { WechatpayConfig } from '../../src/channels/wechatpay/adapter.ts';

export type Started = {
  base: string; // http://127.0.0.1:PORT/sandbox
  stop: () => Promise<void>;
  clock: { now: number };
};

/** Starts the sandbox mounted under /sandbox. The clock is controllable: tests move it. */
export async function startSandbox(opts: Partial<SandboxOptions> = {}): Promise<Started> {
  const clock = { now: Date.now() };
  const outer = new Hono();
  let base = '';
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (req) => outer.fetch(req) });
  base = `http://127.0.0.1:${server.port}/sandbox`;
  const sandbox = createSandbox({ baseUrl: base, notifyRetryMs: [20, 20, 20], now: () => clock.now, ...opts });
  outer.route('/sandbox', sandbox.app);
  return {
    base,
    clock,
    stop: async () => {
      await sandbox.stop();
      await server.stop(true);
    },
  };
}

export type Received = { headers: Headers; body: string };

/** A merchant's notify endpoint that records what arrives and answers `reply(...)`. */
export function startReceiver(reply: (r: Received, n: number) => Response) {
  const received: Received[] = [];
  const waiters: Array<() => void> = [];
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const r = { headers: req.headers, body: await req.text() };
      received.push(r);
      for (const w of waiters.splice(0)) w();
      return reply(r, received.length);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/notify`,
    received,
    /** Resolves once at least n requests arrived (fails the test after 3 s). */
    async waitFor(n: number): Promise<Received[]> {
      const deadline = Date.now() + 3000;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`receiver got ${received.length} of ${n}`);
        await new Promise<void>((res) => {
          waiters.push(res);
          setTimeout(res, 50);
        });
      }
      return received;
    },
    stop: () => server.stop(true),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

// ---- Alipay merchant client ------------------------------------------------------------

/** What the sandbox issues for an Alipay app: a channel's config, with the seller id. */
export type AlipayCreds = AlipayConfig & { seller_id: string };

function sha256Sign(text: string, key: string): string {
  return createSign('RSA-SHA256').update(text, 'utf8').sign(key, 'base64');
}

export function alipayTimestamp(ms = Date.now()): string {
  return new Date(ms + 8 * 3600e3).toISOString().slice(0, 19).replace('T', ' ');
}

/** Signs common params + biz_content the documented way; returns the form params. */
export function alipaySignedParams(creds: AlipayCreds, method: string, biz: unknown, extra: Record<string, string> = {}, signKey = creds.private_key): Record<string, string> {
  const params: Record<string, string> = {
    app_id: creds.app_id,
    method,
    format: 'JSON',
    charset: 'utf-8',
    sign_type: 'RSA2',
    timestamp: alipayTimestamp(),
    version: '1.0',
    biz_content: JSON.stringify(biz),
    ...extra,
  };
  const content = Object.keys(params)
    .filter((k) => params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  params.sign = sha256Sign(content, signKey);
  return params;
}

/** Calls the gateway; returns the raw text and the parsed response member. */
export async function alipayCall(creds: AlipayCreds, method: string, biz: unknown, extra: Record<string, string> = {}, signKey?: string, signal?: AbortSignal) {
  const params = alipaySignedParams(creds, method, biz, extra, signKey);
  const res = await fetch(creds.gateway_url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
    body: new URLSearchParams(params).toString(),
    ...(signal ? { signal } : {}),
  });
  const text = await res.text();
  const json = JSON.parse(text) as Record<string, unknown>;
  const key = `${method.replaceAll('.', '_')}_response`;
  return { status: res.status, text, key, data: json[key] as Record<string, string>, sign: json.sign as string | undefined };
}

// ---- WeChat Pay merchant client --------------------------------------------------------

/** The credentials the sandbox issues are exactly a WeChat Pay channel's config. */
export type WechatCreds = WechatpayConfig;

/** A v3 call signed over METHOD\nURL\nTS\nNONCE\nBODY\n, URL relative to base_url. */
export async function wechatCall(creds: WechatCreds, method: 'GET' | 'POST', path: string, body?: unknown, opts: { signKey?: string; timestamp?: number } = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  const signature = sha256Sign(`${method}\n${path}\n${ts}\n${nonce}\n${text}\n`, opts.signKey ?? creds.private_key);
  const authorization = `WECHATPAY2-SHA256-RSA2048 mchid="${creds.mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${ts}",serial_no="${creds.serial_no}"`;
  const res = await fetch(`${creds.base_url}${path}`, {
    method,
    headers: { authorization, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: text }),
  });
  const resText = await res.text();
  return { status: res.status, headers: res.headers, text: resText, json: resText ? (JSON.parse(resText) as Record<string, any>) : undefined };
}
