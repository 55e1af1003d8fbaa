/**
 * A reconciliation test's day: paycenter and the sandbox on one moved clock, so "yesterday's
 * statement" is one clock step away, with one Alipay and one WeChat Pay channel and a merchant.
 */
import { expect } from 'bun:test';
import { Hono } from 'hono';
import { ManualClock } from '../../src/clock.ts';
import { createSandbox } from '../../src/sandbox/sandbox.ts';
import { freePort } from '../harness/services.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter } from '../http/harness.ts';
import type { StoreKind } from '../store/stores.ts';

export type Day = { booted: Booted; merchant: MerchantClient; clock: ManualClock; sandboxUrl: string; accounts: Record<string, string>; stop(): Promise<void> };

export const day_ms = 86_400_000;

export async function bootDay(kind: StoreKind): Promise<Day> {
  const clock = new ManualClock(Date.parse('2026-11-30T02:00:00Z'));
  const sandboxPort = await freePort();
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}/sandbox`;
  const sandbox = createSandbox({ baseUrl: sandboxUrl, notifyRetryMs: [50, 100, 200], now: () => clock.now() });
  const server = Bun.serve({ port: sandboxPort, hostname: '127.0.0.1', fetch: new Hono().route('/sandbox', sandbox.app).fetch });
  const port = await freePort();
  const booted = await bootPaycenter(kind, { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, RECON_HOLD_DAYS: '2' }, { clock, manualTicker: true });
  const provision = async (path: string) => (await (await fetch(sandboxUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as Record<string, string>;
  const alipay = await provision('/alipay/apps');
  const wechatpay = await provision('/wechatpay/merchants');
  for (const channel of [
    { code: 'alipay_main', provider: 'alipay', methods: ['alipay_qr'], config: alipay },
    { code: 'wechat_main', provider: 'wechatpay', methods: ['wechat_native'], config: wechatpay },
  ]) expect((await adminCall(booted.url, 'POST', '/admin/channels', channel)).status).toBe(201);
  const merchant = await MerchantClient.create(booted.url, { methods: ['alipay_qr', 'wechat_native'] });
  return {
    booted, merchant, clock, sandboxUrl, accounts: { alipay: alipay.app_id!, wechatpay: wechatpay.mchid! },
    async stop() {
      await booted.stop();
      await sandbox.stop();
      await server.stop(true);
    },
  };
}

export const signedNow = (day: Day) => ({ timestamp: Math.floor(day.clock.now() / 1000) });

export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const value = await read();
    if (done(value)) return value;
    await Bun.sleep(25);
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** The statement faults the sandbox applies to one provider's files (src/sandbox/statements.ts). */
export const statementFaults = (day: Day, provider: string, faults: object) =>
  fetch(`${day.sandboxUrl}/statements/${provider}/${day.accounts[provider]}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });

export const reconcile = (day: Day, channel: string, on: string, rerun = false) => adminCall(day.booted.url, 'POST', '/admin/reconciliations', { channel, date: on, rerun });
