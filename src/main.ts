/**
 * Wires paycenter by hand from a validated config: store, lock, engine, HTTP.
 *   bun dev          (bun src/main.ts --dev): SQLite under data/, secrets generated once, no Redis needed.
 *   bun run start    production: everything from the environment; migrations applied; nothing seeded.
 */
import Redis from 'ioredis';
import { Engine } from '../actors/engine.ts';
import { ConfigError, type Config, devSecrets, loadConfig } from './config.ts';
import { createApp } from './http/app.ts';
import { LocalLock } from './lock/local.ts';
import type { Lock } from './lock/lock.ts';
import { RedlockLock } from './lock/redlock.ts';
import { createLogger } from './log.ts';
import { paymentView } from './payments/view.ts';
import { openStore } from './store/open.ts';
import { statusOf } from '../machines/payment.machine.ts';

const dev = process.argv.includes('--dev');

function configFromEnvironment(): Config {
  const env = dev ? { ...process.env, ...devSecrets('data', process.env) } : process.env;
  try {
    return loadConfig(env, dev ? 'dev' : 'production');
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`paycenter: configuration error: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
}

const config = configFromEnvironment();
const log = createLogger(config.logLevel);
const store = await openStore(config.databaseUrl);
await store.migrate();

const redisClients = config.redisUrls.map((url) => new Redis(url, { maxRetriesPerRequest: 2, protocol: 2 } as never));
const lock: Lock = redisClients.length > 0 ? new RedlockLock(redisClients) : new LocalLock();

const engine = new Engine(
  {
    store,
    lock,
    renderNotification: (ctx, snapshot) => paymentView(ctx, statusOf(snapshot.value), `${config.publicUrl}/cashier/${ctx.id}`),
  },
  {
    batchMax: config.engine.commitBatchMax,
    waitMaxMs: config.engine.commitWaitMaxMs,
    inFlightMax: config.database.kind === 'sqlite' ? 1 : 4,
    lockTtlMs: config.engine.lockTtlMs,
    mailboxDepthMax: config.engine.mailboxDepthMax,
    versionRetriesMax: 10,
    recentOrdersMax: 50_000,
  },
);

const app = createApp({
  store,
  log,
  readiness: redisClients.map((client, i) => ({ name: `redis${i}`, check: async () => void (await client.ping()) })),
});
const server = Bun.serve({ port: config.port, fetch: app.fetch });
log.info('paycenter started', { url: config.publicUrl, port: server.port, store: config.database.kind, redis: redisClients.length, mode: config.mode });
if (dev) {
  console.log(`\n  paycenter (dev) on ${config.publicUrl}\n  store: ${config.databaseUrl}\n  admin token: ${config.adminToken}\n`);
}

async function shutdown(signal: string): Promise<void> {
  log.info('shutting down', { signal, backlog: engine.backlog });
  await server.stop();
  await lock.close();
  await store.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
