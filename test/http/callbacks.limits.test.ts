/**
 * Channels' callbacks are answered the provider's way, never with the merchant API's error body:
 * a body over the callbacks' own limit is recorded (its first bytes only) and refused as the
 * provider expects, and a failure inside paycenter answers a 5xx in the provider's format so it
 * retries.
 * Real paycenter and channel sandbox over HTTP; the failure is a fault in the real database.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Database } from 'bun:sqlite';
import { openSqliteDatabase } from '../../src/store/sqlite-batch.ts';
import { callback_body_bytes_max } from '../../src/http/routes/callbacks.ts';
import { refused_body_bytes_max } from '../../src/http/callback-intake.ts';
import { body_bytes_max } from '../../src/http/app.ts';
import { type World, bootWorld } from '../channels/world.ts';

let world: World;

beforeAll(async () => {
  world = await bootWorld('sqlite');
});

afterAll(async () => {
  await world?.stop();
});

type CallbackLogRow = { id: string; provider: string; channel_code: string; headers: string; body: string; verified: number | null; outcome: string | null };

/** The paycenter's database, opened beside it as an operator would. */
function database(): Database {
  return openSqliteDatabase(world.booted.databaseUrl.slice('sqlite:'.length));
}

function lastCallback(): CallbackLogRow {
  const db = database();
  const row = db.query('SELECT * FROM callback_log ORDER BY id DESC LIMIT 1').get() as CallbackLogRow;
  db.close();
  return row;
}

const notify = (route: string, body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
  fetch(`${world.url}/callbacks/${route}`, { method: 'POST', headers: { 'x-probe': 'kept', ...headers }, body });

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const json = { 'content-type': 'application/json' };
const oversized = `notify_id=1&pad=${'x'.repeat(callback_body_bytes_max)}`;

/** A body sent in chunks with no Content-Length, so only reading it shows its size. */
function streamed(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const chunk_bytes = 16 * 1024;
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(at, at + chunk_bytes));
      at += chunk_bytes;
    },
  });
}

describe('callback body limit', () => {
  test('an Alipay notify over the limit answers 413 `failure` and is recorded by its first bytes, with its headers and why', async () => {
    const answer = await notify('alipay/alipay_main', oversized, form);
    expect(answer.status).toBe(413);
    expect(answer.headers.get('content-type')).toStartWith('text/plain');
    expect(await answer.text()).toBe('failure');
    const row = lastCallback();
    expect(row.provider).toBe('alipay');
    expect(row.channel_code).toBe('alipay_main');
    expect(row.body).toBe(oversized.slice(0, refused_body_bytes_max));
    expect(JSON.parse(row.headers)['x-probe']).toBe('kept');
    expect(row.outcome).toStartWith(`refused: body over ${callback_body_bytes_max} bytes`);
    expect(row.outcome).toContain('body kept truncated');
    expect(row.verified).toBe(0);
  });

  test('a WeChat Pay notify over the limit, sent without Content-Length, answers 413 {"code":"FAIL"}', async () => {
    const answer = await notify('wechatpay/wechat_main', streamed(oversized), json);
    expect(answer.status).toBe(413);
    const body = (await answer.json()) as any;
    expect(body).toEqual({ code: 'FAIL', message: expect.any(String) });
    expect(lastCallback().body).toHaveLength(refused_body_bytes_max);
  });

  test('a notify holding a NUL byte is refused `failure` and recorded with each NUL as \\u0000 (no text column may hold one)', async () => {
    const answer = await notify('alipay/alipay_main', 'notify_id=3&subject=a\u0000b', form);
    expect(answer.status).toBe(400);
    expect(await answer.text()).toBe('failure');
    const row = lastCallback();
    expect(row.body).toBe('notify_id=3&subject=a\\u0000b');
    expect(row.outcome).toBe('refused: the body holds NUL (U+0000), kept as \\u0000');
    expect(row.verified).toBe(0);
  });

  test('over the limit for no known channel: FAIL, not read, not recorded', async () => {
    const before = lastCallback().id;
    const answer = await notify('alipay/nobody', oversized, form);
    expect(answer.status).toBe(404);
    expect(((await answer.json()) as any).code).toBe('FAIL');
    expect(lastCallback().id).toBe(before);
  });

  test("a notify above the merchant API's limit but within the callbacks' is read whole and verified (and, refused, kept by its first bytes)", async () => {
    const body = `notify_id=2&pad=${'y'.repeat(body_bytes_max)}`;
    const answer = await notify('alipay/alipay_main', body, form);
    expect(answer.status).toBe(400); // unsigned: refused by the adapter, not by a body limit
    expect(await answer.text()).toBe('failure');
    const row = lastCallback();
    expect(row.body).toBe(body.slice(0, refused_body_bytes_max));
    expect(row.outcome).toStartWith('refused: ');
    expect(row.verified).toBe(0);
  });
});

describe('a failure inside paycenter while handling a callback', () => {
  // Recording the outcome fails: the raw callback is in, then the database refuses the update.
  beforeAll(() => {
    const db = database();
    db.run("CREATE TRIGGER refuse_outcome BEFORE UPDATE ON callback_log BEGIN SELECT RAISE(ABORT, 'injected fault'); END");
    db.close();
  });
  afterAll(() => {
    const db = database();
    db.run('DROP TRIGGER refuse_outcome');
    db.close();
  });

  test('Alipay gets a 5xx `failure` (so it retries), the raw notify is recorded', async () => {
    const answer = await notify('alipay/alipay_main', 'notify_id=3&trade_status=TRADE_SUCCESS', form);
    expect(answer.status).toBe(500);
    expect(await answer.text()).toBe('failure');
    const row = lastCallback();
    expect(row.body).toBe('notify_id=3&trade_status=TRADE_SUCCESS');
    expect(row.outcome).toBeNull();
  });

  test('WeChat Pay gets a 5xx {"code":"FAIL"}, never our error body', async () => {
    const answer = await notify('wechatpay/wechat_main', JSON.stringify({ id: 'evt' }), json);
    expect(answer.status).toBe(500);
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect((await answer.json()) as any).toEqual({ code: 'FAIL', message: expect.any(String) });
  });

  test('a notify for no known channel is refused before the database is touched: 404 FAIL', async () => {
    const answer = await notify('wechatpay/nobody', '{}', json);
    expect(answer.status).toBe(404);
    expect(((await answer.json()) as any).code).toBe('FAIL');
  });
});
