/**
 * Where rules, lists, settings and payers' paid history live: the store's database, through a
 * connection of risk's own (the order store's interface stays about orders). Both dialects run
 * the same statements; SQLite gets `?N` for Postgres's `$N`.
 */
import { SQL } from 'bun';
import { Database } from 'bun:sqlite';
import * as v from 'valibot';
import { type ListEntry, type ListSubject, type Rule, type Settings, default_settings, history_orders_max, ruleOf, rule_kinds, list_subjects } from './rules.ts';
import { postgres_session } from '../store/postgres.ts';

type Row = Record<string, unknown>;

/** The two statements risk needs from a database. */
export type Sql = {
  readonly dialect: 'sqlite' | 'postgres';
  all(query: string, params?: unknown[]): Promise<Row[]>;
  /** Rows changed. */
  run(query: string, params?: unknown[]): Promise<number>;
  close(): Promise<void>;
};

const sqlite_busy_timeout_ms = 5_000;
/** Risk's own Postgres connections for rules, lists and history. */
const postgres_pool_max = 8;
/**
 * The counters' connections: one. Reservations that share a counter (a merchant-wide limit: all
 * of them) take turns in the database anyway, and more connections only add waiters that every
 * commit wakes to re-check the row: bench http with 100 rules, Postgres alone, made 99–312
 * creates/s with 8 (Postgres spending 2.9–9.6 ms of CPU per create), 154 with 4, 428–510 with 2
 * and 595 with 1 (1.9 ms) — docs/benchmarks.md.
 */
const postgres_counter_connections_max = 1;

export function sqliteSql(db: Database): Sql {
  const prepared = (query: string) => db.query(query.replace(/\$(\d+)/g, '?$1'));
  return {
    dialect: 'sqlite',
    all: async (query, params = []) => prepared(query).all(...(params as never[])) as Row[],
    run: async (query, params = []) => prepared(query).run(...(params as never[])).changes,
    close: async () => db.close(),
  };
}

export function postgresSql(sql: SQL): Sql {
  return {
    dialect: 'postgres',
    all: async (query, params = []) => (await sql.unsafe(query, params)) as Row[],
    run: async (query, params = []) => ((await sql.unsafe(query, params)) as unknown as { count: number }).count,
    close: () => sql.close(),
  };
}

/**
 * Risk's connection to the database DATABASE_URL names. SQLite: WAL; its writes are operators'
 * changes and payers' history (synchronous=NORMAL: a power cut can forget the history's last
 * moments, which only makes an anomaly rule see a little less).
 *
 * Postgres: a second pool for the counters, whose commits do not wait for the disk
 * (synchronous_commit=off). Exactness survives a crash all the same: a reservation commits
 * before its order's create begins, and the order's durable commit flushes the WAL up to its own
 * record — every reservation before it included. A crash can only forget reservations of orders
 * that were never durably created, and releases (an order then keeps its share: less, never
 * more). Waiting for the disk inside the counters' locks made every create of a merchant with a
 * merchant-wide limit wait for one flush after another (docs/benchmarks.md).
 */
export async function openRiskDatabase(databaseUrl: string): Promise<{ sql: Sql; postgres: SQL | null; counters: SQL | null }> {
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new Database(databaseUrl.slice('sqlite:'.length));
    db.exec(`PRAGMA busy_timeout = ${sqlite_busy_timeout_ms}`);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    return { sql: sqliteSql(db), postgres: null, counters: null };
  }
  const pg = new SQL({ url: databaseUrl, max: postgres_pool_max, connection: postgres_session } as SQL.Options);
  const counters = new SQL({
    url: databaseUrl, max: postgres_counter_connections_max, connection: { ...postgres_session, synchronous_commit: 'off' },
  } as SQL.Options);
  return { sql: postgresSql(pg), postgres: pg, counters };
}

/** An integer column: a number from SQLite, text or a bigint from Postgres (a check, not a union, so a row parses without building the issues of the branches that did not match). */
const int = v.pipe(
  v.custom<number | string | bigint>((x) => typeof x === 'number' || typeof x === 'string' || typeof x === 'bigint', 'must be an integer'),
  v.transform(Number), v.integer(),
);
/** A JSON column as either dialect hands it over: SQLite as text, Postgres already parsed. */
export const jsonValue = v.pipe(v.unknown(), v.transform((x) => (typeof x === 'string' ? JSON.parse(x) : x)));

const ruleRow = v.object({
  code: v.string(), kind: v.picklist(rule_kinds), action: v.picklist(['reject', 'review']), score: int,
  status: v.picklist(['enabled', 'disabled']), params: jsonValue, created_at: int, updated_at: int,
});
const entryRow = v.object({ id: v.string(), subject: v.picklist(list_subjects), value: v.string(), reason: v.nullable(v.string()), created_at: int });
const settingsRow = v.object({ review_at: int, reject_at: int });
const historyRow = v.object({ amount: int, currency: v.string(), region: v.nullable(v.string()) });

function storedRule(row: Row): Rule {
  const r = v.parse(ruleRow, row);
  const parsed = ruleOf({ code: r.code, kind: r.kind, action: r.action, score: r.score, status: r.status, params: r.params, createdAt: r.created_at, updatedAt: r.updated_at });
  if (!parsed.ok) throw new Error(`assertion failed: stored risk rule ${r.code} is invalid: ${parsed.issue.field} ${parsed.issue.message}`);
  return parsed.rule;
}

const entryOf = (row: Row): ListEntry => {
  const e = v.parse(entryRow, row);
  return { id: e.id, subject: e.subject, value: e.value, reason: e.reason, createdAt: e.created_at };
};

/** List entries one instance holds in memory at most: past it, adding entries is refused. */
export const list_entries_max = 200_000;
/** Rules at most: each is evaluated on every create. */
export const rules_max = 1_000;

export type PaidOrder = { orderId: string; merchantId: string; userId: string; amount: number; currency: string; region: string | null; paidAt: number };

const generationRow = v.object({ n: int });

export class RiskRepo {
  constructor(private readonly sql: Sql) {}

  /** Moves with every change to rules, lists or settings (see bump). */
  async generation(): Promise<number> {
    const [row] = await this.sql.all('SELECT n FROM risk_generation WHERE id = 1');
    return v.parse(generationRow, row).n;
  }

  /** Moves the generation on, and says where to. */
  async bump(): Promise<number> {
    const [row] = await this.sql.all('UPDATE risk_generation SET n = n + 1 WHERE id = 1 RETURNING n');
    return v.parse(generationRow, row).n;
  }

  async rules(): Promise<Rule[]> {
    return (await this.sql.all(`SELECT * FROM risk_rules ORDER BY code LIMIT ${rules_max}`)).map(storedRule);
  }

  async rule(code: string): Promise<Rule | null> {
    const [row] = await this.sql.all('SELECT * FROM risk_rules WHERE code = $1', [code]);
    return row ? storedRule(row) : null;
  }

  async countRules(): Promise<number> {
    const [row] = await this.sql.all('SELECT count(*) AS n FROM risk_rules');
    return Number(row?.n ?? 0);
  }

  /** False when a rule with this code exists. */
  async insertRule(rule: Rule): Promise<boolean> {
    const params = this.sql.dialect === 'postgres' ? '$6::text::jsonb' : '$6';
    return (await this.sql.run(
      `INSERT INTO risk_rules (code, kind, action, score, status, params, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, ${params}, $7, $8) ON CONFLICT (code) DO NOTHING`,
      [rule.code, rule.kind, rule.action, rule.score, rule.status, JSON.stringify(rule.params), rule.createdAt, rule.updatedAt],
    )) === 1;
  }

  async updateRule(rule: Rule): Promise<void> {
    const params = this.sql.dialect === 'postgres' ? '$4::text::jsonb' : '$4';
    await this.sql.run(
      `UPDATE risk_rules SET action = $1, score = $2, status = $3, params = ${params}, updated_at = $5 WHERE code = $6`,
      [rule.action, rule.score, rule.status, JSON.stringify(rule.params), rule.updatedAt, rule.code],
    );
  }

  async deleteRule(code: string): Promise<boolean> {
    return (await this.sql.run('DELETE FROM risk_rules WHERE code = $1', [code])) === 1;
  }

  async entries(subject: ListSubject | null = null): Promise<ListEntry[]> {
    const rows = subject === null
      ? await this.sql.all(`SELECT * FROM risk_list_entries ORDER BY id LIMIT ${list_entries_max}`)
      : await this.sql.all(`SELECT * FROM risk_list_entries WHERE subject = $1 ORDER BY id LIMIT ${list_entries_max}`, [subject]);
    return rows.map(entryOf);
  }

  /** The newest entries first (ids start with their creation time), at most `limit`. */
  async newestEntries(limit: number): Promise<ListEntry[]> {
    return (await this.sql.all('SELECT * FROM risk_list_entries ORDER BY id DESC LIMIT $1', [limit])).map(entryOf);
  }

  async countEntries(): Promise<number> {
    const [row] = await this.sql.all('SELECT count(*) AS n FROM risk_list_entries');
    return Number(row?.n ?? 0);
  }

  async insertEntry(e: ListEntry): Promise<void> {
    await this.sql.run('INSERT INTO risk_list_entries (id, subject, value, reason, created_at) VALUES ($1, $2, $3, $4, $5)', [e.id, e.subject, e.value, e.reason, e.createdAt]);
  }

  async deleteEntry(id: string): Promise<boolean> {
    return (await this.sql.run('DELETE FROM risk_list_entries WHERE id = $1', [id])) === 1;
  }

  async settings(): Promise<Settings> {
    const [row] = await this.sql.all('SELECT review_at, reject_at FROM risk_settings WHERE id = 1');
    if (!row) return default_settings;
    const s = v.parse(settingsRow, row);
    return { reviewAt: s.review_at, rejectAt: s.reject_at };
  }

  async saveSettings(s: Settings, at: number): Promise<void> {
    await this.sql.run(
      `INSERT INTO risk_settings (id, review_at, reject_at, updated_at) VALUES (1, $1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET review_at = excluded.review_at, reject_at = excluded.reject_at, updated_at = excluded.updated_at`,
      [s.reviewAt, s.rejectAt, at],
    );
  }

  /** A payer's latest paid orders, newest first (amount and region anomalies look at them). */
  async history(merchantId: string, userId: string): Promise<Array<v.InferOutput<typeof historyRow>>> {
    const rows = await this.sql.all(
      `SELECT amount, currency, region FROM risk_paid_history WHERE merchant_id = $1 AND user_id = $2 ORDER BY paid_at DESC LIMIT ${history_orders_max}`,
      [merchantId, userId],
    );
    return rows.map((r) => v.parse(historyRow, r));
  }

  /** Idempotent by order: an order is paid once, however often its success is heard. */
  async recordPaid(p: PaidOrder): Promise<void> {
    await this.sql.run(
      `INSERT INTO risk_paid_history (order_id, merchant_id, user_id, amount, currency, region, paid_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (order_id) DO NOTHING`,
      [p.orderId, p.merchantId, p.userId, p.amount, p.currency, p.region, p.paidAt],
    );
  }
}
