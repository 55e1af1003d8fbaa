/** The Store port's request nonces (in batches and in order writes) and operator data, on both adapters. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Database } from 'bun:sqlite';
import { SQL } from 'bun';
import type { ChannelRow, MerchantRow, NonceClaim } from '../../src/store/store.ts';
import { emptyBatch, nonce_purge_interval_ms, nonce_purge_rows_max } from '../../src/store/rows.ts';
import { executeSql } from '../http/harness.ts';
import { next, orderRow, t0, unique, writeOf } from './fixtures.ts';
import { type FreshStore, freshStore, freshStoreFor, storeKinds } from './stores.ts';

const window_ms = 300_000;
const claim = (nonce: string, merchantId = 'M1', expiresAt = t0 + window_ms): NonceClaim => ({ merchantId, nonce, expiresAt });

for (const kind of storeKinds) {
  describe(`store on ${kind}: nonces and operator data`, () => {
    const store = freshStoreFor(kind);

    test('a nonce is claimed once per merchant; equal claims in one batch: the first wins', async () => {
      const [a, b] = [unique(), unique()];
      const batch = { ...emptyBatch(t0), writes: [], nonces: [claim(a), claim(a), claim(b), claim(a, 'M2')], nowMs: t0 };
      expect(await store.commitBatch(batch)).toEqual({ writes: [], nonces: [true, false, true, true], outboxResults: [], notifications: [] });
      expect((await store.commitBatch({ ...emptyBatch(t0), writes: [], nonces: [claim(b), claim(unique())], nowMs: t0 + 1 })).nonces).toEqual([false, true]);
    });

    test('an expired nonce can be claimed again', async () => {
      const n = unique();
      expect((await store.commitBatch({ ...emptyBatch(t0), writes: [], nonces: [claim(n, 'M1', t0 + 10)], nowMs: t0 })).nonces).toEqual([true]);
      expect((await store.commitBatch({ ...emptyBatch(t0), writes: [], nonces: [claim(n, 'M1', t0 + 20)], nowMs: t0 + 9 })).nonces).toEqual([false]);
      expect((await store.commitBatch({ ...emptyBatch(t0), writes: [], nonces: [claim(n, 'M1', t0 + 30)], nowMs: t0 + 10 })).nonces).toEqual([true]);
      expect((await store.commitBatch({ ...emptyBatch(t0), writes: [], nonces: [claim(n, 'M1', t0 + 40)], nowMs: t0 + 29 })).nonces).toEqual([false]);
    });

    test("a write's nonce: free → the write applies; used → nonce_used and nothing applies", async () => {
      const [n, m] = [unique(), unique()];
      const first = orderRow(1);
      const replay = orderRow(1);
      const batch = { ...emptyBatch(t0), writes: [{ ...writeOf(first), nonce: claim(n) }, { ...writeOf(replay), nonce: claim(n) }], nonces: [claim(n), claim(m)], nowMs: t0 };
      // Writes' nonces are claimed before the batch's own claims.
      expect(await store.commitBatch(batch)).toEqual({ writes: ['committed', 'nonce_used'], nonces: [false, true], outboxResults: [], notifications: [] });
      expect(await store.loadOrder(first.id)).toEqual(first);
      expect(await store.loadOrder(replay.id)).toBeNull();
      const later = orderRow(1);
      expect(await store.commitBatch({ ...emptyBatch(t0), writes: [{ ...writeOf(later), nonce: claim(m) }], nonces: [], nowMs: t0 + 1 })).toEqual({ writes: ['nonce_used'], nonces: [], outboxResults: [], notifications: [] });
      expect(await store.loadOrder(later.id)).toBeNull();
    });

    test("a write that conflicts still uses its nonce; writes with different nonces don't interfere", async () => {
      const [n, m] = [unique(), unique()];
      const duplicate = orderRow(1);
      await store.commit([writeOf(duplicate)]);
      const again = orderRow(1, { id: duplicate.id });
      const other = orderRow(1);
      const outcome = await store.commitBatch({ ...emptyBatch(t0), writes: [{ ...writeOf(again), nonce: claim(n) }, { ...writeOf(other), nonce: claim(m) }], nonces: [], nowMs: t0 });
      expect(outcome.writes).toEqual(['duplicate_order', 'committed']);
      expect((await store.commitBatch({ ...emptyBatch(t0), writes: [], nonces: [claim(n), claim(m)], nowMs: t0 + 1 })).nonces).toEqual([false, false]);
      expect(await store.commit([writeOf(next(other))])).toEqual(['committed']);
    });

    test("a reconciliation run is taken while its lease holds by nobody else, and after it ran out by anyone (its process died)", async () => {
      const run = {
        id: `rcn_${unique()}`, channel: `ch_${unique()}`, date: '2026-11-30', status: 'running' as const, source: 'download' as const,
        counts: {}, totals: {}, error: null, leaseUntil: t0 + 60_000, createdAt: t0, finishedAt: null,
      };
      expect(await store.startReconRun(run, false, t0)).not.toBeNull();
      // Another instance a minute later, while the lease holds: not started.
      expect(await store.startReconRun({ ...run, leaseUntil: t0 + 120_000 }, false, t0 + 30_000)).toBeNull();
      // The first one died; once its lease ran out, the day is run again.
      expect(await store.startReconRun({ ...run, leaseUntil: t0 + 180_000 }, false, t0 + 60_001)).not.toBeNull();
      expect((await store.loadReconRun(run.id))!.leaseUntil).toBe(t0 + 180_000);
    });

    test('merchants: insert once, load, update; JSON arrays and nulls round-trip', async () => {
      const merchant: MerchantRow = {
        id: `M_${unique()}`, name: '商户 one', secretEnc: 'v1:abc', notifyUrl: null, methods: ['alipay_qr', 'wechat_native'],
        status: 'enabled', routing: 'smart', createdAt: t0, updatedAt: t0,
      };
      expect(await store.insertMerchant(merchant)).toBe('inserted');
      expect(await store.insertMerchant({ ...merchant, name: 'other' })).toBe('exists');
      expect(await store.loadMerchant(merchant.id)).toEqual(merchant);
      const updated: MerchantRow = { ...merchant, name: 'renamed', notifyUrl: 'https://m.example/notify', methods: ['balance'], status: 'disabled', routing: 'lowest_fee', updatedAt: t0 + 5 };
      await store.updateMerchant(updated);
      expect(await store.loadMerchant(merchant.id)).toEqual(updated);
      expect(await store.loadMerchant('M_none')).toBeNull();
    });

    test('merchants are listed by id, a page after a given id at a time', async () => {
      const prefix = `M_list_${unique()}`;
      const rows: MerchantRow[] = [2, 0, 1].map((n) => ({
        id: `${prefix}_${n}`, name: `list ${n}`, secretEnc: 'v1:abc', notifyUrl: null, methods: [], status: 'enabled', routing: 'smart', createdAt: t0, updatedAt: t0,
      }));
      for (const row of rows) await store.insertMerchant(row);
      const ours = (page: MerchantRow[]) => page.filter((m) => m.id.startsWith(prefix)).map((m) => m.id);
      expect(ours(await store.listMerchants(`${prefix}`, 2))).toEqual([`${prefix}_0`, `${prefix}_1`]);
      expect(ours(await store.listMerchants(`${prefix}_1`, 10))).toEqual([`${prefix}_2`]);
      expect(ours(await store.listMerchants(null, 1_000))).toEqual([`${prefix}_0`, `${prefix}_1`, `${prefix}_2`]);
    });

    test('channels: insert once, load, list by code, update; limits may be null', async () => {
      const code = `alipay_${unique()}`;
      const channel: ChannelRow = {
        code, provider: 'alipay', methods: ['alipay_qr'], currencies: ['CNY'], weight: 10, singleLimit: 5_000_000, dailyLimit: null,
        status: 'enabled', configEnc: 'v1:cfg', feeRate: '0.0060', createdAt: t0, updatedAt: t0,
      };
      const second: ChannelRow = { ...channel, code: `${code}_b`, singleLimit: null, dailyLimit: 9_007_199_254_740_991 };
      expect(await store.insertChannel(second)).toBe('inserted');
      expect(await store.insertChannel(channel)).toBe('inserted');
      expect(await store.insertChannel(channel)).toBe('exists');
      expect(await store.loadChannel(code)).toEqual(channel);
      expect((await store.listChannels()).filter((c) => c.code.startsWith(code))).toEqual([channel, second]);
      const updated: ChannelRow = { ...channel, methods: ['alipay_qr', 'alipay_wap'], currencies: ['CNY', 'HKD'], weight: 0, dailyLimit: 1, status: 'disabled', configEnc: 'v2:cfg', feeRate: '0.0038', updatedAt: t0 + 1 };
      await store.updateChannel(updated);
      expect(await store.loadChannel(code)).toEqual(updated);
      expect(await store.loadChannel('none')).toBeNull();
    });

    test('ping answers', async () => {
      await store.ping();
    });
  });
}

for (const kind of storeKinds) {
  describe(`store on ${kind}: the nonce purge`, () => {
    let fresh: FreshStore;
    beforeAll(async () => {
      fresh = await freshStore(kind);
    });
    afterAll(() => fresh?.dispose());

    /** Expired nonces of the merchant the test plants them for, counted behind the store's back. */
    async function planted(): Promise<number> {
      const query = "SELECT count(*) AS n FROM nonces WHERE merchant_id = 'M_PURGE'";
      if (kind === 'sqlite') {
        const db = new Database(fresh.url.slice('sqlite:'.length), { readonly: true });
        const [row] = db.query(query).all() as Array<{ n: number }>;
        db.close();
        return Number(row!.n);
      }
      const sql = new SQL({ url: fresh.url, max: 1 });
      const [row] = (await sql.unsafe(query)) as Array<{ n: string }>;
      await sql.close();
      return Number(row!.n);
    }

    test(`removes at most ${nonce_purge_rows_max} expired nonces at a time: the purge runs on the commit path`, async () => {
      const expired = nonce_purge_rows_max + 5;
      const rows = kind === 'sqlite' ? `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${expired}) SELECT 'M_PURGE', 'old' || i, ${t0} FROM n` : `SELECT 'M_PURGE', 'old' || i, ${t0} FROM generate_series(1, ${expired}) AS i`;
      await executeSql(fresh.url, `INSERT INTO nonces (merchant_id, nonce, expires_at) ${rows}`);
      await fresh.store.commitBatch({ ...emptyBatch(t0 + 1), nonces: [claim(unique(), 'M1', t0 + window_ms)], nowMs: t0 + 1 });
      expect(await planted()).toBe(5);
      await fresh.store.commitBatch({ ...emptyBatch(t0 + 1 + nonce_purge_interval_ms), nonces: [claim(unique(), 'M1', t0 + window_ms)], nowMs: t0 + 1 + nonce_purge_interval_ms });
      expect(await planted()).toBe(0);
    }, 30_000);
  });
}
