/**
 * bun run bench recon [--rows N] — a day's statement of N lines (default 1,000,000, or
 * BENCH_RECON_ROWS) reconciled against N flows of that day.
 *
 * A child process prepares, untimed: a SQLite store with N collected flows of one WeChat Pay
 * channel on one China day (written straight into the flows table: the bench measures reading
 * and matching, not paying), and the channel's trade bill for that day as a gzip file with its
 * SHA1, one line per flow. The parent then starts paycenter on that store and runs one
 * reconciliation from the file (as an operator's upload would): gunzip, SHA1, CSV, match both
 * ways, write the run. Every line must match. Rows per second = N / run seconds; peak RSS is the
 * parent's high-water mark (VmHWM) after the run, paycenter's own baseline and the file's bytes
 * included (docs/benchmarks.md: where it goes, per phase).
 * Ends with `RESULT recon rows=… rows_per_s=… rss_mb=…`.
 */
import { Database } from 'bun:sqlite';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { openStore } from '../src/store/open.ts';
import { seal } from '../src/secrets.ts';
import { startPaycenter } from '../src/wiring.ts';

const rows_flag = process.argv.indexOf('--rows');
const rows_total = Number((rows_flag >= 0 ? process.argv[rows_flag + 1] : undefined) ?? process.env.BENCH_RECON_ROWS ?? 1_000_000);
const date = '2026-11-30';
const day_start = Date.parse(`${date}T00:00:00+08:00`);
const secret_key = Buffer.alloc(32, 7).toString('base64');
const channel = 'wechat_bench';
const child_flag = '--prepare';
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

const flowId = (i: number) => `flw_BENCH${String(i).padStart(21, '0')}`;
const amountOf = (i: number) => 100 + (i % 50_000);
const completedAt = (i: number) => day_start + Math.floor((i / rows_total) * 86_000_000);

/** The store and the file, in a child so that building them does not count against the run's memory. */
async function prepare(dir: string): Promise<void> {
  const url = `sqlite:${join(dir, 'recon.db')}`;
  const store = await openStore(url);
  await store.migrate();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = (k: typeof privateKey) => k.export({ type: k.type === 'private' ? 'pkcs8' : 'spki', format: 'pem' }).toString();
  const config = {
    mchid: '1900000001', appid: 'wxbench', serial_no: 'BENCH', private_key: pem(privateKey), apiv3_key: 'a'.repeat(32),
    platform_serial: 'PLATFORM', platform_public_key: pem(publicKey), base_url: 'http://127.0.0.1:9/v3',
  };
  const now = Date.now();
  await store.insertChannel({
    code: channel, provider: 'wechatpay', methods: ['wechat_native'], currencies: ['CNY'], weight: 1, singleLimit: null, dailyLimit: null,
    status: 'enabled', configEnc: seal(Buffer.from(secret_key, 'base64'), JSON.stringify(config)), feeRate: '0.0060', createdAt: now, updatedAt: now,
  });
  await store.close();
  const db = new Database(url.slice('sqlite:'.length));
  db.exec('PRAGMA foreign_keys = OFF; PRAGMA synchronous = OFF');
  const insert = db.prepare("INSERT INTO flows (id, order_id, method, channel, amount, status, channel_trade_no, created_at, completed_at) VALUES (?, ?, 'wechat_native', ?, ?, 'succeeded', ?, ?, ?)");
  db.transaction(() => {
    for (let i = 0; i < rows_total; i++) insert.run(flowId(i), `pay_BENCH${String(i).padStart(21, '0')}`, channel, amountOf(i), `42000${String(i).padStart(23, '0')}`, completedAt(i) - 60_000, completedAt(i));
  })();
  db.close();

  const header = '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';
  const yuan = (fen: number) => `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
  // The channel's fee_rate is 0.0060: a fee in 1/100000 yuan is fen × 6.
  const fee = (fen: number) => `${Math.floor((fen * 6) / 100_000)}.${String((fen * 6) % 100_000).padStart(5, '0')}`;
  const time = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
  const lines: string[] = [header];
  for (let i = 0; i < rows_total; i++) {
    const a = yuan(amountOf(i));
    lines.push(`\`${time(completedAt(i))},\`wxbench,\`1900000001,\`0,\`,\`42000${String(i).padStart(23, '0')},\`${flowId(i)},\`openid,\`NATIVE,\`SUCCESS,\`OTHERS,\`CNY,\`${a},\`0.00,\`0,\`0,\`0.00,\`0.00,\`,\`,\`bench,\`,\`${fee(amountOf(i))},\`0.60%,\`${a},\`0.00,\``);
  }
  lines.push('总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额', `\`${rows_total},\`0.00,\`0.00,\`0.00,\`0.00000,\`0.00,\`0.00`);
  const csv = new TextEncoder().encode(`${lines.join('\r\n')}\r\n`);
  writeFileSync(join(dir, 'bill.csv.gz'), gzipSync(csv, { level: 6 }));
  writeFileSync(join(dir, 'bill.sha1'), new Bun.CryptoHasher('sha1').update(csv).digest('hex'));
  console.log(`prepared ${rows_total} flows and a ${mb(csv.length)} MB bill`);
}

const peakRssMb = () => mb(Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024);

async function measure(dir: string): Promise<void> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `sqlite:${join(dir, 'recon.db')}`, ADMIN_TOKEN: 'adm_bench_0123456789', SECRET_KEY: secret_key }, 'production');
  const paycenter = await startPaycenter(config, { log: createLogger('error'), manualTicker: true });
  const file = { bytes: readFileSync(join(dir, 'bill.csv.gz')), mediaType: 'application/gzip' as const, sha1: readFileSync(join(dir, 'bill.sha1'), 'utf8') };
  const baseline = peakRssMb();
  const started = performance.now();
  const outcome = await paycenter.recon.run({ channel, date, source: 'upload', rerun: false, file });
  const seconds = (performance.now() - started) / 1000;
  await paycenter.stop();
  if (!outcome.ok || outcome.run.status !== 'done' || outcome.run.counts.matched !== rows_total) {
    console.error('the run did not match every line:', JSON.stringify(outcome));
    process.exit(1);
  }
  console.log(`reconciled ${rows_total} lines in ${seconds.toFixed(2)} s (paycenter's RSS before the run: ${baseline} MB)`);
  console.log(`RESULT recon rows=${rows_total} rows_per_s=${Math.round(rows_total / seconds)} rss_mb=${peakRssMb()}`);
}

if (process.argv.includes(child_flag)) {
  await prepare(process.argv[process.argv.indexOf(child_flag) + 1]!);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'paycenter-bench-recon-'));
  try {
    const child = Bun.spawn(['bun', import.meta.path, child_flag, dir, '--rows', String(rows_total)], { stdio: ['ignore', 'inherit', 'inherit'] });
    if ((await child.exited) !== 0) process.exit(1);
    await measure(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
