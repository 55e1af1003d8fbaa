/**
 * Boots the real paycenter (wiring.ts) on a fresh database and a free loopback port, and
 * talks to it over real HTTP with correctly — or deliberately incorrectly — signed requests.
 */
import { SQL } from 'bun';
import { Database } from 'bun:sqlite';
import { openSqliteDatabase } from '../../src/store/sqlite-batch.ts';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.ts';
import { requestSignature } from '../../src/http/signature.ts';
import { createLogger } from '../../src/log.ts';
import { type Paycenter, type StartOptions, startPaycenter } from '../../src/wiring.ts';
import { type StoreKind, freshDatabase } from '../store/stores.ts';

export const admin_token = 'adm_test_0123456789abcdef';
export const secret_key = Buffer.alloc(32, 9).toString('base64');

export type Booted = { paycenter: Paycenter; url: string; databaseUrl: string; stop: () => Promise<void> };

export async function bootPaycenter(kind: StoreKind, env: Record<string, string> = {}, options: StartOptions = {}): Promise<Booted> {
  const database = await freshDatabase(kind);
  const config = loadConfig({
    // Tests' merchants listen on 127.0.0.1: private targets allowed, as under `bun dev` (a test may turn it off).
    PORT: '0', HOST: '127.0.0.1', DATABASE_URL: database.url, ADMIN_TOKEN: admin_token, SECRET_KEY: secret_key, OUTBOUND_ALLOW_PRIVATE: '1', ...env,
  }, 'production');
  // Request logs would drown the test output; errors still show.
  const paycenter = await startPaycenter(config, { log: createLogger('error'), ...options });
  return {
    paycenter,
    url: paycenter.url,
    databaseUrl: database.url,
    stop: async () => {
      await paycenter.stop();
      await database.drop();
    },
  };
}

/** Another instance of paycenter on a database an earlier boot made (the store and its migrations are shared). */
export function startInstance(databaseUrl: string, env: Record<string, string> = {}, options: StartOptions = {}): Promise<Paycenter> {
  const config = loadConfig({
    PORT: '0', HOST: '127.0.0.1', DATABASE_URL: databaseUrl, ADMIN_TOKEN: admin_token, SECRET_KEY: secret_key, ...env,
  }, 'production');
  return startPaycenter(config, { log: createLogger('error'), ...options });
}

export type Answer = { status: number; body: any; headers: Headers };

export async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, body, headers: response.headers };
}

export async function adminCall(baseUrl: string, method: string, path: string, body?: unknown, token = admin_token): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return answerOf(await fetch(baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
}

export type SignOptions = {
  timestamp?: number;
  nonce?: string;
  /** Sign this body instead of the one sent. */
  signedBody?: string | Uint8Array;
  secret?: string;
  merchantId?: string;
  authorization?: string | null;
  contentType?: string | null;
  /** Sent besides the signed ones (X-Request-Id, say). */
  headers?: Record<string, string>;
};

/** A merchant's client: signs every request as API.md says, unless told otherwise. */
export class MerchantClient {
  constructor(readonly baseUrl: string, readonly merchantId: string, readonly secret: string) {}

  static async create(baseUrl: string, fields: Record<string, unknown> = {}): Promise<MerchantClient> {
    const created = await adminCall(baseUrl, 'POST', '/admin/merchants', { name: 'Test merchant', ...fields });
    if (created.status !== 201) throw new Error(`merchant not created: ${JSON.stringify(created.body)}`);
    return new MerchantClient(baseUrl, created.body.merchant_id, created.body.secret);
  }

  async call(method: string, path: string, body?: string | Uint8Array | object, options: SignOptions = {}): Promise<Answer> {
    const raw = body === undefined ? '' : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    const nonce = options.nonce ?? randomBytes(12).toString('hex');
    const signature = requestSignature(options.secret ?? this.secret, method, path, timestamp, nonce, options.signedBody ?? raw);
    const headers: Record<string, string> = { ...options.headers };
    const authorization = options.authorization === undefined
      ? `PAYC-HMAC-SHA256 merchant_id="${options.merchantId ?? this.merchantId}",timestamp="${timestamp}",nonce="${nonce}",signature="${signature}"`
      : options.authorization;
    if (authorization !== null) headers.authorization = authorization;
    const contentType = options.contentType === undefined ? 'application/json' : options.contentType;
    if (contentType !== null && method !== 'GET') headers['content-type'] = contentType;
    const init: RequestInit = { method, headers, body: method === 'GET' ? undefined : raw };
    return answerOf(await fetch(this.baseUrl + path, init));
  }

  createPayment(fields: Record<string, unknown> = {}, options: SignOptions = {}): Promise<Answer> {
    const body = { merchant_order_no: `ORD-${randomBytes(6).toString('hex')}`, amount: '100.00', subject: 'Hotel booking', ...fields };
    return this.call('POST', '/v1/payments', body, options);
  }
}

/**
 * Settles a payment through its actor, as a channel's success callback will once channels
 * exist: the engine is the real one, only the callback route is skipped.
 */
export async function settleThroughActor(paycenter: Paycenter, paymentId: string): Promise<void> {
  const order = await paycenter.engine.load(paymentId);
  if (!order) throw new Error(`no payment ${paymentId}`);
  const flowId = `flw_${paymentId.slice(4)}`;
  const at = Date.now();
  const parts = [{ flowId, method: 'alipay_qr', channel: 'alipay_main', amount: order.context.amount }];
  await paycenter.engine.dispatch(paymentId, { type: 'pay.start', at, parts });
  const paid = await paycenter.engine.dispatch(paymentId, {
    type: 'flow.report', at: at + 1, flowId, status: 'succeeded', amount: order.context.amount, currency: order.context.currency, source: 'callback',
  });
  if (paid.outcome !== 'applied' || paid.order.row.status !== 'succeeded') throw new Error(`payment ${paymentId} did not settle`);
}

const watched_tables = ['orders', 'flows', 'refunds', 'journal', 'outbox', 'timers', 'merchant_events', 'callback_log'];

/** Row counts of the tables a request could change, read straight from the database. */
export async function tableCounts(databaseUrl: string): Promise<Record<string, number>> {
  const query = watched_tables.map((t) => `SELECT '${t}' AS t, count(*) AS n FROM ${t}`).join(' UNION ALL ');
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new Database(databaseUrl.slice('sqlite:'.length), { readonly: true });
    const rows = db.query(query).all() as Array<{ t: string; n: number }>;
    db.close();
    return Object.fromEntries(rows.map((r) => [r.t, Number(r.n)]));
  }
  const sql = new SQL({ url: databaseUrl, max: 1 });
  const rows = (await sql.unsafe(query)) as Array<{ t: string; n: string }>;
  await sql.close();
  return Object.fromEntries(rows.map((r) => [r.t, Number(r.n)]));
}

/** Runs one statement straight on the database, behind paycenter's back (planting a broken row). */
export async function executeSql(databaseUrl: string, statement: string): Promise<void> {
  if (databaseUrl.startsWith('sqlite:')) {
    const db = openSqliteDatabase(databaseUrl.slice('sqlite:'.length));
    db.exec(statement);
    db.close();
    return;
  }
  const sql = new SQL({ url: databaseUrl, max: 1 });
  await sql.unsafe(statement);
  await sql.close();
}
