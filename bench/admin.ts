/**
 * bun run bench admin [--rows N] — the console's payments search at N orders (default
 * 1,000,000, or BENCH_ADMIN_ROWS), on SQLite.
 *
 * paycenter starts on a fresh store; one real order is created through the API and its row
 * (and its flow) cloned N times straight into the tables with fresh ids spread over 30 days,
 * 100 merchants, two statuses (open and closed) and two channels (untimed: the bench measures searching, not
 * paying). Then `GET /admin/payments` is asked over HTTP, as an operator's browser would (JSON),
 * by each filter — id, merchant, merchant_order_no, status, channel, method, a creation-time
 * range, and a second page — `samples_per_filter` times with random values. Ends with
 * `RESULT admin rows=… search_p99_ms=…` (the worst filter's p99) and the p99 of each filter.
 */
import { Database } from 'bun:sqlite';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeTime } from 'ulid';
import { loadConfig } from '../src/config.ts';
import { requestSignature } from '../src/http/signature.ts';
import { createLogger } from '../src/log.ts';
import { startPaycenter } from '../src/wiring.ts';

const rows_flag = process.argv.indexOf('--rows');
const rows_total = Number((rows_flag >= 0 ? process.argv[rows_flag + 1] : undefined) ?? process.env.BENCH_ADMIN_ROWS ?? 1_000_000);
const samples_per_filter = 50;
const merchants_total = 100;
const span_ms = 30 * 86_400_000;
const admin_token = 'adm_bench_0123456789abcdef';
const statuses = ['created', 'closed'];
const channels = [['alipay_main', 'alipay_qr'], ['wechat_main', 'wechat_native']] as const;

const dir = mkdtempSync(join(tmpdir(), 'paycenter-bench-admin-'));
const databaseUrl = `sqlite:${join(dir, 'admin.db')}`;
const config = loadConfig({
  PORT: '0', HOST: '127.0.0.1', DATABASE_URL: databaseUrl, ADMIN_TOKEN: admin_token, SECRET_KEY: Buffer.alloc(32, 5).toString('base64'),
}, 'production');
const paycenter = await startPaycenter(config, { log: createLogger('error'), manualTicker: true });
const admin = (path: string, init: RequestInit = {}) =>
  fetch(paycenter.url + path, { ...init, headers: { authorization: `Bearer ${admin_token}`, 'content-type': 'application/json', accept: 'application/json' } });

try {
  const merchant = (await (await admin('/admin/merchants', { method: 'POST', body: JSON.stringify({ name: 'bench' }) })).json()) as { merchant_id: string; secret: string };
  const signed = async (path: string, body: string) => {
    const ts = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(8).toString('hex');
    const signature = requestSignature(merchant.secret, 'POST', path, ts, nonce, body);
    const answer = await fetch(paycenter.url + path, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', authorization: `PAYC-HMAC-SHA256 merchant_id="${merchant.merchant_id}",timestamp="${ts}",nonce="${nonce}",signature="${signature}"` },
    });
    return (await answer.json()) as { id: string };
  };
  // Two real orders, one open and one closed: the clones keep each one's status and snapshot in step.
  const open = await signed('/v1/payments', JSON.stringify({ merchant_order_no: 'TEMPLATE-OPEN', amount: '100.00', subject: 'bench' }));
  const closed = await signed('/v1/payments', JSON.stringify({ merchant_order_no: 'TEMPLATE-CLOSED', amount: '100.00', subject: 'bench' }));
  await signed(`/v1/payments/${closed.id}/close`, '');
  fill([open.id, closed.id]);
  console.log(`filled ${rows_total} orders`);

  const now = Date.now();
  const pick = <T>(list: readonly T[]) => list[Math.floor(Math.random() * list.length)]!;
  const someId = () => `pay_${encodeTime(now - Math.floor(Math.random() * span_ms), 10)}`;
  const filters: Record<string, () => string> = {
    id: () => `id=${idAt(Math.floor(Math.random() * rows_total))}`,
    merchant_id: () => `merchant_id=M${String(Math.floor(Math.random() * merchants_total)).padStart(3, '0')}`,
    merchant_order_no: () => `merchant_order_no=B${Math.floor(Math.random() * rows_total)}`,
    status: () => `status=${pick(statuses)}`,
    channel: () => `channel=${pick(channels)[0]}`,
    method: () => `method=${pick(channels)[1]}`,
    created_range: () => {
      const from = now - Math.floor(Math.random() * span_ms);
      return `created_from=${new Date(from).toISOString()}&created_to=${new Date(from + 3_600_000).toISOString()}`;
    },
    next_page: () => `after=${someId()}0000000000000000`,
  };
  const p99s: Record<string, number> = {};
  for (const [name, query] of Object.entries(filters)) {
    const times: number[] = [];
    for (let i = 0; i < samples_per_filter; i++) {
      const started = performance.now();
      const answer = await admin(`/admin/payments?limit=50&${query()}`);
      if (answer.status !== 200) throw new Error(`${name} answered ${answer.status}: ${await answer.text()}`);
      await answer.arrayBuffer();
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    p99s[name] = Math.round(times[Math.ceil(times.length * 0.99) - 1]! * 10) / 10;
    console.log(`${name}: p50 ${times[Math.floor(times.length / 2)]!.toFixed(1)} ms, p99 ${p99s[name]} ms`);
  }
  const worst = Math.max(...Object.values(p99s));
  console.log(`RESULT admin rows=${rows_total} search_p99_ms=${worst} ${Object.entries(p99s).map(([k, v]) => `${k}_p99_ms=${v}`).join(' ')}`);
} finally {
  await paycenter.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** The i-th synthetic order's id: creation times spread evenly over the span, oldest first. */
function idAt(i: number): string {
  const at = Date.now() - span_ms + Math.floor((i / rows_total) * span_ms);
  return `pay_${encodeTime(at, 10)}${String(i).padStart(16, '0')}`;
}

/** Clones the template orders, in turn, N times with a flow each, in one transaction. */
function fill(templateIds: string[]): void {
  const db = new Database(databaseUrl.slice('sqlite:'.length));
  db.exec('PRAGMA foreign_keys = OFF; PRAGMA synchronous = OFF');
  const templates = templateIds.map((id) => db.query('SELECT * FROM orders WHERE id = ?').get(id) as Record<string, unknown>);
  const columns = Object.keys(templates[0]!);
  const insertOrder = db.prepare(`INSERT INTO orders (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  const insertFlow = db.prepare("INSERT INTO flows (id, order_id, method, channel, amount, status, channel_trade_no, created_at, completed_at) VALUES (?, ?, ?, ?, 10000, 'pending', NULL, ?, NULL)");
  db.transaction(() => {
    for (let i = 0; i < rows_total; i++) {
      const id = idAt(i);
      const row = templates[i % templates.length]!;
      const [channel, method] = channels[i % channels.length]!;
      const values = columns.map((c) => {
        switch (c) {
          case 'id': return id;
          case 'merchant_id': return `M${String(i % merchants_total).padStart(3, '0')}`;
          case 'merchant_order_no': return `B${i}`;
          case 'snapshot': return String(row.snapshot).replaceAll(String(row.id), id);
          default: return row[c];
        }
      });
      insertOrder.run(...(values as never[]));
      insertFlow.run(`flw_${id.slice(4)}`, id, method, channel, Date.now());
    }
  })();
  db.exec('ANALYZE');
  db.close();
}
