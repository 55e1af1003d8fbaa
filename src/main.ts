/**
 * The paycenter process.
 *   bun dev        (src/main.ts --dev): SQLite under data/, secrets generated once, no Redis needed.
 *   bun run start  production: everything from the environment; migrations applied; nothing seeded.
 */
import { ConfigError, type Config, default_port, devSecrets, loadConfig } from './config.ts';
import { join } from 'node:path';
import { seedDemoMerchant, seedRiskRules, seedSandboxChannels } from './dev/seed.ts';
import { type DemoShop, startDemoShop } from './dev/demo-shop.ts';
import { createSandbox } from './sandbox/sandbox.ts';
import { DatabaseNewerThanCodeError } from './store/migrations.ts';
import { startPaycenter } from './wiring.ts';

const dev = process.argv.includes('--dev');

/**
 * What stops a start that an operator can fix — a bad variable, a database newer than this code,
 * a port already taken (`portTaken` says which and what to do) — as the one line to print; null
 * for anything else, which is a bug and keeps its stack.
 */
function refusalOf(error: unknown, portTaken?: string): string | null {
  if (error instanceof ConfigError) return `configuration error: ${error.message}`;
  if (error instanceof DatabaseNewerThanCodeError) return error.message;
  if (portTaken && (error as NodeJS.ErrnoException | null)?.code === 'EADDRINUSE') return portTaken;
  return null;
}

/** Runs a start-up step; a refusal ends the process with its line and exit 2, before anything else runs. */
async function orRefuse<T>(step: () => T | Promise<T>, portTaken?: string): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const refusal = refusalOf(error, portTaken);
    if (refusal === null) throw error;
    console.error(`paycenter: ${refusal}`);
    process.exit(2);
  }
}

/** The demo shop's port: MERCHANT_PORT (empty is unset, as for every variable config.ts reads), else paycenter's + 1. */
function shopPortOf(config: Config): number {
  const port = Number(process.env.MERCHANT_PORT?.trim() || config.port + 1);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError('MERCHANT_PORT', 'must be a port number (0: any free port)');
  return port;
}

const config = await orRefuse(() => loadConfig(dev ? { ...process.env, ...devSecrets('data', process.env) } : process.env, dev ? 'dev' : 'production'));
// The sandbox keeps its issued keys and trades beside the database, so they outlive restarts.
const sandbox = config.sandbox
  ? createSandbox({ baseUrl: `${config.publicUrl}/sandbox`, ...(dev ? { statePath: join('data', 'sandbox.json') } : {}) })
  : null;
const paycenter = await orRefuse(
  () => startPaycenter(config, { mounts: sandbox ? [{ path: '/sandbox', app: sandbox.app }] : [] }),
  `PORT ${config.port} is in use: stop what holds it, or set another PORT`,
);
let shop: DemoShop | null = null;
paycenter.log.info('paycenter started', { url: config.publicUrl, store: config.database.kind, redis: config.redisUrls.length, mode: config.mode });
if (dev) {
  if (sandbox) await seedSandboxChannels(paycenter.store, sandbox.app, `${config.publicUrl}/sandbox`, config.secretKey, Date.now());
  const demo = await seedDemoMerchant(paycenter.merchants, 'data');
  await seedRiskRules(paycenter.risk.repo, paycenter.risk.center, Date.now());
  const shopPort = await orRefuse(() => shopPortOf(config));
  if (demo.secret) {
    const { secret } = demo;
    shop = await orRefuse(
      () => startDemoShop(paycenter.merchants, { publicUrl: config.publicUrl, host: config.host, port: shopPort, merchantId: demo.id, secret }),
      `MERCHANT_PORT ${shopPort} (the demo shop's) is in use: set MERCHANT_PORT=0 for any free port`,
    );
  }
  console.log([
    '',
    `  paycenter (dev) on ${config.publicUrl}   docs: ${config.publicUrl}/docs`,
    `  store: ${config.databaseUrl}   sandbox: ${sandbox ? `${config.publicUrl}/sandbox` : 'off'}`,
    `  admin token: ${config.adminToken}`,
    `  state chart: ${config.publicUrl}/admin/machines`,
    `  demo merchant: ${demo.id}   secret: ${demo.secret ?? '(not in data/demo-merchant.json; create another merchant with POST /admin/merchants)'}`,
    `  demo shop (the example merchant, receives the notifications): ${shop?.url ?? '(no demo merchant secret)'}`,
    // demo:order finds paycenter by PORT, as bun dev does: the command says the port when it is not the default.
    `  a demo order and its cashier URL: ${config.port === default_port ? '' : `PORT=${config.port} `}bun run demo:order`,
    '',
  ].join('\n'));
}

async function shutdown(signal: string): Promise<void> {
  paycenter.log.info('shutting down', { signal, backlog: paycenter.engine.backlog });
  await paycenter.stop();
  await sandbox?.stop();
  await shop?.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
