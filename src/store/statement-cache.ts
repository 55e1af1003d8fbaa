/**
 * One SQLite connection's prepared statements, by SQL text, the least recently used finalized
 * first. Most of the store's SQL is fixed text, but a few queries write a page size or a list's
 * length into it (`LIMIT 50`, `IN (?, ?, ?)`), so the code alone does not bound how many texts
 * a long-running process meets.
 */
import type { Database, Statement } from 'bun:sqlite';

/** Statements kept prepared per connection; the stores' fixed texts number about a hundred. */
export const prepared_statements_max = 256;

export class StatementCache {
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: Database, private readonly max = prepared_statements_max) {}

  /**
   * The statement for `sql`, prepared on first use. Use it at once: one fetched, then left
   * while `max` other texts are prepared, may have been finalized meanwhile.
   */
  get(sql: string): Statement {
    const cached = this.statements.get(sql);
    if (cached) {
      this.statements.delete(sql);
      this.statements.set(sql, cached);
      return cached;
    }
    const statement = this.db.prepare(sql);
    this.statements.set(sql, statement);
    if (this.statements.size > this.max) this.evictOldest();
    return statement;
  }

  get size(): number {
    return this.statements.size;
  }

  /** Finalizes every statement (an unfinalized one keeps its connection open). */
  finalize(): void {
    for (const statement of this.statements.values()) statement.finalize();
    this.statements.clear();
  }

  private evictOldest(): void {
    const [sql, statement] = this.statements.entries().next().value!;
    this.statements.delete(sql);
    statement.finalize();
  }
}
