/**
 * GET /v1/events pages a merchant's events in the order they became visible, so `after=` never
 * passes one. Event ids are made before the commit (with the order's write set, queued for the
 * group commit), so a later id can commit first; pages by id then passed the earlier id's event
 * once the later one had been listed, and a merchant reading the list — the only path for one
 * without a notify_url — never learned of it. On Postgres two instances' transactions are in
 * flight at once as well: an event must not be listed while a transaction that began writing
 * before it may still add one ahead of it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { SQL } from 'bun';
import fc from 'fast-check';
import { newId } from '../../src/ids.ts';
import type { MerchantEventRow } from '../../src/store/store.ts';
import { type Booted, MerchantClient, bootPaycenter } from '../http/harness.ts';
import { orderRow, t0, unique, writeOf } from './fixtures.ts';
import { type FreshStore, freshStore, postgresServerUrl, storeKinds } from './stores.ts';

const seed = Number(process.env.PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`merchant events order: PROPERTY_SEED=${seed}`);

const eventOf = (merchantId: string, orderId: string, id: string): MerchantEventRow => ({
  id, merchantId, orderId, type: 'payment.succeeded', data: { id: orderId }, createdAt: t0,
});

for (const kind of storeKinds) {
  describe(`a merchant's events (${kind})`, () => {
    let fresh: FreshStore;
    beforeAll(async () => {
      fresh = await freshStore(kind);
    });
    afterAll(() => fresh?.dispose());

    test('are listed in commit order: an event whose id is older but committed later is on the next page', async () => {
      const merchantId = `M${unique()}`;
      const [first, second] = [orderRow(1, { merchantId }), orderRow(1, { merchantId })];
      const [older, newer] = [newId('evt', t0), newId('evt', t0 + 1)];
      expect(older < newer).toBe(true);
      await fresh.store.commit([writeOf(second, { merchantEvents: [eventOf(merchantId, second.id, newer)] })]);
      expect((await fresh.store.listMerchantEventsAfter(merchantId, null, 10))!.map((e) => e.id)).toEqual([newer]);

      await fresh.store.commit([writeOf(first, { merchantEvents: [eventOf(merchantId, first.id, older)] })]);
      expect((await fresh.store.listMerchantEventsAfter(merchantId, newer, 10))!.map((e) => e.id)).toEqual([older]);
      expect((await fresh.store.listMerchantEventsAfter(merchantId, null, 10))!.map((e) => e.id)).toEqual([newer, older]);
    });

    test('a reader paging with after= while writers commit ids made earlier sees every event once (property)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.nat({ max: 4 }), { minLength: 12, maxLength: 30 }), async (delays) => {
          const merchantId = `M${unique()}`;
          const written: string[] = [];
          const writers = delays.map(async (delay, i) => {
            await Bun.sleep(i % 3);
            const order = orderRow(1, { merchantId });
            const id = newId('evt');
            await Bun.sleep(delay); // the id is made, the commit lands later: as a queued write set's
            await fresh.store.commit([writeOf(order, { merchantEvents: [eventOf(merchantId, order.id, id)] })]);
            written.push(id);
          });
          const seen: string[] = [];
          let cursor: string | null = null;
          const page = async () => {
            const events = (await fresh.store.listMerchantEventsAfter(merchantId, cursor, 3))!;
            seen.push(...events.map((e) => e.id));
            cursor = events.at(-1)?.id ?? cursor;
            return events.length;
          };
          let writing = true;
          const reader = (async () => {
            // A SQLite read answers without yielding: sleep so the writers' timers run.
            while (writing) {
              await page();
              await Bun.sleep(1);
            }
          })();
          await Promise.all(writers);
          writing = false;
          await reader;
          while ((await page()) > 0);
          expect(seen.toSorted()).toEqual(written.toSorted());
        }),
        { numRuns: 8, seed, endOnFailure: true },
      );
    });

    test('an `after` that names no event of this merchant is null, not a page', async () => {
      const merchantId = `M${unique()}`;
      const order = orderRow(1, { merchantId });
      const event = eventOf(merchantId, order.id, newId('evt', t0));
      await fresh.store.commit([writeOf(order, { merchantEvents: [event] })]);
      expect(await fresh.store.listMerchantEventsAfter(merchantId, newId('evt', t0 + 5), 10)).toBeNull();
      expect(await fresh.store.listMerchantEventsAfter(`M${unique()}`, event.id, 10)).toBeNull();
    });
  });
}

describe("a merchant's events (postgres, two transactions in flight)", () => {
  let fresh: FreshStore;
  let other: SQL;
  beforeAll(async () => {
    fresh = await freshStore('postgres');
    other = new SQL({ url: fresh.url, max: 1 });
  });
  afterAll(async () => {
    await other?.close();
    await fresh?.dispose();
  });

  test('an event is not listed while a transaction that began writing before it is still open', async () => {
    const merchantId = `M${unique()}`;
    const [first, second] = [orderRow(1, { merchantId }), orderRow(1, { merchantId })];
    await fresh.store.commit([writeOf(first)]);
    const [older, newer] = [newId('evt', t0), newId('evt', t0 + 1)];

    // Another instance's group commit: it wrote its event first and has not committed yet.
    let commitOther!: () => void;
    const otherCommitted = other.begin(async (tx) => {
      await tx`INSERT INTO merchant_events (id, merchant_id, order_id, type, data, created_at)
               VALUES (${older}, ${merchantId}, ${first.id}, 'payment.succeeded', ${{ id: first.id }}, ${t0})`;
      await new Promise<void>((resolve) => (commitOther = resolve));
    });
    while (!commitOther) await Bun.sleep(5);

    await fresh.store.commit([writeOf(second, { merchantEvents: [eventOf(merchantId, second.id, newer)] })]);
    const page = (await fresh.store.listMerchantEventsAfter(merchantId, null, 10))!;
    commitOther();
    await otherCommitted;

    const rest = (await fresh.store.listMerchantEventsAfter(merchantId, page.at(-1)?.id ?? null, 10))!;
    expect([...page, ...rest].map((e) => e.id).sort()).toEqual([older, newer]);
  });
});

describe("a merchant's events (postgres, another database's long transaction)", () => {
  let fresh: FreshStore;
  let elsewhere: SQL;
  beforeAll(async () => {
    fresh = await freshStore('postgres');
    elsewhere = new SQL({ url: postgresServerUrl(), max: 1 });
  });
  afterAll(async () => {
    await elsewhere?.close();
    await fresh?.dispose();
  });

  // Only this database's transactions can write its events: another application's long batch on
  // a shared server must not stop the list (the snapshot's own xmin is the whole cluster's).
  test("an event is listed while another database's write transaction runs", async () => {
    const merchantId = `M${unique()}`;
    const order = orderRow(1, { merchantId });
    const event = eventOf(merchantId, order.id, newId('evt', t0));
    let end!: () => void;
    const ended = elsewhere.begin(async (tx) => {
      await tx`SELECT pg_current_xact_id()`;
      await new Promise<void>((resolve) => (end = resolve));
    });
    while (!end) await Bun.sleep(5);
    try {
      await fresh.store.commit([writeOf(order, { merchantEvents: [event] })]);
      expect(await fresh.store.listMerchantEventsAfter(merchantId, null, 10)).toEqual([event]);
    } finally {
      end();
      await ended;
    }
  });
});

describe("a merchant's events (postgres, restored into another cluster)", () => {
  let fresh: FreshStore;
  beforeAll(async () => {
    fresh = await freshStore('postgres');
  });
  afterAll(() => fresh?.dispose());

  // pg_dump keeps each row's writer_xid, the old cluster's; the new cluster counts from far below
  // them. Such rows sorted after every new one and stayed above the horizon: the list stopped.
  test('rows written by transaction ids this cluster has not reached are put back in order at start', async () => {
    const merchantId = `M${unique()}`;
    const [first, second, third] = [orderRow(1, { merchantId }), orderRow(1, { merchantId }), orderRow(1, { merchantId })];
    const [a, b] = [newId('evt', t0), newId('evt', t0 + 1)];
    await fresh.store.commit([writeOf(first, { merchantEvents: [eventOf(merchantId, first.id, a)] })]);
    await fresh.store.commit([writeOf(second, { merchantEvents: [eventOf(merchantId, second.id, b)] })]);
    const sql = new SQL({ url: fresh.url, max: 1 });
    await sql`UPDATE merchant_events SET writer_xid = (pg_snapshot_xmax(pg_current_snapshot())::text::numeric + 1000000 + length(id))::text::xid8`;
    await sql.close();
    expect(await fresh.store.listMerchantEventsAfter(merchantId, null, 10)).toEqual([]);

    expect(await fresh.store.migrate()).toEqual([expect.stringContaining('merchant_events')]);
    const c = newId('evt', t0 + 2);
    await fresh.store.commit([writeOf(third, { merchantEvents: [eventOf(merchantId, third.id, c)] })]);
    expect((await fresh.store.listMerchantEventsAfter(merchantId, null, 10))!.map((e) => e.id)).toEqual([a, b, c]);
    expect((await fresh.store.listMerchantEventsAfter(merchantId, a, 10))!.map((e) => e.id)).toEqual([b, c]);
    expect(await fresh.store.migrate()).toEqual([]);
  });
});

describe('GET /v1/events with an `after` of no event of this merchant', () => {
  let booted: Booted;
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite');
  });
  afterAll(() => booted?.stop());

  test('is invalid_request naming `after`, not a silent empty page', async () => {
    const merchant = await MerchantClient.create(booted.url);
    const answer = await merchant.call('GET', `/v1/events?after=${newId('evt', t0)}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'invalid_request', field: 'after' });
    expect((await merchant.call('GET', '/v1/events')).status).toBe(200);
  });
});
