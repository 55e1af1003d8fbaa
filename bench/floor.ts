/**
 * bun run bench floor — how far a signed, durable create can go on this stack, against paycenter's.
 *
 * Issue #19 asks signed creates for a fifth of the bare route's rate. This bench measures what the
 * stack itself allows: bench/floor/server.ts is the least a create can be on Hono, valibot, the
 * payment machine's XState transition and a grouped `synchronous = FULL` SQLite commit — the
 * signature, the schema, the first snapshot, four rows (order, journal, timer, nonce) and the
 * answer, nothing else. In one run, taking turns (this machine's speed drifts by a fifth within a
 * minute), autocannon in this process drives at 64 connections for BENCH_SECONDS (10) each: the
 * floor server's bare route; its creates; its creates answered without being written; paycenter's
 * creates (SQLite, no risk rules); paycenter's own /healthz (the denominator of `bench http`).
 * BENCH_PROFILE=1 profiles both servers and keeps the profiles.
 *
 * RESULT floor: bare_per_s (the floor server's bare route), floor_ratio and floor_unwritten_ratio
 * (its creates over its bare route), paycenter_ratio (paycenter's creates over the same bare
 * route), paycenter_hello_ratio (over paycenter's /healthz, as `bench http` counts it),
 * paycenter_to_floor (paycenter's creates over the floor's), each server's CPU per create (µs, all
 * threads) and floor_ratio_ceiling (the ratio the floor's CPU per create would allow with both
 * cores busy, as `bench http`'s hello_ratio_ceiling).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type LoadOutcome, type Server, type Turns, costUs, createMerchant, noTurns, perSecond, profiling, ratioCeiling, run, runCreates, startPaycenter, startServer, turn } from './http-load.ts';
import { runConfigurations } from './configurations.ts';

const duration_s = Number(process.env.BENCH_SECONDS ?? 10);
const turns = 3;
const turn_s = duration_s / turns;
const floor_merchant = { id: 'M_FLOOR', secret: 'floor-secret-0123456789abcdef0123456789' };

const dir = join(import.meta.dir, '..', '.test-tmp', `bench-floor-${process.pid}`);
const profiles = profiling(dir, 'floor');

function startFloor(): Promise<Server> {
  return startServer(['bun', ...profiles.flags('floor'), join(import.meta.dir, 'floor', 'server.ts')], {
    FLOOR_DATABASE: join(dir, 'floor.db'), FLOOR_MERCHANT_ID: floor_merchant.id, FLOOR_MERCHANT_SECRET: floor_merchant.secret,
  });
}

type Load = { name: string; server: Server; work: (seconds: number, round: number) => Promise<LoadOutcome>; sum: Turns };
const loadOf = (name: string, server: Server, work: Load['work']): Load => ({ name, server, work, sum: noTurns() });

async function measure(): Promise<string> {
  const floor = await startFloor();
  const paycenter = await startPaycenter(`sqlite:${join(dir, 'paycenter.db')}`, null, profiles.flags('paycenter')).catch(async (error) => { await floor.stop(); throw error; });
  try {
    const merchant = await createMerchant(paycenter.url);
    const bare = loadOf('bare route', floor, (seconds) => run({ url: `${floor.url}/healthz`, duration: seconds }));
    const floorCreates = loadOf('floor creates', floor, (seconds, round) => runCreates(floor.url, floor_merchant, `floor${round}`, seconds));
    const unwritten = loadOf('floor creates unwritten', floor, (seconds, round) => runCreates(floor.url, floor_merchant, `unwritten${round}`, seconds, '/v1/payments/unwritten'));
    const paycenterCreates = loadOf('paycenter creates', paycenter, (seconds, round) => runCreates(paycenter.url, merchant, `paycenter${round}`, seconds));
    const paycenterHello = loadOf('paycenter /healthz', paycenter, (seconds) => run({ url: `${paycenter.url}/healthz`, duration: seconds }));
    const loads = [bare, floorCreates, unwritten, paycenterCreates, paycenterHello];
    for (let t = 0; t < turns; t++) for (const { server, work, sum } of loads) await turn(server, [], sum, turn_s, (seconds) => work(seconds, t));
    for (const { name, sum } of loads) {
      if (sum.non2xx + sum.errors > 0) throw new Error(`${name}: ${sum.non2xx} non-2xx answers and ${sum.errors} errors`);
      const spent = costUs(sum);
      console.log(`${name} ${perSecond(sum).toFixed(0)}/s p99 ${sum.p99Ms} ms · server CPU ${spent.server.toFixed(0)} µs (main thread ${spent.main.toFixed(0)}, SQLite writer ${spent.writer.toFixed(0)}), client ${spent.client.toFixed(0)}`);
    }
    const bareRate = perSecond(bare.sum);
    const rate = (load: Load) => perSecond(load.sum);
    const ratio = (load: Load, over = bareRate) => (rate(load) / over).toFixed(3);
    const cost = (load: Load) => costUs(load.sum);
    return `RESULT floor bare_per_s=${bareRate.toFixed(0)} floor_ratio=${ratio(floorCreates)} floor_unwritten_ratio=${ratio(unwritten)}`
      + ` paycenter_ratio=${ratio(paycenterCreates)} paycenter_hello_ratio=${ratio(paycenterCreates, rate(paycenterHello))}`
      + ` paycenter_to_floor=${ratio(paycenterCreates, rate(floorCreates))}`
      + ` floor_server_us_per_create=${cost(floorCreates).server.toFixed(0)} paycenter_server_us_per_create=${cost(paycenterCreates).server.toFixed(0)}`
      + ` floor_ratio_ceiling=${ratioCeiling(cost(floorCreates), bareRate).toFixed(3)}`;
  } finally {
    await paycenter.stop();
    await floor.stop();
  }
}

mkdirSync(dir, { recursive: true });
let code: number;
try {
  code = await runConfigurations('floor', [{ name: 'store=sqlite', needs: [], run: measure }]);
} finally {
  profiles.finish();
}
process.exit(code);
